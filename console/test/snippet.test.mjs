// The install snippet a new website key is shown with is the README's, with the key and host.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";

import { installSnippet } from "../src/snippet.js";

test("the snippet is the README's loader stub, filled in", () => {
  const readme = readFileSync(new URL("../../README.md", import.meta.url), "utf8");
  const stub = readme.match(/```html\n(<script>\n!function\(w,d,u\)[\s\S]*?<\/script>)\n```/)[1];
  assert.equal(installSnippet("YOUR-WRITE-KEY", "https://YOUR-CDP-API"), stub);
  const mine = installSnippet("wk_abc", "https://cdp.shop.example");
  assert.match(mine, /cdp\.load\("wk_abc",\{host:"https:\/\/cdp\.shop\.example"\}\)/);
  assert.match(mine, /\(window,document,"https:\/\/cdp\.shop\.example"\);/);
});

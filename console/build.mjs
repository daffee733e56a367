// Builds the console page's one script (console/src/main.js and what it imports, an ES module)
// and one stylesheet (console/src/app.css) with esbuild, and writes them where the console
// function serves them from (the domain package, deployed in the Lambda layer) under
// content-hash names: layers/cdp/static/console/app.<10 hex of SHA-256>.js and .css, then
// manifest.json naming them, last. Older builds there are removed. Prints each file's size
// minified and gzipped (and writes them to console/dist/sizes.json for the benchmark); fails
// when the script is over its budget.
import { build } from "esbuild";
import { createHash } from "node:crypto";
import { mkdirSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { gzipSync } from "node:zlib";

const here = dirname(fileURLToPath(import.meta.url));
const served = join(here, "..", "layers", "cdp", "static", "console");
const dist = join(here, "dist");
const BUDGET = { script: 12 * 1024, style: 4 * 1024 }; // gzipped bytes

const common = {
  bundle: true,
  minify: true,
  write: false,
  legalComments: "none",
  logLevel: "warning",
};
const [script, style] = await Promise.all([
  build({
    ...common,
    entryPoints: [join(here, "src", "main.js")],
    format: "esm",
    target: ["es2020"],
    outfile: "app.js",
  }),
  build({
    ...common,
    entryPoints: [join(here, "src", "app.css")],
    target: ["chrome100", "firefox100", "safari15"],
    outfile: "app.css",
  }),
]);
const only = (result) => {
  if (result.outputFiles.length !== 1) throw new Error("expected one output file");
  return Buffer.from(result.outputFiles[0].contents);
};
const files = { script: only(script), style: only(style) };
const named = (data, suffix) =>
  `app.${createHash("sha256").update(data).digest("hex").slice(0, 10)}.${suffix}`;

mkdirSync(served, { recursive: true });
const manifest = { script: named(files.script, "js"), style: named(files.style, "css") };
writeFileSync(join(served, manifest.script), files.script);
writeFileSync(join(served, manifest.style), files.style);
writeFileSync(join(served, "manifest.json"), JSON.stringify(manifest) + "\n");
const current = new Set(Object.values(manifest));
for (const name of readdirSync(served)) {
  if (/^app\.[0-9a-f]{10}\.(js|css)$/.test(name) && !current.has(name)) rmSync(join(served, name));
}

const sizes = {};
for (const [kind, data] of Object.entries(files)) {
  sizes[kind] = {
    file: manifest[kind],
    minified: data.length,
    gzipped: gzipSync(data, { level: 9 }).length,
    budget: BUDGET[kind],
  };
  console.log(
    `console ${kind} ${manifest[kind]}: ${data.length} bytes minified, ${sizes[kind].gzipped} gzipped (budget ${BUDGET[kind]})`,
  );
}
mkdirSync(dist, { recursive: true });
writeFileSync(join(dist, "sizes.json"), JSON.stringify(sizes, null, 2) + "\n");
const over = Object.entries(sizes)
  .filter(([, size]) => size.gzipped > size.budget)
  .map(([kind]) => kind);
if (over.length) {
  console.error(`over budget: ${over.join(", ")}`);
  process.exit(1);
}

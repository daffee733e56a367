// The sign-in's pure parts: the PKCE challenge and where a sign-in may return to.
import assert from "node:assert/strict";
import { test } from "node:test";

import { challengeOf, safeTarget } from "../src/auth.js";
import { encodeIdentity, profilePath } from "../src/format.js";

test("the S256 challenge of RFC 7636's example verifier", async () => {
  assert.equal(
    await challengeOf("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"),
    "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
  );
});

test("a sign-in returns only to a page of the console", () => {
  assert.equal(
    safeTarget("/console/profiles?q=ada%40example.com"),
    "/console/profiles?q=ada%40example.com",
  );
  assert.equal(safeTarget("/console"), "/console");
  for (const elsewhere of [
    "https://evil.example/console",
    "//evil.example/console",
    "/consoles",
    "/console/callback?code=x",
    null,
  ]) {
    assert.equal(safeTarget(elsewhere), "/console/profiles", String(elsewhere));
  }
});

test("a profile's path reads well and keeps what a path cannot hold encoded", () => {
  assert.equal(profilePath("email", "ada@example.com"), "/console/profiles/email:ada@example.com");
  assert.equal(encodeIdentity("user_id:a/b?c#d e"), "user_id:a%2Fb%3Fc%23d%20e");
});

// Builds snippet/dist/cdp.js (the tracker, one minified file), cdp-forms.js (the forms
// helpers, loaded by the tracker on first use) and the loader stub; prints their sizes
// (minified, gzipped and brotli), fails when over budget, and writes the files to where the
// API serves them from (the domain package, deployed in the Lambda layer): each file with
// precompressed copies (`.gz`, gzip level 9; `.br`, brotli at its best quality) and
// `manifest.json`, which names each file's content-hash version (`cdp.<hash>.js`, served
// as immutable at /v1/static/) with its digest and sizes. The manifest is written last.
import { build } from "esbuild";
import { createHash } from "node:crypto";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { brotliCompressSync, constants, gzipSync } from "node:zlib";

const here = dirname(fileURLToPath(import.meta.url));
const dist = join(here, "dist");
const served = join(here, "..", "layers", "cdp", "static");
const BUDGET = { library: 3 * 1024, stub: 600 }; // gzipped bytes; stub bytes as pasted

const gzip = (data) => gzipSync(data, { level: 9 });
const brotli = (data) =>
  brotliCompressSync(data, {
    params: {
      [constants.BROTLI_PARAM_QUALITY]: constants.BROTLI_MAX_QUALITY,
      [constants.BROTLI_PARAM_MODE]: constants.BROTLI_MODE_TEXT,
      [constants.BROTLI_PARAM_SIZE_HINT]: data.length,
    },
  });
const sha256 = (data) => createHash("sha256").update(data).digest("hex");
// cdp.js -> cdp.<first 10 hex digits of its SHA-256>.js
const versioned = (name, data) => name.replace(/\.js$/, `.${sha256(data).slice(0, 10)}.js`);

mkdirSync(dist, { recursive: true });
const common = { bundle: true, minify: true, target: ["es2020"], legalComments: "none" };
// The forms helpers first: the tracker imports them at their versioned path.
await build({
  ...common,
  entryPoints: [join(here, "src", "forms.js")],
  outfile: join(dist, "cdp-forms.js"),
  format: "esm",
});
const forms = readFileSync(join(dist, "cdp-forms.js"));
await build({
  ...common,
  entryPoints: [join(here, "src", "main.js")],
  outfile: join(dist, "cdp.js"),
  format: "iife",
  define: { CDP_FORMS: JSON.stringify(`/v1/static/${versioned("cdp-forms.js", forms)}`) },
});
const library = readFileSync(join(dist, "cdp.js"));
const stub = readFileSync(join(here, "stub.html"), "utf8").trim();
writeFileSync(join(dist, "stub.html"), stub + "\n");

mkdirSync(served, { recursive: true });
const manifest = {};
for (const [name, data] of [["cdp.js", library], ["cdp-forms.js", forms]]) {
  const encoded = { gzip: gzip(data), br: brotli(data) };
  writeFileSync(join(served, name), data);
  writeFileSync(join(served, `${name}.gz`), encoded.gzip);
  writeFileSync(join(served, `${name}.br`), encoded.br);
  manifest[name] = {
    versioned: versioned(name, data),
    sha256: sha256(data),
    bytes: { identity: data.length, gzip: encoded.gzip.length, br: encoded.br.length },
  };
}
writeFileSync(join(served, "manifest.json"), JSON.stringify(manifest, null, 2) + "\n");

const report = {
  library: { minified: library.length, gzipped: manifest["cdp.js"].bytes.gzip,
             brotli: manifest["cdp.js"].bytes.br, budget: BUDGET.library },
  stub: { bytes: stub.length, gzipped: gzip(Buffer.from(stub)).length, budget: BUDGET.stub },
  forms: { minified: forms.length, gzipped: manifest["cdp-forms.js"].bytes.gzip,
           brotli: manifest["cdp-forms.js"].bytes.br },
};
writeFileSync(join(dist, "sizes.json"), JSON.stringify(report, null, 2) + "\n");
console.log(
  `cdp.js (${manifest["cdp.js"].versioned}): ${report.library.minified} bytes minified, ` +
    `${report.library.gzipped} gzipped (budget ${BUDGET.library}), ${report.library.brotli} brotli`,
);
console.log(`loader stub: ${report.stub.bytes} bytes (budget ${BUDGET.stub}), ${report.stub.gzipped} gzipped`);
console.log(
  `cdp-forms.js (${manifest["cdp-forms.js"].versioned}), loaded on first use: ` +
    `${report.forms.minified} bytes minified, ${report.forms.gzipped} gzipped, ` +
    `${report.forms.brotli} brotli`,
);
const over = [];
if (report.library.gzipped > BUDGET.library) over.push("cdp.js");
if (report.stub.bytes > BUDGET.stub) over.push("loader stub");
if (over.length) {
  console.error(`over budget: ${over.join(", ")}`);
  process.exit(1);
}

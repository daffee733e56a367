// Builds snippet/dist/cdp.js (the tracker, one minified file), cdp-forms.js (the forms
// helpers, loaded by the tracker on first use) and the loader stub; prints their sizes
// (minified and gzipped), fails when over budget, and copies the files to where the API
// serves them from (the domain package, deployed in the Lambda layer).
import { build } from "esbuild";
import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { gzipSync } from "node:zlib";

const here = dirname(fileURLToPath(import.meta.url));
const dist = join(here, "dist");
const served = join(here, "..", "layers", "cdp", "static");
const BUDGET = { library: 3 * 1024, stub: 600 }; // gzipped bytes; stub bytes as pasted

mkdirSync(dist, { recursive: true });
const common = { bundle: true, minify: true, target: ["es2020"], legalComments: "none" };
await build({
  ...common,
  entryPoints: [join(here, "src", "main.js")],
  outfile: join(dist, "cdp.js"),
  format: "iife",
});
await build({
  ...common,
  entryPoints: [join(here, "src", "forms.js")],
  outfile: join(dist, "cdp-forms.js"),
  format: "esm",
});
const stub = readFileSync(join(here, "stub.html"), "utf8").trim();
writeFileSync(join(dist, "stub.html"), stub + "\n");
mkdirSync(served, { recursive: true });
for (const file of ["cdp.js", "cdp-forms.js"]) copyFileSync(join(dist, file), join(served, file));

const gzipped = (data) => gzipSync(data, { level: 9 }).length;
const library = readFileSync(join(dist, "cdp.js"));
const forms = readFileSync(join(dist, "cdp-forms.js"));
const report = {
  library: { minified: library.length, gzipped: gzipped(library), budget: BUDGET.library },
  stub: { bytes: stub.length, gzipped: gzipped(Buffer.from(stub)), budget: BUDGET.stub },
  forms: { minified: forms.length, gzipped: gzipped(forms) },
};
writeFileSync(join(dist, "sizes.json"), JSON.stringify(report, null, 2) + "\n");
console.log(
  `cdp.js: ${report.library.minified} bytes minified, ${report.library.gzipped} gzipped ` +
    `(budget ${BUDGET.library})`,
);
console.log(`loader stub: ${report.stub.bytes} bytes (budget ${BUDGET.stub}), ${report.stub.gzipped} gzipped`);
console.log(
  `cdp-forms.js, loaded on first use: ${report.forms.minified} bytes minified, ` +
    `${report.forms.gzipped} gzipped`,
);
const over = [];
if (report.library.gzipped > BUDGET.library) over.push("cdp.js");
if (report.stub.bytes > BUDGET.stub) over.push("loader stub");
if (over.length) {
  console.error(`over budget: ${over.join(", ")}`);
  process.exit(1);
}

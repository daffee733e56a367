// Builds the console page's script (console/src/main.js and what it imports, an ES module;
// the views that not every visit needs, such as segments and sources, are split into chunks
// it imports when they are opened) and one stylesheet (console/src/app.css) with esbuild, and
// writes them where the console function serves them from (the domain package, deployed in
// the Lambda layer) under content-hash names: layers/cdp/static/console/app.<hash>.js, .css
// and app-chunk.<hash>.js, then manifest.json naming them, last. Older builds there are
// removed. Prints each file's size minified and gzipped (and writes them to
// console/dist/sizes.json for the benchmark); fails when the script (what every visit loads)
// or a chunk is over its budget.
import { build } from "esbuild";
import { createHash } from "node:crypto";
import { mkdirSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { gzipSync } from "node:zlib";

const here = dirname(fileURLToPath(import.meta.url));
const served = join(here, "..", "layers", "cdp", "static", "console");
const dist = join(here, "dist");
const BUDGET = { script: 12 * 1024, style: 4 * 1024, chunk: 8 * 1024 }; // gzipped bytes

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
    splitting: true,
    target: ["es2020"],
    outdir: served,
    entryNames: "app.[hash]",
    chunkNames: "app-chunk.[hash]",
    metafile: true,
  }),
  build({
    ...common,
    entryPoints: [join(here, "src", "app.css")],
    target: ["chrome100", "firefox100", "safari15"],
    outfile: "app.css",
  }),
]);
if (style.outputFiles.length !== 1) throw new Error("expected one stylesheet");
const styleData = Buffer.from(style.outputFiles[0].contents);
const styleName = `app.${createHash("sha256").update(styleData).digest("hex").slice(0, 10)}.css`;
// The script and its chunks keep esbuild's content-hash names: the script imports the chunks
// by them.
const scripts = script.outputFiles.map((file) => [basename(file.path), Buffer.from(file.contents)]);
const entry = scripts.find(([name]) => name.startsWith("app."));
const chunks = scripts.filter(([name]) => name.startsWith("app-chunk."));
// The chunks the script imports statically (shared with the views in chunks): every visit
// loads them, so the page names them for the browser to fetch with the script
// (<link rel="modulepreload">), and they count in the script's budget.
const outputs = Object.fromEntries(
  Object.entries(script.metafile.outputs).map(([path, output]) => [basename(path), output]),
);
const preload = [];
const walk = (name) => {
  for (const imported of outputs[name].imports) {
    const chunk = basename(imported.path);
    if (imported.kind === "import-statement" && !preload.includes(chunk)) {
      preload.push(chunk);
      walk(chunk);
    }
  }
};
walk(entry[0]);

mkdirSync(served, { recursive: true });
const manifest = {
  script: entry[0],
  style: styleName,
  preload,
  chunks: chunks.map(([name]) => name),
};
for (const [name, data] of [...scripts, [styleName, styleData]]) writeFileSync(join(served, name), data);
writeFileSync(join(served, "manifest.json"), JSON.stringify(manifest) + "\n");
const current = new Set([manifest.script, manifest.style, ...manifest.chunks]);
for (const name of readdirSync(served)) {
  if (/^app(-chunk)?\.[0-9A-Za-z]+\.(js|css)$/.test(name) && !current.has(name))
    rmSync(join(served, name));
}

const sizes = {};
const measure = (kind, file, data) => {
  const size = {
    file,
    minified: data.length,
    gzipped: gzipSync(data, { level: 9 }).length,
    budget: BUDGET[kind],
  };
  console.log(
    `console ${kind} ${file}: ${data.length} bytes minified, ${size.gzipped} gzipped (budget ${BUDGET[kind]})`,
  );
  return size;
};
sizes.script = measure("script", entry[0], entry[1]);
sizes.style = measure("style", styleName, styleData);
sizes.chunks = chunks.map(([name, data]) => measure("chunk", name, data));
// What every visit loads: the script with the chunks it imports statically, each gzipped.
sizes.first_load = {
  file: [entry[0], ...preload].join(" "),
  gzipped: [sizes.script, ...sizes.chunks.filter((size) => preload.includes(size.file))]
    .map((size) => size.gzipped)
    .reduce((sum, size) => sum + size, 0),
  budget: BUDGET.script,
};
console.log(
  `console first load (the script and ${preload.length} chunks): ${sizes.first_load.gzipped} gzipped (budget ${BUDGET.script})`,
);
mkdirSync(dist, { recursive: true });
writeFileSync(join(dist, "sizes.json"), JSON.stringify(sizes, null, 2) + "\n");
const over = [sizes.first_load, sizes.style, ...sizes.chunks]
  .filter((size) => size.gzipped > size.budget)
  .map((size) => size.file);
if (over.length) {
  console.error(`over budget: ${over.join(", ")}`);
  process.exit(1);
}

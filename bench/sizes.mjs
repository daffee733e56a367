// Sizes of browser trackers as a page downloads them: each file minified by esbuild (the
// files some packages ship are not minified; minifying all of them the same way keeps the
// comparison fair) and gzipped at level 9. Reads a JSON list of {name, package, file} on
// stdin (`file` relative to the installed package, or `path` for a file of our own); run from
// the repository's root; prints JSON.
import { transform } from "esbuild";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { gzipSync } from "node:zlib";

const wanted = JSON.parse(readFileSync(0, "utf8"));
const sizes = {};
for (const entry of wanted) {
  let path = entry.path;
  let version = null;
  if (entry.package) {
    const root = join("node_modules", entry.package);
    version = JSON.parse(readFileSync(join(root, "package.json"), "utf8")).version;
    path = join(root, entry.file);
  }
  const source = readFileSync(path, "utf8");
  const minified = (await transform(source, { minify: true, legalComments: "none" })).code;
  sizes[entry.name] = {
    package: entry.package ?? null,
    version,
    file: entry.file ?? entry.path,
    bytes: Buffer.byteLength(source),
    minified: Buffer.byteLength(minified),
    gzipped: gzipSync(minified, { level: 9 }).length,
    shipped_gzipped: gzipSync(source, { level: 9 }).length,
  };
}
console.log(JSON.stringify(sizes));

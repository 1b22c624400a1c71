// Structure measures for issue 16: production lines under src/translate (each file up to its
// first top-level `#[cfg(test)]`), and `duplicates` over src/ with test code left out (test
// modules cut, src/properties and src/module_graph.rs dropped). Run: node tests/bench/structure.mjs
import { execFileSync } from "node:child_process";
import { cpSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";

const root = path.resolve(import.meta.dirname, "../..");
const src = path.join(root, "src");

function rsFiles(dir) {
  return readdirSync(dir).flatMap((name) => {
    const p = path.join(dir, name);
    return statSync(p).isDirectory() ? rsFiles(p) : p.endsWith(".rs") ? [p] : [];
  });
}

/** The file's text above its first top-level `#[cfg(test)]`. */
function production(file) {
  const lines = readFileSync(file, "utf8").split("\n");
  const cut = lines.findIndex((l) => l.startsWith("#[cfg(test)]"));
  return (cut < 0 ? lines.slice(0, lines.at(-1) === "" ? -1 : undefined) : lines.slice(0, cut));
}

const translate = rsFiles(path.join(src, "translate")).sort();
let total = 0;
for (const f of translate) {
  const n = production(f).length;
  total += n;
  console.log(`${String(n).padStart(6)}  ${path.relative(root, f)}`);
}
console.log(`${String(total).padStart(6)}  production lines under src/translate`);

const tmp = mkdtempSync(path.join(tmpdir(), "cgw-structure-"));
try {
  const out = path.join(tmp, "src");
  cpSync(src, out, { recursive: true });
  rmSync(path.join(out, "properties"), { recursive: true, force: true });
  rmSync(path.join(out, "module_graph.rs"), { force: true });
  for (const f of rsFiles(out)) writeFileSync(f, production(f).join("\n") + "\n");
  let report;
  try {
    report = execFileSync("duplicates", ["--most", "200", "--seconds", "120"], { cwd: out, encoding: "utf8" });
  } catch (e) {
    console.log(`duplicates: not run (${e.code ?? e.message})`);
    process.exit(0);
  }
  const rows = report.split("\n").filter((l) => /^D\d+ /.test(l));
  const logic = rows.filter((l) => !l.includes("boilerplate"));
  console.log(report.split("\n")[0]);
  console.log(`${rows.length} pairs without test code, ${logic.length} not boilerplate:`);
  for (const l of logic) console.log(`  ${l}`);
} finally {
  rmSync(tmp, { recursive: true, force: true });
}

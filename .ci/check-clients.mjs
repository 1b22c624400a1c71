// `npm run check-clients`: do the newest releases of the agents and SDKs still work through
// the gateway? Installs them into a scratch directory (package.json and the lockfile are
// not touched), runs the client end-to-end cases (tests/e2e/clients.test.mjs) against
// them, and prints which release passed or failed.
//
//   npm run check-clients                  # newest releases from the registry
//   npm run check-clients -- opencode-ai@1.18.30   # a chosen release (or tag) of a package
//
// The scratch directory is node_modules/.cache/check-clients (kept between runs, so a
// second check of the same releases installs nothing).
import { execFileSync } from "node:child_process";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { run } from "node:test";

const root = path.resolve(import.meta.dirname, "..");
const scratch = path.join(root, "node_modules/.cache/check-clients");

/** The packages a client case runs, by client. */
const CLIENTS = {
  "Claude Code": ["@anthropic-ai/claude-code"],
  Codex: ["@openai/codex"],
  opencode: ["opencode-ai"],
  "Gemini CLI": ["@google/gemini-cli"],
  "AI SDK": ["ai", "@ai-sdk/anthropic", "@ai-sdk/openai"],
};

const pinned = JSON.parse(readFileSync(path.join(root, "package.json"), "utf8")).devDependencies;
const asked = Object.fromEntries(
  process.argv.slice(2).map((a) => {
    const at = a.lastIndexOf("@");
    return at > 0 ? [a.slice(0, at), a.slice(at + 1)] : [a, "latest"];
  }),
);

const npm = (args, opts = {}) => execFileSync("npm", args, { encoding: "utf8", stdio: ["ignore", "pipe", "inherit"], ...opts }).trim();

const wanted = {};
for (const pkg of Object.values(CLIENTS).flat()) {
  const spec = asked[pkg] ?? "latest";
  // `npm view` resolves a tag or range to the release it names (the last one listed).
  const out = npm(["view", `${pkg}@${spec}`, "version", "--json"]);
  const v = JSON.parse(out);
  wanted[pkg] = Array.isArray(v) ? v.at(-1) : v;
}

mkdirSync(scratch, { recursive: true });
writeFileSync(
  path.join(scratch, "package.json"),
  JSON.stringify({ name: "check-clients", private: true, type: "module", dependencies: wanted }, null, 2) + "\n",
);
console.log(`== installing into ${path.relative(root, scratch)}: ${Object.entries(wanted).map(([p, v]) => `${p}@${v}`).join(" ")}`);
execFileSync("npm", ["install", "--no-audit", "--no-fund", "--loglevel=error"], { cwd: scratch, stdio: "inherit" });

console.log("== client end-to-end cases (tests/e2e/clients.test.mjs) against them");
process.env.CGW_CLIENTS_DIR = scratch;
process.env.SKIP_WORKER_BUILD ??= "1";
process.env.WRANGLER_SEND_METRICS = "false";
process.env.CLOUDFLARE_CF_FETCH_ENABLED = "false";

const clientOf = (name) =>
  /opencode/i.test(name) ? "opencode" : /Gemini CLI/.test(name) ? "Gemini CLI" : /AI SDK/.test(name) ? "AI SDK" : /Claude Code/.test(name) ? "Claude Code" : /Codex/.test(name) ? "Codex" : null;
const results = Object.fromEntries(Object.keys(CLIENTS).map((c) => [c, { passed: [], failed: [] }]));
const stack = [];
const stream = run({ files: [path.join(root, "tests/e2e/clients.test.mjs")], concurrency: 1 });
for await (const ev of stream) {
  const d = ev.data;
  if (ev.type === "test:start") stack[d.nesting] = d.name;
  if ((ev.type !== "test:pass" && ev.type !== "test:fail") || d.details?.type === "suite" || d.nesting === 0 && d.name === d.file) continue;
  const full = [...stack.slice(0, d.nesting), d.name].join(" › ");
  const client = clientOf(full);
  if (ev.type === "test:fail") {
    const err = d.details?.error;
    const why = String(err?.cause?.message ?? err?.message ?? err).split("\n").slice(0, 12).join("\n    ");
    console.log(`  ✗ ${full}\n    ${why}`);
  } else {
    console.log(`  ✓ ${full}`);
  }
  if (client) results[client][ev.type === "test:pass" ? "passed" : "failed"].push(full);
  else if (ev.type === "test:fail") (results.other ??= { passed: [], failed: [] }).failed.push(full);
}

console.log("\n== releases");
let bad = false;
for (const [client, pkgs] of Object.entries(CLIENTS)) {
  const r = results[client];
  const verdict = r.failed.length ? "FAILED" : r.passed.length ? "passed" : "not run";
  if (verdict !== "passed") bad = true;
  const versions = pkgs.map((p) => `${p} ${wanted[p]}${pinned[p] && pinned[p] !== wanted[p] ? ` (pinned ${pinned[p]})` : ""}`).join(", ");
  console.log(`${verdict.padEnd(7)} ${client}: ${versions} — ${r.passed.length} passed, ${r.failed.length} failed`);
}
if (results.other?.failed.length) {
  bad = true;
  console.log(`FAILED  (the suite itself): ${results.other.failed.join("; ")}`);
}
process.exit(bad ? 1 : 0);

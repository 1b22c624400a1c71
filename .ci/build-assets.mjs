// Bundles the admin app (assets/src → assets/dist) with the esbuild that wrangler installs.
// Run by `npm run dev`, `npm test` and `npm run deploy`; does nothing when assets/dist is
// newer than every source (and the lockfile). `--watch` rebuilds on change (used by
// `npm run dev`) and exits when its parent process goes away.
import { existsSync, mkdirSync, readdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import path from "node:path";
import * as esbuild from "esbuild";

const root = path.resolve(import.meta.dirname, "..");
const src = path.join(root, "assets/src");
const out = path.join(root, "assets/dist");
const stamp = path.join(out, ".built");
const watch = process.argv.includes("--watch");

function newestMtime(p) {
  const st = statSync(p);
  if (!st.isDirectory()) return st.mtimeMs;
  return Math.max(st.mtimeMs, ...readdirSync(p).map((f) => newestMtime(path.join(p, f))));
}

function upToDate() {
  if (!existsSync(stamp)) return false;
  const built = statSync(stamp).mtimeMs;
  const inputs = [src, path.join(root, "package-lock.json"), import.meta.filename];
  return inputs.every((p) => newestMtime(p) <= built);
}

const options = {
  absWorkingDir: root,
  entryPoints: { app: "assets/src/main.js" },
  outdir: out,
  bundle: true,
  splitting: true, // the charting library is loaded only by the Usage page
  format: "esm",
  chunkNames: "chunk-[hash]",
  minify: true,
  target: ["es2020", "chrome100", "firefox100", "safari15"],
  legalComments: "none",
  metafile: true,
  logLevel: "warning",
  external: ["/favicon.svg"], // served from assets/ as is
};

function report(metafile) {
  const rows = Object.entries(metafile.outputs).map(([f, o]) => `${path.basename(f)} ${(o.bytes / 1024).toFixed(1)} KiB`);
  console.log(`assets: built ${rows.join(", ")}`);
}

if (watch) {
  // The parent is `wrangler dev` (the dev script execs into it); stop when it is gone.
  const parent = process.ppid;
  setInterval(() => {
    try { process.kill(parent, 0); } catch { process.exit(0); }
  }, 1000).unref();
  const ctx = await esbuild.context({
    ...options,
    plugins: [{
      name: "report",
      setup(b) {
        b.onEnd((r) => { if (r.metafile) report(r.metafile); });
      },
    }],
  });
  await ctx.watch();
  await new Promise(() => {});
} else if (upToDate()) {
  // nothing changed
} else {
  rmSync(out, { recursive: true, force: true });
  mkdirSync(out, { recursive: true });
  const result = await esbuild.build(options);
  report(result.metafile);
  writeFileSync(stamp, new Date().toISOString() + "\n");
}

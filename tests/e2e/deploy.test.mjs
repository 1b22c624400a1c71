// A fresh deployment: the committed wrangler.toml deploys as it is (no ids to paste; a
// dry run builds and bundles it under the plan's limit), and before the deployer finished
// the setup every API says what is missing, in its own format.
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { startGateway, ADMIN_KEY } from "./harness.mjs";

const root = path.resolve(import.meta.dirname, "../..");
// Workers Free allows 3 MB of gzip-compressed Worker per script (Paid: 10 MB).
const FREE_PLAN_GZIP_KIB = 3 * 1024;

test("`wrangler deploy --dry-run` with the committed wrangler.toml: no placeholder ids, bundle under the free plan's limit", () => {
  const toml = readFileSync(path.join(root, "wrangler.toml"), "utf8");
  assert.doesNotMatch(toml, /^\s*(database_)?id\s*=/m, "no resource ids to paste: wrangler provisions them");
  const out = mkdtempSync(path.join(tmpdir(), "cgw-dry-"));
  try {
    const text = execFileSync(path.join(root, "node_modules/.bin/wrangler"), ["deploy", "--dry-run", "--outdir", out], {
      cwd: root,
      env: { ...process.env, WRANGLER_SEND_METRICS: "false", SKIP_WORKER_BUILD: "1", CI: "1" },
      stdio: "pipe",
    }).toString();
    const size = /Total Upload: ([\d.]+) KiB \/ gzip: ([\d.]+) KiB/.exec(text);
    assert.ok(size, text);
    console.log(`bundle: ${size[1]} KiB, gzip ${size[2]} KiB (free plan limit ${FREE_PLAN_GZIP_KIB} KiB)`);
    assert.ok(Number(size[2]) < FREE_PLAN_GZIP_KIB, `gzip ${size[2]} KiB`);
    assert.match(text, /env\.DB \(copilot-gateway\)\s+D1 Database/);
    assert.match(text, /env\.KV\s+KV Namespace/);
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
});

test("before ADMIN_KEY is set, every API says how to finish the setup; then, how to connect GitHub", async () => {
  const gw = await startGateway({ adminKey: null, schema: "empty" });
  try {
    const status = await (await gw.fetch(`${gw.base}/auth/status`)).json();
    assert.deepEqual(status, { admin_key: "missing" });
    const post = (p, headers) =>
      gw.fetch(`${gw.base}${p}`, { method: "POST", headers: { "content-type": "application/json", ...headers }, body: "{}" });
    const m = await post("/v1/messages", { "x-api-key": "cgw_anything" });
    assert.equal(m.status, 503);
    const mb = await m.json();
    assert.equal(mb.type, "error");
    assert.match(mb.error.message, /not set up yet.*npx wrangler secret put ADMIN_KEY/);
    for (const p of ["/v1/chat/completions", "/v1/responses"]) {
      const r = await post(p, { authorization: "Bearer cgw_anything" });
      assert.equal(r.status, 503);
      assert.match((await r.json()).error.message, /npx wrangler secret put ADMIN_KEY/);
    }
    const admin = await gw.fetch(`${gw.base}/api/keys`, { headers: { authorization: "Bearer whatever-0123456789abcdef" } });
    assert.equal(admin.status, 503);
    assert.match((await admin.json()).error.message, /ADMIN_KEY is not set.*Variables and Secrets/);

    await gw.restart({ adminKey: ADMIN_KEY });
    assert.deepEqual(await (await gw.fetch(`${gw.base}/auth/status`)).json(), { admin_key: "set" });
    const key = await gw.createKey("before-github");
    const noAccount = await gw.fetch(`${gw.base}/v1/chat/completions`, {
      method: "POST",
      headers: { authorization: `Bearer ${key.key}`, "content-type": "application/json" },
      body: JSON.stringify({ model: "gpt-4.1", messages: [{ role: "user", content: "hi" }] }),
    });
    assert.equal(noAccount.status, 503);
    assert.match((await noAccount.json()).error.message, /No GitHub account is connected.*admin page/);
  } finally {
    await gw.finish();
  }
});

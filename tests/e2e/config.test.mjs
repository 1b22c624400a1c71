// Deployment configuration: a missing or weak ADMIN_KEY closes the admin API (never
// opens it), and without COPILOT_API_BASE_URL the token's own endpoint is used.
import { test } from "node:test";
import assert from "node:assert/strict";
import OpenAI from "openai";
import { startGateway } from "./harness.mjs";

for (const [label, adminKey] of [["unset", null], ["too short", "short-key"]]) {
  test(`ADMIN_KEY ${label}: admin routes answer 503 with how to set it`, async () => {
    const gw = await startGateway({ adminKey });
    try {
      for (const key of ["", "short-key", "anything-at-all-0123456789"]) {
        const r = await gw.fetch(`${gw.base}/api/keys`, { headers: key ? { authorization: `Bearer ${key}` } : {} });
        assert.equal(r.status, 503);
        const body = await r.json();
        assert.match(body.error.message, /wrangler secret put ADMIN_KEY/);
      }
      // The data plane stays closed, and says why: no key can exist before ADMIN_KEY does.
      const data = await gw.fetch(`${gw.base}/v1/models`, { headers: { authorization: "Bearer short-key" } });
      assert.equal(data.status, 503);
      assert.match((await data.json()).error.message, /not set up yet.*wrangler secret put ADMIN_KEY/);
      // The admin app's login says the same, instead of "invalid key".
      const login = await gw.fetch(`${gw.base}/auth/login`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ key: "anything-at-all-0123456789" }) });
      assert.equal(login.status, 503);
      assert.match((await login.json()).error.message, /wrangler secret put ADMIN_KEY/);
    } finally {
      await gw.stop();
    }
  });
}

test("without COPILOT_API_BASE_URL the token's endpoints.api is used", async () => {
  const gw = await startGateway({ copilotBaseOverride: false });
  try {
    await gw.connectAccount();
    const key = await gw.createKey("base-url");
    const openai = new OpenAI({ apiKey: key.key, baseURL: `${gw.base}/v1`, fetch: gw.fetch, maxRetries: 0 });
    const r = await openai.chat.completions.create({ model: "gpt-4.1", messages: [{ role: "user", content: "via token endpoint" }] });
    assert.equal(r.choices[0].message.content, "Echo: via token endpoint");
    await gw.assertNoSecretsLeaked();
  } finally {
    await gw.stop();
  }
});

// The admin API as an admin (and an attacker) drives it: keys, the GitHub device flow,
// accounts, and who may call what.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import OpenAI from "openai";
import Anthropic from "@anthropic-ai/sdk";
import { startGateway } from "./harness.mjs";

let gw;
before(async () => {
  gw = await startGateway();
});
after(async () => {
  const r = await gw?.finish();
  if (r) assert.ok(r.responses > 20, "the leak check saw the suite's traffic");
});

const controlError = (r, status) => {
  assert.equal(r.status, status, JSON.stringify(r.body));
  assert.equal(typeof r.body.error.message, "string");
  assert.equal(typeof r.body.error.type, "string");
};

test("admin routes need ADMIN_KEY", async () => {
  const none = await gw.fetch(`${gw.base}/api/keys`);
  assert.equal(none.status, 401);
  assert.match((await none.json()).error.message, /ADMIN_KEY/);
  controlError(await gw.admin("GET", "/api/keys", undefined, "wrong-admin-key-0000000000"), 401);
  assert.equal((await gw.admin("GET", "/api/keys")).status, 200);
});

test("API key lifecycle: create, list, rename, rotate, delete", async () => {
  const created = await gw.admin("POST", "/api/keys", { name: "  laptop  " });
  assert.equal(created.status, 201);
  const k = created.body;
  assert.equal(k.name, "laptop");
  assert.match(k.key, /^cgw_[0-9a-f]{48}$/);
  assert.ok(k.key.startsWith(k.prefix) && k.prefix.length < 16);
  assert.ok(k.id && k.created_at);

  const list = await gw.admin("GET", "/api/keys");
  const listed = list.body.find((x) => x.id === k.id);
  assert.deepEqual(Object.keys(listed).sort(), ["created_at", "id", "last_used_at", "limits", "name", "prefix"]);
  assert.deepEqual(listed.limits, { requests_per_minute: null, tokens_per_month: null });
  assert.ok(!JSON.stringify(list.body).includes(k.key), "the raw key is shown only once");

  const renamed = await gw.admin("PATCH", `/api/keys/${k.id}`, { name: "desktop" });
  assert.equal(renamed.status, 200);
  assert.equal(renamed.body.name, "desktop");
  assert.equal(renamed.body.key, undefined);

  const rotated = await gw.admin("POST", `/api/keys/${k.id}/rotate`);
  assert.equal(rotated.status, 200);
  assert.equal(rotated.body.id, k.id);
  assert.notEqual(rotated.body.key, k.key);

  // The old key is refused at once, the new one accepted.
  const old = await gw.fetch(`${gw.base}/v1/models`, { headers: { authorization: `Bearer ${k.key}` } });
  assert.equal(old.status, 401);
  assert.equal((await old.json()).error.code, "invalid_api_key");
  await gw.connectAccount();
  const fresh = await gw.fetch(`${gw.base}/v1/models`, { headers: { authorization: `Bearer ${rotated.body.key}` } });
  assert.equal(fresh.status, 200);

  assert.equal((await gw.admin("DELETE", `/api/keys/${k.id}`)).status, 204);
  controlError(await gw.admin("DELETE", `/api/keys/${k.id}`), 404);
  const gone = await gw.fetch(`${gw.base}/v1/models`, { headers: { "x-api-key": rotated.body.key } });
  assert.equal(gone.status, 401);
  controlError(await gw.admin("PATCH", "/api/keys/nope", { name: "x" }), 404);
  controlError(await gw.admin("POST", "/api/keys/nope/rotate"), 404);
});

test("bad admin input gets a 400 naming the problem", async () => {
  const missing = await gw.admin("POST", "/api/keys", {});
  controlError(missing, 400);
  assert.match(missing.body.error.message, /name/);
  const res = await gw.fetch(`${gw.base}/api/keys`, {
    method: "POST",
    headers: { authorization: `Bearer ${gw.adminKey}`, "content-type": "application/json" },
    body: "{not json",
  });
  assert.equal(res.status, 400);
  assert.match((await res.json()).error.message, /JSON/);
  controlError(await gw.admin("POST", "/api/keys", { name: "x".repeat(101) }), 400);
  const wrongMethod = await gw.admin("PUT", "/api/keys", {});
  controlError(wrongMethod, 405);
  assert.equal(wrongMethod.headers.get("allow"), "GET, POST");
  controlError(await gw.admin("GET", "/api/nothing-here"), 404);
});

test("API keys are refused on the admin API, ADMIN_KEY on the data plane", async () => {
  const key = await gw.createKey("not-admin");
  const r = await gw.admin("GET", "/api/keys", undefined, key.key);
  controlError(r, 403);
  assert.match(r.body.error.message, /API keys cannot use the admin API/);

  const openai = new OpenAI({ apiKey: gw.adminKey, baseURL: `${gw.base}/v1`, fetch: gw.fetch, maxRetries: 0 });
  await assert.rejects(openai.models.list(), (e) => {
    assert.equal(e.status, 403);
    assert.match(e.error.message, /ADMIN_KEY only works on the admin API/);
    return true;
  });
  const anthropic = new Anthropic({ apiKey: gw.adminKey, baseURL: gw.base, fetch: gw.fetch, maxRetries: 0 });
  await assert.rejects(
    anthropic.messages.create({ model: "claude-sonnet-5", max_tokens: 10, messages: [{ role: "user", content: "hi" }] }),
    (e) => {
      assert.equal(e.status, 403);
      assert.equal(e.error.type, "error");
      assert.equal(e.error.error.type, "permission_error");
      return true;
    },
  );
});

test("missing or unknown API keys get 401 in each caller's format", async () => {
  const msg = await gw.fetch(`${gw.base}/v1/messages`, { method: "POST", body: "{}" });
  assert.equal(msg.status, 401);
  const mb = await msg.json();
  assert.equal(mb.type, "error");
  assert.equal(mb.error.type, "authentication_error");

  const anthropic = new Anthropic({ apiKey: "cgw_" + "0".repeat(48), baseURL: gw.base, fetch: gw.fetch, maxRetries: 0 });
  await assert.rejects(
    anthropic.messages.create({ model: "claude-sonnet-5", max_tokens: 10, messages: [{ role: "user", content: "hi" }] }),
    (e) => e.status === 401 && e.error.error.type === "authentication_error",
  );
  const openai = new OpenAI({ apiKey: "sk-unknown", baseURL: `${gw.base}/v1`, fetch: gw.fetch, maxRetries: 0 });
  await assert.rejects(
    openai.chat.completions.create({ model: "gpt-4.1", messages: [{ role: "user", content: "hi" }] }),
    (e) => e.status === 401 && e.error.code === "invalid_api_key",
  );
});

test("device flow: code, pending first poll, then the account", async () => {
  await fetch(`${gw.mock.origin}/__mock/next-user`, { method: "POST", body: JSON.stringify({ id: 1002 }) });
  const start = await gw.admin("POST", "/api/github/device");
  assert.equal(start.status, 200);
  assert.deepEqual(Object.keys(start.body).sort(), ["device_code", "expires_in", "interval", "user_code", "verification_uri"]);
  assert.match(start.body.user_code, /^[A-Z0-9]{4}-[A-Z0-9]{4}$/);

  const first = await gw.admin("POST", "/api/github/device/poll", { device_code: start.body.device_code });
  assert.equal(first.status, 200);
  assert.equal(first.body.status, "pending");

  const second = await gw.admin("POST", "/api/github/device/poll", { device_code: start.body.device_code });
  assert.equal(second.body.status, "complete", JSON.stringify(second.body));
  const acct = second.body.account;
  assert.equal(acct.login, "hubot");
  assert.equal(acct.id, 1002);
  assert.equal(acct.account_type, "individual");
  assert.deepEqual(Object.keys(acct).sort(), ["account_type", "active", "avatar_url", "created_at", "disabled", "id", "login", "name", "problem", "rate_limited", "token_encrypted"]);
  assert.equal(acct.problem, null);
  assert.equal(acct.token_encrypted, true);

  const again = await gw.admin("POST", "/api/github/device/poll", { device_code: start.body.device_code });
  assert.equal(again.body.status, "error");

  controlError(await gw.admin("POST", "/api/github/device/poll", {}), 400);
});

test("device flow: slow_down and access_denied reach the browser", async () => {
  const start = await gw.admin("POST", "/api/github/device");
  await fetch(`${gw.mock.origin}/__mock/device/next`, { method: "POST", body: JSON.stringify({ error: "slow_down", interval: 10 }) });
  const slow = await gw.admin("POST", "/api/github/device/poll", { device_code: start.body.device_code });
  assert.deepEqual(slow.body, { status: "slow_down", interval: 10 });
  await fetch(`${gw.mock.origin}/__mock/device/next`, { method: "POST", body: JSON.stringify({ error: "access_denied" }) });
  const denied = await gw.admin("POST", "/api/github/device/poll", { device_code: start.body.device_code });
  assert.equal(denied.body.status, "error");
  assert.equal(denied.body.error, "access_denied");
  assert.match(denied.body.message, /cancelled/);
});

test("accounts: add by token, list, activate, remove", async () => {
  const users = gw.mock.state.users;
  const bad = await gw.admin("POST", "/api/github/accounts", { token: "gho_not_a_real_token_000000000000000" });
  controlError(bad, 400);
  assert.match(bad.body.error.message, /GitHub rejected this token/);

  // Re-adding a connected user refreshes it in place and picks up its plan.
  await fetch(`${gw.mock.origin}/__mock/plan`, { method: "POST", body: JSON.stringify({ user_id: 1001, plan: "business" }) });
  const readded = await gw.admin("POST", "/api/github/accounts", { token: users.find((u) => u.id === 1001).github_token });
  assert.equal(readded.status, 201);
  assert.equal(readded.body.login, "octocat");
  assert.equal(readded.body.account_type, "business");
  assert.equal(readded.body.active, true, "still the active account");

  const added = await gw.admin("POST", "/api/github/accounts", { token: users.find((u) => u.id === 1003).github_token });
  assert.equal(added.status, 201);
  assert.equal(added.body.login, "monalisa");

  const list = await gw.admin("GET", "/api/github/accounts");
  assert.equal(list.status, 200);
  const active = list.body.filter((a) => a.active);
  assert.equal(active.length, 1, "exactly one active account");
  assert.ok(list.body.some((a) => a.login === "monalisa" && !a.active), "a new account does not take over");

  const act = await gw.admin("POST", "/api/github/accounts/1003/activate");
  assert.equal(act.status, 200);
  assert.equal(act.body.active, true);
  const after = await gw.admin("GET", "/api/github/accounts");
  assert.deepEqual(after.body.filter((a) => a.active).map((a) => a.id), [1003]);

  // monalisa has no Copilot subscription: the next account serves, and she is marked for
  // the admin's attention with the reason.
  const key = await gw.createKey("acct");
  const r = await gw.fetch(`${gw.base}/v1/models`, { headers: { authorization: `Bearer ${key.key}` } });
  assert.equal(r.status, 200);
  let marked;
  for (let i = 0; i < 20 && !marked; i++) {
    marked = (await gw.admin("GET", "/api/github/accounts")).body.find((a) => a.id === 1003 && a.problem);
    if (!marked) await new Promise((res) => setTimeout(res, 100));
  }
  assert.match(marked.problem, /no Copilot access/);

  assert.equal((await gw.admin("DELETE", "/api/github/accounts/1003")).status, 204);
  const remaining = await gw.admin("GET", "/api/github/accounts");
  assert.ok(!remaining.body.some((a) => a.id === 1003));
  assert.equal(remaining.body.filter((a) => a.active).length, 1, "another account took over");
  const ok = await gw.fetch(`${gw.base}/v1/models`, { headers: { authorization: `Bearer ${key.key}` } });
  assert.equal(ok.status, 200);

  controlError(await gw.admin("DELETE", "/api/github/accounts/1003"), 404);
  controlError(await gw.admin("POST", "/api/github/accounts/abc/activate"), 404);
});

test("a key update with one bad field changes nothing", async () => {
  const k = await gw.createKey("atomic-update");
  const bad = await gw.admin("PATCH", `/api/keys/${k.id}`, { name: "renamed", limits: { requests_per_minute: -1 } });
  controlError(bad, 400);
  assert.match(bad.body.error.message, /requests_per_minute/);
  const after = (await gw.admin("GET", "/api/keys")).body.find((x) => x.id === k.id);
  assert.equal(after.name, "atomic-update", "not renamed by a refused update");
  const good = await gw.admin("PATCH", `/api/keys/${k.id}`, { name: "renamed", limits: { requests_per_minute: 7 } });
  assert.equal(good.status, 200);
  assert.equal(good.body.name, "renamed");
  assert.deepEqual(good.body.limits, { requests_per_minute: 7, tokens_per_month: null });
  controlError(await gw.admin("PATCH", "/api/keys/no-such-key", { name: "x" }), 404);
});

test("removing the preferred account and promoting the next is one transaction", async () => {
  const users = gw.mock.state.users;
  await gw.admin("POST", "/api/github/accounts", { token: users.find((u) => u.id === 1002).github_token });
  const preferred = (await gw.admin("GET", "/api/github/accounts")).body.find((a) => a.active);
  // A fault in the promotion (injected with a trigger) must leave the account in place.
  gw.d1("CREATE TRIGGER no_promotion BEFORE UPDATE OF active ON github_accounts WHEN NEW.active = 1 BEGIN SELECT RAISE(ABORT, 'injected fault'); END");
  try {
    const failed = await gw.admin("DELETE", `/api/github/accounts/${preferred.id}`);
    assert.equal(failed.status, 503);
    const still = (await gw.admin("GET", "/api/github/accounts")).body;
    assert.ok(still.some((a) => a.id === preferred.id && a.active), "nothing was deleted");
  } finally {
    gw.d1("DROP TRIGGER no_promotion");
  }
  assert.equal((await gw.admin("DELETE", `/api/github/accounts/${preferred.id}`)).status, 204);
  const left = (await gw.admin("GET", "/api/github/accounts")).body;
  assert.ok(!left.some((a) => a.id === preferred.id));
  assert.equal(left.filter((a) => a.active).length, 1, "the next enabled account took over");
});

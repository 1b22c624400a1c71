// Admin-app sessions: a key exchanged once for an HttpOnly cookie, what each role may do,
// CSRF, logout, login throttling, and the routes the app needs (models, playground).
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { startGateway } from "./harness.mjs";

let gw, apiKey;

before(async () => {
  gw = await startGateway();
  await gw.connectAccount();
  apiKey = await gw.createKey("session-key");
});
after(() => gw?.finish());

async function login(key) {
  const r = await gw.fetch(`${gw.base}/auth/login`, {
    method: "POST",
    headers: { "content-type": "application/json", origin: gw.base },
    body: JSON.stringify({ key }),
  });
  const cookie = (r.headers.get("set-cookie") ?? "").split(";")[0];
  return { status: r.status, body: await r.json().catch(() => null), cookie, setCookie: r.headers.get("set-cookie") };
}

const withCookie = (cookie, path, init = {}) =>
  gw.fetch(`${gw.base}${path}`, { ...init, headers: { cookie, ...(init.headers ?? {}) } });

test("ADMIN_KEY login sets an HttpOnly, SameSite=Strict session cookie that works on /api", async () => {
  const s = await login(gw.adminKey);
  assert.equal(s.status, 200);
  assert.equal(s.body.role, "admin");
  assert.match(s.setCookie, /^cgw_session=[0-9a-f]{64}; Path=\/; HttpOnly; SameSite=Strict; Max-Age=43200$/);
  assert.ok(!s.setCookie.includes(gw.adminKey));
  const keys = await withCookie(s.cookie, "/api/keys");
  assert.equal(keys.status, 200);
  for (const [h, v] of [["x-content-type-options", "nosniff"], ["x-frame-options", "DENY"], ["cache-control", "no-store"]]) {
    assert.equal(keys.headers.get(h), v);
  }
  assert.match(keys.headers.get("content-security-policy"), /frame-ancestors 'none'/);
  const me = await (await withCookie(s.cookie, "/auth/session")).json();
  assert.equal(me.role, "admin");
  assert.ok(me.expires_at);
});

test("cookie-authenticated writes must come from this origin", async () => {
  const { cookie } = await login(gw.adminKey);
  const post = (headers) =>
    withCookie(cookie, "/api/keys", { method: "POST", headers: { "content-type": "application/json", ...headers }, body: JSON.stringify({ name: "csrf" }) });
  assert.equal((await post({ origin: gw.base })).status, 201);
  const evil = await post({ origin: "https://evil.example" });
  assert.equal(evil.status, 403);
  assert.match((await evil.json()).error.message, /cross-origin/);
  assert.equal((await post({})).status, 403, "no Origin, no write");
});

test("an API key logs in to its own usage and models only", async () => {
  const s = await login(apiKey.key);
  assert.equal(s.status, 200);
  assert.equal(s.body.role, "key");
  assert.equal(s.body.key.id, apiKey.id);
  assert.equal(s.body.key.key, undefined);
  const hour = (d) => new Date(Date.now() + d).toISOString().slice(0, 13);
  const usage = await withCookie(s.cookie, `/api/usage?start=${hour(-3600e3)}&end=${hour(3600e3)}`);
  assert.equal(usage.status, 200);
  assert.ok((await usage.json()).records.every((r) => r.key_id === apiKey.id));
  assert.equal((await withCookie(s.cookie, "/api/models")).status, 200);
  assert.equal((await withCookie(s.cookie, "/api/keys")).status, 403);
  assert.equal((await withCookie(s.cookie, "/api/export")).status, 403);
});

test("the data plane never accepts a session cookie", async () => {
  const { cookie } = await login(gw.adminKey);
  const r = await withCookie(cookie, "/v1/models");
  assert.equal(r.status, 401);
  const m = await withCookie(cookie, "/v1/messages", { method: "POST", body: "{}" });
  assert.equal(m.status, 401);
  assert.equal((await m.json()).type, "error");
});

test("logout ends the session on the server", async () => {
  const { cookie } = await login(gw.adminKey);
  const out = await withCookie(cookie, "/auth/logout", { method: "POST", headers: { origin: gw.base } });
  assert.equal(out.status, 204);
  assert.match(out.headers.get("set-cookie"), /cgw_session=; .*Max-Age=0/);
  assert.equal((await withCookie(cookie, "/api/keys")).status, 401, "the old cookie is dead");
  assert.equal((await withCookie(cookie, "/auth/session")).status, 401);
});

test("models for the app: each API's route per model", async () => {
  const { cookie } = await login(gw.adminKey);
  const { data } = await (await withCookie(cookie, "/api/models")).json();
  const by = Object.fromEntries(data.map((m) => [m.id, m.routes]));
  assert.deepEqual(by["claude-sonnet-5"], { messages: "native", responses: "via /v1/messages", chat_completions: "via /v1/messages" });
  assert.deepEqual(by["gpt-5.1-codex"], { messages: "via /responses", responses: "native", chat_completions: "via /responses" });
  assert.deepEqual(by["gemini-2.5-pro"], { messages: "via /chat/completions", responses: "via /chat/completions", chat_completions: "native" });
  assert.deepEqual(by["text-embedding-3-small"], { messages: null, responses: null, chat_completions: null });
});

test("the playground streams a chat for the admin session and is metered under its own name", async () => {
  const { cookie } = await login(gw.adminKey);
  const r = await withCookie(cookie, "/api/playground", {
    method: "POST",
    headers: { "content-type": "application/json", origin: gw.base },
    body: JSON.stringify({ model: "claude-sonnet-5", stream: true, messages: [{ role: "user", content: "play" }] }),
  });
  assert.equal(r.status, 200);
  assert.match(r.headers.get("content-type"), /text\/event-stream/);
  const text = await r.text();
  const content = text.split("\n\n").filter((f) => f.startsWith("data: {")).map((f) => JSON.parse(f.slice(6)).choices?.[0]?.delta?.content ?? "").join("");
  assert.equal(content, "Echo: play");
  assert.ok(text.trimEnd().endsWith("data: [DONE]"));
  const hour = (d) => new Date(Date.now() + d).toISOString().slice(0, 13);
  let rows = [];
  for (let i = 0; i < 30 && !rows.length; i++) {
    rows = (await (await withCookie(cookie, `/api/usage?start=${hour(-3600e3)}&end=${hour(3600e3)}&key_id=playground`)).json()).records;
    if (!rows.length) await new Promise((res) => setTimeout(res, 100));
  }
  assert.equal(rows[0]?.requests, 1);
  const key = await login(apiKey.key);
  const refused = await withCookie(key.cookie, "/api/playground", { method: "POST", headers: { origin: gw.base }, body: "{}" });
  assert.equal(refused.status, 403);
});

test("wrong keys are refused, and repeated failures are throttled", async () => {
  const bad = await login("not-the-admin-key-at-all");
  assert.equal(bad.status, 401);
  assert.equal(bad.setCookie, null);
  let throttled;
  for (let i = 0; i < 12 && !throttled; i++) {
    const r = await gw.fetch(`${gw.base}/auth/login`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ key: `wrong-${i}` }) });
    if (r.status === 429) throttled = r;
    else assert.equal(r.status, 401);
  }
  assert.ok(throttled, "throttled after repeated failures");
  assert.ok(Number(throttled.headers.get("retry-after")) > 0);
  // Even the right key waits out the window.
  assert.equal((await login(gw.adminKey)).status, 429);
});

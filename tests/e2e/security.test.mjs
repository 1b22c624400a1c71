// Security round 2: sessions end with the credential that opened them, every admin
// credential check is throttled per client, and GitHub tokens are encrypted at rest.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { startGateway, TOKEN_ENCRYPTION_KEY } from "./harness.mjs";

let gw;

before(async () => {
  gw = await startGateway();
});
after(() => gw?.finish());

// Each test speaks from its own client address, so one test's failures never throttle another.
let nextClient = 1;
const client = () => `198.51.100.${nextClient++}`;

async function login(key, ip = client()) {
  const r = await gw.fetch(`${gw.base}/auth/login`, {
    method: "POST",
    headers: { "content-type": "application/json", origin: gw.base, "cf-connecting-ip": ip },
    body: JSON.stringify({ key }),
  });
  return { status: r.status, cookie: (r.headers.get("set-cookie") ?? "").split(";")[0] };
}
const withCookie = (cookie, path, init = {}) =>
  gw.fetch(`${gw.base}${path}`, { ...init, headers: { cookie, ...(init.headers ?? {}) } });
const bearer = (key, path, ip, init = {}) =>
  gw.fetch(`${gw.base}${path}`, { ...init, headers: { authorization: `Bearer ${key}`, "cf-connecting-ip": ip, ...(init.headers ?? {}) } });

test("a key's browser session ends when the key is rotated or deleted", async () => {
  const key = await gw.createKey("session-rotation");
  const s = await login(key.key);
  assert.equal(s.status, 200);
  assert.equal((await withCookie(s.cookie, "/auth/session")).status, 200);
  const rotated = await gw.admin("POST", `/api/keys/${key.id}/rotate`);
  assert.equal(rotated.status, 200);
  assert.equal((await withCookie(s.cookie, "/auth/session")).status, 401, "the session of the old key is dead");
  assert.equal((await withCookie(s.cookie, "/api/models")).status, 401);
  // The rotated key opens a new session, which ends when the key is deleted.
  const again = await login(rotated.body.key);
  assert.equal(again.status, 200);
  assert.equal((await withCookie(again.cookie, "/auth/session")).status, 200);
  assert.equal((await gw.admin("DELETE", `/api/keys/${key.id}`)).status, 204);
  assert.equal((await withCookie(again.cookie, "/auth/session")).status, 401);
});

test("wrong credentials on any admin route are throttled per client with a sliding window", async () => {
  const ip = client();
  for (let i = 0; i < 10; i++) {
    const r = await bearer(`guess-${i}-0123456789abcdef`, i % 2 ? "/api/keys" : "/api/export", ip);
    assert.equal(r.status, 401, `guess ${i}`);
  }
  const refused = await bearer("guess-10-0123456789abcdef", "/api/github/accounts", ip);
  assert.equal(refused.status, 429);
  assert.ok(Number(refused.headers.get("retry-after")) > 14 * 60, refused.headers.get("retry-after"));
  assert.match((await refused.json()).error.message, /too many failed/);
  // The right key from that client waits too, and a guess that looks like an API key counts.
  assert.equal((await bearer(gw.adminKey, "/api/keys", ip)).status, 429);
  assert.equal((await login(gw.adminKey, ip)).status, 429, "logins share the throttle");
  // Another client is not affected.
  assert.equal((await bearer(gw.adminKey, "/api/keys", client())).status, 200);
  const other = client();
  for (let i = 0; i < 10; i++) assert.equal((await bearer(`cgw_${"0".repeat(48)}`, "/api/usage", other)).status, 401);
  assert.equal((await bearer(gw.adminKey, "/api/keys", other)).status, 429);
});

test("GitHub tokens are encrypted in D1, exported in clear, and sealed again on import", async () => {
  const account = await gw.connectAccount();
  const githubTokens = (await (await fetch(`${gw.mock.origin}/__mock/secrets`)).json()).github_tokens;
  assert.ok(githubTokens.length > 0);
  const [row] = gw.d1(`SELECT token FROM github_accounts WHERE id = ${account.id}`);
  assert.match(row.token, /^enc:v1:[0-9a-f]{8}:[0-9a-f]+$/);
  for (const t of githubTokens) assert.ok(!row.token.includes(t), "no token in clear in D1");
  const listed = await gw.admin("GET", "/api/github/accounts");
  assert.equal(listed.body[0].token_encrypted, true);
  assert.equal(listed.body[0].problem, null);

  const exported = await gw.admin("GET", "/api/export");
  const token = exported.body.data.github_accounts[0].token;
  assert.ok(githubTokens.includes(token), "the export carries the token itself");
  assert.deepEqual(exported.body.sensitive, ["data.github_accounts[].token", "data.search_config.credentials", "data.search_config.searxng_url"]);
  assert.equal(exported.body.data.settings, undefined, "no settings that import would not apply");
  const imported = await gw.admin("POST", "/api/import", { mode: "replace", data: exported.body });
  assert.equal(imported.status, 200);
  const [after] = gw.d1(`SELECT token FROM github_accounts WHERE id = ${account.id}`);
  assert.match(after.token, /^enc:v1:/);
  assert.notEqual(after.token, row.token, "sealed with a fresh nonce");
  const settings = await gw.admin("POST", "/api/import", { mode: "merge", data: { ...exported.body.data, settings: { theme: "dark" } } });
  assert.equal(settings.status, 400);
  assert.match(settings.body.error.message, /`settings` is not part of/);
});

test("sessions end when ADMIN_KEY changes; tokens stay readable only with their TOKEN_ENCRYPTION_KEY", async () => {
  const key = await gw.createKey("across-restarts");
  const admin = await login(gw.adminKey);
  assert.equal((await withCookie(admin.cookie, "/api/export")).status, 200);
  const keySession = await login(key.key);
  const oldAdminKey = gw.adminKey;

  // A new ADMIN_KEY (as `wrangler secret put ADMIN_KEY` redeploys with).
  await gw.restart({ adminKey: "a-rotated-admin-key-0123456789abcdef" });
  assert.equal((await withCookie(admin.cookie, "/api/export")).status, 401, "the old admin session is dead");
  assert.equal((await withCookie(admin.cookie, "/auth/session")).status, 401);
  assert.equal((await bearer(oldAdminKey, "/api/keys", client())).status, 401);
  assert.equal((await gw.admin("GET", "/api/keys")).status, 200, "the new ADMIN_KEY works");
  assert.equal((await withCookie(keySession.cookie, "/auth/session")).status, 200, "a key's session is not the admin's");

  // The data plane works with the sealed token.
  const ask = () => gw.fetch(`${gw.base}/v1/chat/completions`, {
    method: "POST",
    headers: { authorization: `Bearer ${key.key}`, "content-type": "application/json" },
    body: JSON.stringify({ model: "gpt-4.1", messages: [{ role: "user", content: "sealed" }] }),
  });
  assert.equal((await ask()).status, 200);

  // Without the secret the sealed token cannot be read: the admin is told why.
  await gw.restart({ tokenKey: null });
  const accounts = await gw.admin("GET", "/api/github/accounts");
  assert.match(accounts.body[0].problem, /TOKEN_ENCRYPTION_KEY is not set/);
  const refused = await ask();
  assert.equal(refused.status, 503);
  assert.match((await refused.json()).error.message, /TOKEN_ENCRYPTION_KEY/);
  // Another secret cannot read it either.
  await gw.restart({ tokenKey: "some-other-encryption-key-0123456789" });
  assert.match((await gw.admin("GET", "/api/github/accounts")).body[0].problem, /different TOKEN_ENCRYPTION_KEY/);
  // The right one again: serving as before.
  await gw.restart({ tokenKey: TOKEN_ENCRYPTION_KEY });
  assert.equal((await ask()).status, 200);
  assert.equal((await gw.admin("GET", "/api/github/accounts")).body[0].problem, null);
});

test("tokens stored in clear (before a secret was set) are sealed once one is", async () => {
  const plain = await startGateway({ tokenKey: null });
  try {
    const account = await plain.connectAccount();
    const [row] = plain.d1(`SELECT token FROM github_accounts WHERE id = ${account.id}`);
    assert.doesNotMatch(row.token, /^enc:/);
    assert.equal((await plain.admin("GET", "/api/github/accounts")).body[0].token_encrypted, false);
    await plain.restart({ tokenKey: TOKEN_ENCRYPTION_KEY });
    const listed = await plain.admin("GET", "/api/github/accounts");
    assert.equal(listed.body[0].problem, null);
    const [sealed] = plain.d1(`SELECT token FROM github_accounts WHERE id = ${account.id}`);
    assert.match(sealed.token, /^enc:v1:/);
    assert.equal((await plain.admin("GET", "/api/github/accounts")).body[0].token_encrypted, true);
  } finally {
    await plain.finish();
  }
});

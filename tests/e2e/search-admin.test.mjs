// Web search, the admin side: provider settings (credentials stored sealed, never shown
// back), validation, the test search against each mock provider, search usage (an API
// key reads only its own rows), export/import, and a restart without TOKEN_ENCRYPTION_KEY.
// The searches of agents themselves are exercised by the search loop's own suites.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { startGateway, TOKEN_ENCRYPTION_KEY } from "./harness.mjs";

let gw, keys;
before(async () => {
  gw = await startGateway();
  keys = await (await fetch(`${gw.mock.origin}/__mock/search/keys`)).json();
});
after(async () => {
  const r = await gw?.finish();
  if (r) assert.ok(r.responses > 30, "the leak check saw the suite's traffic");
});

const mockControl = async (method, path, body) => {
  const r = await fetch(`${gw.mock.origin}/__mock${path}`, {
    method,
    headers: body ? { "content-type": "application/json" } : {},
    body: body ? JSON.stringify(body) : undefined,
  });
  assert.equal(r.status, 200, `mock ${path}`);
  return r.json();
};
const searxngWithAuth = () => gw.mock.searxngUrl.replace("://", `://${keys.searxng_user}:${keys.searxng_password}@`);
const allSecrets = () => [keys.tavily, keys["microsoft-grounding"], keys.brave, keys.searxng_password];
const noSecretIn = (body) => {
  const text = JSON.stringify(body);
  for (const s of allSecrets()) assert.ok(!text.includes(s), `a credential leaked: ${s.slice(0, 6)}…`);
};
const controlError = (r, status, pattern) => {
  assert.equal(r.status, status, JSON.stringify(r.body));
  assert.equal(typeof r.body.error.message, "string");
  if (pattern) assert.match(r.body.error.message, pattern);
};
const OFF = {
  provider: null,
  credentials: { tavily: false, "microsoft-grounding": false, brave: false, searxng: false },
  searxng_url: null,
  encrypted: true,
  problem: null,
};

test("settings start off; only the admin reads or changes them", async () => {
  const r = await gw.admin("GET", "/api/search-config");
  assert.equal(r.status, 200);
  assert.deepEqual(r.body, OFF);
  const key = await gw.createKey("not-admin");
  controlError(await gw.admin("GET", "/api/search-config", undefined, key.key), 403);
  controlError(await gw.admin("PUT", "/api/search-config", { provider: null }, key.key), 403);
  controlError(await gw.admin("POST", "/api/search-config/test", {}, key.key), 403);
  const anonymous = await gw.fetch(`${gw.base}/api/search-config`);
  assert.equal(anonymous.status, 401);
  const wrongMethod = await gw.admin("POST", "/api/search-config", {});
  controlError(wrongMethod, 405);
  assert.equal(wrongMethod.headers.get("allow"), "GET, PUT");
});

test("credentials go in, are stored sealed, and never come back", async () => {
  const put = await gw.admin("PUT", "/api/search-config", {
    provider: "tavily",
    credentials: { tavily: ` ${keys.tavily} `, "microsoft-grounding": keys["microsoft-grounding"], brave: keys.brave },
    searxng_url: searxngWithAuth(),
  });
  assert.equal(put.status, 200, JSON.stringify(put.body));
  const expected = {
    provider: "tavily",
    credentials: { tavily: true, "microsoft-grounding": true, brave: true, searxng: true },
    searxng_url: gw.mock.searxngUrl,
    encrypted: true,
    problem: null,
  };
  assert.deepEqual(put.body, expected, "the SearXNG URL is shown without its user info");
  assert.deepEqual((await gw.admin("GET", "/api/search-config")).body, expected);

  const [row] = gw.d1("SELECT provider, tavily_key, microsoft_grounding_key, brave_key, searxng_url FROM search_config");
  assert.equal(row.provider, "tavily");
  for (const col of ["tavily_key", "microsoft_grounding_key", "brave_key", "searxng_url"]) {
    assert.match(row[col], /^enc:v1:[0-9a-f]{8}:[0-9a-f]+$/, col);
  }
  noSecretIn(row);

  // Omitted settings stay; null removes one; the provider can change on its own.
  const switched = await gw.admin("PUT", "/api/search-config", { provider: "brave", credentials: { "microsoft-grounding": null } });
  assert.equal(switched.status, 200);
  assert.equal(switched.body.provider, "brave");
  assert.deepEqual(switched.body.credentials, { tavily: true, "microsoft-grounding": false, brave: true, searxng: true });
  // A replaced key is sealed anew.
  await gw.admin("PUT", "/api/search-config", { credentials: { tavily: keys.tavily } });
  const [again] = gw.d1("SELECT tavily_key FROM search_config");
  assert.notEqual(again.tavily_key, row.tavily_key, "a fresh nonce");
  // Off, with every key kept.
  const off = await gw.admin("PUT", "/api/search-config", { provider: null });
  assert.equal(off.body.provider, null);
  assert.equal(off.body.credentials.brave, true);
  await gw.admin("PUT", "/api/search-config", { provider: "tavily", credentials: { "microsoft-grounding": keys["microsoft-grounding"] } });
});

test("bad settings are refused whole, naming the problem", async () => {
  const before = (await gw.admin("GET", "/api/search-config")).body;
  controlError(await gw.admin("PUT", "/api/search-config", { provider: "google" }), 400, /provider/);
  controlError(await gw.admin("PUT", "/api/search-config", { provider: "brave", credentials: { brave: "has spaces in it" } }), 400, /credentials\.brave/);
  controlError(await gw.admin("PUT", "/api/search-config", { credentials: { searxng: "x" } }), 400, /credentials\.searxng/);
  controlError(await gw.admin("PUT", "/api/search-config", { credentials: "tvly-x" }), 400, /credentials/);
  controlError(await gw.admin("PUT", "/api/search-config", { searxng_url: "ftp://searx.example.org" }), 400, /searxng_url.*http/);
  controlError(await gw.admin("PUT", "/api/search-config", { searxng_url: "https://searx.example.org/search?q=x" }), 400, /query/);
  controlError(await gw.admin("PUT", "/api/search-config", { api_key: "x" }), 400, /unknown field `api_key`/);
  controlError(await gw.admin("PUT", "/api/search-config", {}), 400, /nothing to change/);
  // The chosen provider's key cannot go, nor can a provider be chosen without one.
  controlError(await gw.admin("PUT", "/api/search-config", { credentials: { tavily: null } }), 400, /Tavily needs the Tavily API key/);
  await gw.admin("PUT", "/api/search-config", { credentials: { brave: null } });
  controlError(await gw.admin("PUT", "/api/search-config", { provider: "brave" }), 400, /Brave Search API key/);
  const r = await gw.fetch(`${gw.base}/api/search-config`, {
    method: "PUT",
    headers: { authorization: `Bearer ${gw.adminKey}`, "content-type": "application/json" },
    body: "{nope",
  });
  assert.equal(r.status, 400);
  await gw.admin("PUT", "/api/search-config", { credentials: { brave: keys.brave } });
  assert.deepEqual((await gw.admin("GET", "/api/search-config")).body, before, "nothing changed");
});

test("the test search works with every provider, saved or as a draft, and is not counted", async () => {
  await mockControl("DELETE", "/requests");
  const saved = await gw.admin("POST", "/api/search-config/test", {});
  assert.equal(saved.status, 200, JSON.stringify(saved.body));
  assert.equal(saved.body.ok, true);
  assert.equal(saved.body.provider, "tavily");
  assert.equal(saved.body.query, "Cloudflare Workers documentation");
  assert.equal(saved.body.results.length, 3);
  for (const r of saved.body.results) {
    assert.deepEqual(Object.keys(r).sort(), ["page_age", "preview", "title", "url"]);
    assert.match(r.title, /Cloudflare Workers documentation/);
    assert.match(r.url, /^https:\/\//);
    assert.ok(r.preview.length > 0 && r.preview.length <= 281);
  }
  for (const provider of ["microsoft-grounding", "brave", "searxng"]) {
    const r = await gw.admin("POST", "/api/search-config/test", { provider, query: `hello from ${provider}` });
    assert.equal(r.status, 200, JSON.stringify(r.body));
    assert.equal(r.body.ok, true, JSON.stringify(r.body));
    assert.equal(r.body.provider, provider);
    assert.equal(r.body.results.length, 3);
    assert.ok(r.body.results.every((x) => x.title.includes(`hello from ${provider}`)), JSON.stringify(r.body.results));
    assert.ok(r.body.results.every((x) => x.page_age), "every mock hit but Tavily's is dated");
    assert.doesNotMatch(JSON.stringify(r.body), /<strong>/, "Brave's markup is gone");
  }
  const log = await mockControl("GET", "/search/requests");
  assert.deepEqual(log.map((e) => e.provider), ["tavily", "grounding", "brave", "searxng"]);
  assert.deepEqual(log.map((e) => e.terms), ["Cloudflare Workers documentation", "hello from microsoft-grounding", "hello from brave", "hello from searxng"]);
  assert.equal(log[0].count, 3, "only what the test shows is asked for");
  // The saved SearXNG URL's user info became a basic-auth header (the mock checked it).
  const [sx] = await mockControl("GET", "/requests?path=/search/searxng/search");
  assert.match(sx.headers.authorization, /^Basic /);
  assert.equal(sx.query.includes(keys.searxng_password), false);

  // Drafts: a key or URL not saved.
  await gw.admin("PUT", "/api/search-config", { provider: null });
  const draft = await gw.admin("POST", "/api/search-config/test", { provider: "brave", credential: keys.brave, query: "draft" });
  assert.equal(draft.body.ok, true, JSON.stringify(draft.body));
  const sxDraft = await gw.admin("POST", "/api/search-config/test", { provider: "searxng", searxng_url: gw.mock.searxngUrl, query: "public instance" });
  assert.equal(sxDraft.body.ok, true, JSON.stringify(sxDraft.body));
  assert.equal((await gw.admin("GET", "/api/search-config")).body.provider, null, "a draft is not saved");
  await gw.admin("PUT", "/api/search-config", { provider: "tavily" });

  assert.deepEqual(gw.d1("SELECT COUNT(*) AS n FROM search_usage"), [{ n: 0 }], "tests are not counted");
  noSecretIn(log);
});

test("the test search shows each provider's own error, and refuses what it cannot run", async () => {
  const cases = [
    ["tavily", { credential: "tvly-wrong-key-000" }, "unavailable", /Tavily answered 401: Unauthorized/],
    ["microsoft-grounding", { credential: "wrong-grounding-key" }, "unavailable", /Microsoft Grounding answered 401/],
    ["brave", { credential: "BSAwrongwrongwrong" }, "unavailable", /Brave Search answered 422: The provided subscription token is invalid/],
    ["searxng", { searxng_url: gw.mock.searxngUrl.replace("://", "://gateway:wrong-password@") }, "unavailable", /SearXNG answered 401/],
  ];
  for (const [provider, draft, code, message] of cases) {
    const r = await gw.admin("POST", "/api/search-config/test", { provider, ...draft });
    assert.equal(r.status, 200, JSON.stringify(r.body));
    assert.equal(r.body.ok, false);
    assert.equal(r.body.error.code, code);
    assert.match(r.body.error.message, message);
    assert.match(r.body.error.message, /Web search page/, "the admin is told where to fix it");
    assert.ok(!JSON.stringify(r.body).includes(Object.values(draft)[0].split("@")[0].split(":").at(-1)), "the draft credential is not echoed");
  }
  // Rate limits, outages and bad input, as each provider answers them.
  await mockControl("POST", "/script", { path: "/search/tavily/search", status: 429, body: { detail: { error: "Rate limit exceeded" } } });
  let r = await gw.admin("POST", "/api/search-config/test", {});
  assert.deepEqual(r.body.error, { code: "too_many_requests", message: "Tavily answered 429: Rate limit exceeded" });
  await mockControl("POST", "/script", { path: "/search/grounding/v3/search/web", status: 500, body: "upstream exploded" });
  r = await gw.admin("POST", "/api/search-config/test", { provider: "microsoft-grounding" });
  assert.deepEqual(r.body.error, { code: "unavailable", message: "Microsoft Grounding answered 500: upstream exploded" });
  await mockControl("POST", "/script", { path: "/search/brave/res/v1/web/search", status: 422, body: { type: "ErrorResponse", error: { status: 422, code: "VALIDATION", detail: "Unable to validate request parameter(s)" } } });
  r = await gw.admin("POST", "/api/search-config/test", { provider: "brave" });
  assert.equal(r.body.error.code, "invalid_tool_input");
  await mockControl("POST", "/config", { searxng_require_auth: true });
  r = await gw.admin("POST", "/api/search-config/test", { provider: "searxng", searxng_url: gw.mock.searxngUrl });
  assert.match(r.body.error.message, /SearXNG answered 401/);
  await mockControl("POST", "/config", { searxng_require_auth: false });
  await mockControl("POST", "/script", { path: "/search/searxng/search", status: 200, body: { results: [] }, delay_ms: 400 });
  r = await gw.admin("POST", "/api/search-config/test", { provider: "searxng" });
  assert.deepEqual([r.body.ok, r.body.results], [true, []], "a slow answer is waited for; none found is not an error");

  // What the test cannot run is a 400.
  controlError(await gw.admin("POST", "/api/search-config/test", { credential: keys.brave }), 400, /needs the `provider`/);
  controlError(await gw.admin("POST", "/api/search-config/test", { provider: "searxng", credential: "x" }), 400, /searxng_url/);
  controlError(await gw.admin("POST", "/api/search-config/test", { query: "   " }), 400, /empty/);
  controlError(await gw.admin("POST", "/api/search-config/test", { query: "x".repeat(1001) }), 400, /1000/);
  await gw.admin("PUT", "/api/search-config", { credentials: { "microsoft-grounding": null } });
  const missing = await gw.admin("POST", "/api/search-config/test", { provider: "microsoft-grounding" });
  controlError(missing, 400, /nothing is saved for Microsoft Grounding/);
  assert.equal(missing.body.error.code, "search_not_configured");
  await gw.admin("PUT", "/api/search-config", { provider: null });
  const off = await gw.admin("POST", "/api/search-config/test", {});
  controlError(off, 400, /web search is off/);
  assert.equal(off.body.error.code, "search_not_configured");
  await gw.admin("PUT", "/api/search-config", { provider: "tavily", credentials: { "microsoft-grounding": keys["microsoft-grounding"] } });
  assert.deepEqual(gw.d1("SELECT COUNT(*) AS n FROM search_usage"), [{ n: 0 }]);
});

const hour = (offset = 0) => new Date(Date.now() + offset * 3600_000).toISOString().slice(0, 13);
let reader, other;

test("search usage: all rows for the admin, grouped and filtered; an API key reads only its own", async () => {
  reader = await gw.createKey("search-reader");
  other = await gw.createKey("search-other");
  gw.d1(`INSERT INTO search_usage (key_id, provider, hour, requests, errors) VALUES
    ('${reader.id}', 'tavily', '${hour(-2)}', 3, 1),
    ('${reader.id}', 'brave', '${hour(0)}', 2, 0),
    ('${other.id}', 'tavily', '${hour(0)}', 5, 2)`);
  const q = (params, key) => gw.admin("GET", `/api/search-usage?${new URLSearchParams({ start: hour(-3), end: hour(1), ...params })}`, undefined, key);

  const all = await q({});
  assert.equal(all.status, 200);
  assert.equal(all.body.records.length, 3);
  assert.deepEqual(Object.keys(all.body.records[0]).sort(), ["errors", "hour", "key_id", "key_name", "provider", "requests"]);
  assert.deepEqual(all.body.records[0], { key_id: reader.id, key_name: "search-reader", provider: "tavily", hour: hour(-2), requests: 3, errors: 1 });
  const byKey = await q({ group_by: "key" });
  assert.deepEqual(byKey.body.records.map((r) => [r.key_name, r.requests, r.errors]).sort(), [["search-other", 5, 2], ["search-reader", 5, 1]]);
  assert.equal(byKey.body.group_by, "key");
  const byProvider = await q({ group_by: "provider" });
  assert.deepEqual(byProvider.body.records.map((r) => [r.provider, r.requests, r.key_id]).sort(), [["brave", 2, null], ["tavily", 8, null]]);
  const byHour = await q({ group_by: "hour" });
  assert.deepEqual(byHour.body.records.map((r) => [r.hour, r.requests]), [[hour(-2), 3], [hour(0), 7]]);
  const tavily = await q({ provider: "tavily" });
  assert.equal(tavily.body.provider, "tavily");
  assert.deepEqual(tavily.body.records.map((r) => r.requests).sort(), [3, 5]);
  const window = await q({ start: hour(-1) });
  assert.equal(window.body.records.length, 2, "rows before `start` are left out");

  // An API key: its own rows only, whatever it asks.
  const own = await q({}, reader.key);
  assert.equal(own.status, 200);
  assert.ok(own.body.records.length === 2 && own.body.records.every((r) => r.key_id === reader.id));
  const ownByProvider = await q({ group_by: "provider" }, reader.key);
  assert.deepEqual(ownByProvider.body.records.map((r) => [r.provider, r.requests]).sort(), [["brave", 2], ["tavily", 3]]);
  controlError(await q({ key_id: other.id }, reader.key), 403, /its own usage/);

  controlError(await q({ provider: "bing" }), 400, /provider/);
  controlError(await q({ group_by: "model" }), 400, /group_by/);
  controlError(await gw.admin("GET", "/api/search-usage?start=2026-01-01T00"), 400, /end/);
  const anonymous = await gw.fetch(`${gw.base}/api/search-usage?start=${hour(-3)}&end=${hour(1)}`);
  assert.equal(anonymous.status, 401);
});

test("export carries the settings (credentials in clear, marked sensitive) and search usage; import seals them again", async () => {
  const exported = await gw.admin("GET", "/api/export");
  assert.equal(exported.status, 200);
  const doc = exported.body;
  assert.deepEqual(doc.sensitive, ["data.github_accounts[].token", "data.search_config.credentials", "data.search_config.searxng_url"]);
  assert.deepEqual(doc.data.search_config, {
    provider: "tavily",
    credentials: { tavily: keys.tavily, "microsoft-grounding": keys["microsoft-grounding"], brave: keys.brave },
    searxng_url: searxngWithAuth(),
  });
  assert.equal(doc.data.search_usage.length, 3);
  assert.ok(doc.data.search_usage.every((r) => Object.keys(r).sort().join() === "errors,hour,key_id,provider,requests"));

  // Change everything, then replace it with the document.
  await gw.admin("PUT", "/api/search-config", { provider: "brave", credentials: { tavily: null } });
  gw.d1("DELETE FROM search_usage");
  const imported = await gw.admin("POST", "/api/import", { mode: "replace", data: doc });
  assert.equal(imported.status, 200, JSON.stringify(imported.body));
  assert.equal(imported.body.imported.search_config, true);
  assert.equal(imported.body.imported.search_usage, 3);
  const view = (await gw.admin("GET", "/api/search-config")).body;
  assert.equal(view.provider, "tavily");
  assert.deepEqual(view.credentials, { tavily: true, "microsoft-grounding": true, brave: true, searxng: true });
  const [row] = gw.d1("SELECT tavily_key, searxng_url FROM search_config");
  assert.match(row.tavily_key, /^enc:v1:/);
  assert.match(row.searxng_url, /^enc:v1:/);
  noSecretIn(row);
  assert.equal((await gw.admin("POST", "/api/search-config/test", {})).body.ok, true, "the imported key works");
  const usage = await gw.admin("GET", `/api/search-usage?start=${hour(-3)}&end=${hour(1)}`);
  assert.equal(usage.body.records.length, 3);
  const strip = (d) => ({ ...d, exported_at: null });
  assert.deepEqual(strip((await gw.admin("GET", "/api/export")).body), strip(doc), "export → import → export is the same document");

  // A bad search section changes nothing, the other sections included.
  for (const [mutate, named] of [
    [(d) => (d.data.search_usage[0].provider = "bing"), /search_usage\[0\]/],
    [(d) => (d.data.search_usage[1].hour = "yesterday"), /search_usage\[1\]\.hour/],
    [(d) => (d.data.search_config.credentials.tavily = null), /data\.search_config`: Tavily needs .*credentials\.tavily/],
    [(d) => (d.data.search_config.searxng_url = "searx.local"), /data\.search_config`: `searxng_url` must start with http/],
    [(d) => (d.data.search_config.credentials.google = "k"), /search_config/],
  ]) {
    const broken = structuredClone(doc);
    mutate(broken);
    broken.data.api_keys = [];
    controlError(await gw.admin("POST", "/api/import", { mode: "replace", data: broken }), 400, named);
  }
  assert.deepEqual(strip((await gw.admin("GET", "/api/export")).body), strip(doc), "nothing changed");

  // Merge without search sections leaves the settings as they are.
  const { search_config: _c, search_usage: _u, ...rest } = doc.data;
  assert.equal((await gw.admin("POST", "/api/import", { mode: "merge", data: rest })).status, 200);
  assert.equal((await gw.admin("GET", "/api/search-config")).body.provider, "tavily");
});

test("without TOKEN_ENCRYPTION_KEY the sealed settings are reported unreadable; set again they work; with it again they are sealed", async () => {
  await gw.restart({ tokenKey: null });
  const view = (await gw.admin("GET", "/api/search-config")).body;
  assert.equal(view.provider, "tavily");
  assert.equal(view.credentials.tavily, true, "still set");
  assert.equal(view.encrypted, false);
  assert.equal(view.searxng_url, null, "cannot be shown");
  assert.match(view.problem, /The Tavily API key is stored encrypted, but TOKEN_ENCRYPTION_KEY is not set/);
  assert.match(view.problem, /The SearXNG URL/);
  const test1 = await gw.admin("POST", "/api/search-config/test", {});
  controlError(test1, 400, /cannot be read/);
  noSecretIn(test1.body);
  // The export cannot open them either: they go out as stored.
  const exported = (await gw.admin("GET", "/api/export")).body;
  assert.match(exported.data.search_config.credentials.tavily, /^enc:v1:/);

  // Set again: stored in clear (no secret to seal with), and usable.
  const put = await gw.admin("PUT", "/api/search-config", { credentials: { tavily: keys.tavily } });
  assert.match(put.body.problem, /SearXNG/, "the others are still unreadable");
  assert.doesNotMatch(put.body.problem, /Tavily/);
  const [clear] = gw.d1("SELECT tavily_key FROM search_config");
  assert.equal(clear.tavily_key, keys.tavily);
  assert.equal((await gw.admin("POST", "/api/search-config/test", {})).body.ok, true);

  // The secret is back: the clear key is sealed when next seen, the old ones open again.
  await gw.restart({ tokenKey: TOKEN_ENCRYPTION_KEY });
  const back = (await gw.admin("GET", "/api/search-config")).body;
  assert.equal(back.problem, null);
  assert.equal(back.encrypted, true);
  assert.equal(back.searxng_url, gw.mock.searxngUrl);
  const [sealed] = gw.d1("SELECT tavily_key FROM search_config");
  assert.match(sealed.tavily_key, /^enc:v1:/);
  assert.equal((await gw.admin("POST", "/api/search-config/test", { provider: "searxng" })).body.ok, true);
});

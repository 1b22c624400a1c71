// Usage, limits, several accounts and portability: what a team sharing one gateway relies
// on, checked against what the mock upstream itself reported.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import OpenAI from "openai";
import Anthropic from "@anthropic-ai/sdk";
import { startGateway } from "./harness.mjs";

let gw;
const mock = (p, init) => fetch(`${gw.mock.origin}/__mock${p}`, init).then((r) => r.json());
const script = (s) => mock("/script", { method: "POST", body: JSON.stringify(s) });
const hourAgo = () => new Date(Date.now() - 3600_000).toISOString().slice(0, 13);
const hourAhead = () => new Date(Date.now() + 3600_000).toISOString().slice(0, 13);
const clients = (key) => ({
  openai: new OpenAI({ apiKey: key, baseURL: `${gw.base}/v1`, fetch: gw.fetch, maxRetries: 0 }),
  anthropic: new Anthropic({ apiKey: key, baseURL: gw.base, fetch: gw.fetch, maxRetries: 0 }),
});

/** Usage as the mock reported it, in the gateway's inclusive convention. */
function reported(entry) {
  const u = entry.reply?.usage ?? {};
  if (entry.path.endsWith("/v1/messages")) {
    const read = u.cache_read_input_tokens ?? 0, created = u.cache_creation_input_tokens ?? 0;
    return { input: u.input_tokens + read + created, output: u.output_tokens, cache_read: read, cache_creation: created };
  }
  if (entry.path.endsWith("/chat/completions")) {
    return { input: u.prompt_tokens, output: u.completion_tokens, cache_read: u.prompt_tokens_details?.cached_tokens ?? 0, cache_creation: 0 };
  }
  return { input: u.input_tokens, output: u.output_tokens, cache_read: u.input_tokens_details?.cached_tokens ?? 0, cache_creation: 0 };
}

/** Polls /api/usage (writes land just after the answer) until `done(records)` holds. */
async function usageOf(query, done, key = gw.adminKey) {
  let last;
  for (let i = 0; i < 50; i++) {
    const r = await gw.fetch(`${gw.base}/api/usage?${new URLSearchParams({ start: hourAgo(), end: hourAhead(), ...query })}`, {
      headers: { authorization: `Bearer ${key}` },
    });
    last = await r.json();
    if (r.status !== 200) return { status: r.status, body: last };
    if (done(last.records)) return { status: 200, body: last };
    await new Promise((res) => setTimeout(res, 100));
  }
  return { status: 200, body: last };
}

before(async () => {
  gw = await startGateway();
  await gw.connectAccount();
});
after(() => gw?.finish());

const PATHS = [
  ["messages", "claude-sonnet-5", "/copilot/v1/messages"],
  ["messages", "gpt-5.1-codex", "/copilot/responses"],
  ["messages", "gemini-2.5-pro", "/copilot/chat/completions"],
  ["responses", "gpt-5.1-codex", "/copilot/responses"],
  ["responses", "claude-sonnet-5", "/copilot/v1/messages"],
  ["responses", "gpt-4.1", "/copilot/chat/completions"],
  ["chat", "gpt-4.1", "/copilot/chat/completions"],
  ["chat", "claude-sonnet-5", "/copilot/v1/messages"],
  ["chat", "gpt-5.1-codex", "/copilot/responses"],
];

test("usage on each of the nine paths, stream and not, equals what Copilot reported", async () => {
  for (const [api, model, upstreamPath] of PATHS) {
    const key = await gw.createKey(`${api}->${upstreamPath}`);
    const { openai, anthropic } = clients(key.key);
    await mock("/requests", { method: "DELETE" });
    const text = `usage check ${api} ${model}`;
    if (api === "messages") {
      await anthropic.messages.create({ model, max_tokens: 2048, messages: [{ role: "user", content: text }] });
      await anthropic.messages.stream({ model, max_tokens: 2048, messages: [{ role: "user", content: text }] }).finalMessage();
    } else if (api === "responses") {
      await openai.responses.create({ model, input: text });
      await openai.responses.stream({ model, input: text }).finalResponse();
    } else {
      await openai.chat.completions.create({ model, messages: [{ role: "user", content: text }] });
      // No include_usage: the gateway still learns the usage.
      const s = await openai.chat.completions.create({ model, stream: true, messages: [{ role: "user", content: text }] });
      for await (const _ of s);
    }
    const calls = (await mock(`/requests?path=${encodeURIComponent(upstreamPath)}`)).filter((e) => e.status === 200);
    assert.equal(calls.length, 2, `${api} via ${upstreamPath}: two upstream calls`);
    const want = calls.map(reported).reduce((a, b) => ({
      input: a.input + b.input, output: a.output + b.output,
      cache_read: a.cache_read + b.cache_read, cache_creation: a.cache_creation + b.cache_creation,
    }));
    const got = await usageOf({ key_id: key.id }, (rs) => rs.reduce((n, r) => n + r.requests, 0) >= 2);
    assert.equal(got.body.records.length, 1, JSON.stringify(got.body));
    const row = got.body.records[0];
    assert.equal(row.model, model);
    assert.equal(row.key_name, key.name);
    assert.deepEqual(
      { requests: row.requests, errors: row.errors, input: row.input_tokens, output: row.output_tokens, cache_read: row.cache_read_tokens, cache_creation: row.cache_creation_tokens },
      { requests: 2, errors: 0, ...want },
      `${api} via ${upstreamPath}`,
    );
    assert.ok(want.input > 0 && want.output > 0);
  }
});

test("embeddings are counted under their model; failed requests count as errors", async () => {
  const key = await gw.createKey("embed-and-errors");
  const { openai } = clients(key.key);
  await openai.embeddings.create({ model: "text-embedding-3-small", input: "count me" });
  await assert.rejects(openai.chat.completions.create({ model: "no-such-model", messages: [{ role: "user", content: "x" }] }));
  await script({ path: "/copilot/chat/completions", status: 500, body: "boom" });
  await assert.rejects(openai.chat.completions.create({ model: "gpt-4.1", messages: [{ role: "user", content: "x" }] }));
  const got = await usageOf({ key_id: key.id, group_by: "model" }, (rs) => rs.length >= 3);
  const by = Object.fromEntries(got.body.records.map((r) => [r.model, r]));
  assert.equal(by["text-embedding-3-small"].requests, 1);
  assert.ok(by["text-embedding-3-small"].input_tokens > 0);
  assert.equal(by["no-such-model"].errors, 1);
  assert.equal(by["no-such-model"].requests, 0);
  assert.equal(by["gpt-4.1"].errors, 1);
  assert.equal(by["gpt-4.1"].input_tokens, 0, "a failure adds no tokens");
});

test("50 concurrent requests lose no count", async () => {
  const key = await gw.createKey("concurrent");
  const { openai } = clients(key.key);
  await mock("/requests", { method: "DELETE" });
  await Promise.all(
    Array.from({ length: 50 }, (_, i) =>
      openai.chat.completions.create({ model: "gpt-4.1", messages: [{ role: "user", content: `parallel ${i}` }] }),
    ),
  );
  const calls = await mock("/requests?path=%2Fcopilot%2Fchat%2Fcompletions");
  const want = calls.map(reported).reduce((a, b) => ({ input: a.input + b.input, output: a.output + b.output }), { input: 0, output: 0 });
  const got = await usageOf({ key_id: key.id }, (rs) => rs.reduce((n, r) => n + r.requests, 0) >= 50);
  const total = got.body.records.reduce((a, r) => ({ requests: a.requests + r.requests, input: a.input + r.input_tokens, output: a.output + r.output_tokens }), { requests: 0, input: 0, output: 0 });
  assert.deepEqual(total, { requests: 50, ...want });
});

test("usage is written in batches, yet a read right after the answers already counts them", async () => {
  const key = await gw.createKey("read-at-once");
  const { openai, anthropic } = clients(key.key);
  await openai.chat.completions.create({ model: "gpt-4.1", messages: [{ role: "user", content: "one" }] });
  const stream = await anthropic.messages.create({ model: "claude-sonnet-5", max_tokens: 20, stream: true, messages: [{ role: "user", content: "two" }] });
  for await (const _ of stream);
  // One read, no polling: the gateway writes what it has counted (batched, half a second
  // later otherwise) before it answers.
  const r = await gw.fetch(`${gw.base}/api/usage?${new URLSearchParams({ start: hourAgo(), end: hourAhead(), key_id: key.id })}`, {
    headers: { authorization: `Bearer ${gw.adminKey}` },
  });
  assert.equal(r.status, 200);
  const { records } = await r.json();
  assert.equal(records.reduce((n, x) => n + x.requests, 0), 2, JSON.stringify(records));
  assert.ok(records.every((x) => x.input_tokens > 0 && x.output_tokens > 0), JSON.stringify(records));
});

test("every data-plane request is recorded once: limit refusals as errors, token counts and model lists too", async () => {
  const limited = await gw.createKey("refusals-recorded");
  assert.equal((await gw.admin("PATCH", `/api/keys/${limited.id}`, { limits: { requests_per_minute: 1 } })).status, 200);
  const { openai } = clients(limited.key);
  await openai.chat.completions.create({ model: "gpt-4.1", messages: [{ role: "user", content: "allowed" }] });
  await assert.rejects(openai.chat.completions.create({ model: "gpt-4.1", messages: [{ role: "user", content: "refused" }] }), (e) => e.status === 429);
  const refusals = await usageOf({ key_id: limited.id, group_by: "key" }, (rs) => rs[0]?.errors >= 1);
  assert.equal(refusals.body.records[0].requests, 1);
  assert.equal(refusals.body.records[0].errors, 1, "the refusal is an error in the usage table");

  const reader = await gw.createKey("counts-and-lists");
  const count = await gw.fetch(`${gw.base}/v1/messages/count_tokens`, {
    method: "POST",
    headers: { "x-api-key": reader.key, "content-type": "application/json" },
    body: JSON.stringify({ model: "claude-opus-4-8-20260801", messages: [{ role: "user", content: "how many?" }] }),
  });
  assert.equal(count.status, 200);
  const models = await gw.fetch(`${gw.base}/v1/models`, { headers: { "x-api-key": reader.key } });
  assert.equal(models.status, 200);
  await models.arrayBuffer();
  const got = await usageOf({ key_id: reader.id, group_by: "model" }, (rs) => rs.length >= 2);
  const by = Object.fromEntries(got.body.records.map((r) => [r.model, r]));
  assert.equal(by["claude-opus-4.8"]?.requests, 1, `count_tokens under the resolved model: ${JSON.stringify(got.body.records)}`);
  assert.equal(by["claude-opus-4.8"].input_tokens, 0, "counting consumes no tokens");
  assert.equal(by["-"]?.requests, 1, "the model list, which names no model");
});

test("embeddings are recorded (and sent) under the resolved model, not the name the client typed", async () => {
  const key = await gw.createKey("embeddings-resolved");
  await mock("/requests", { method: "DELETE" });
  const r = await clients(key.key).openai.embeddings.create({ model: "TEXT-EMBEDDING-3-SMALL", input: "resolve me" });
  assert.ok(r.data[0].embedding.length > 0);
  const [sent] = await mock("/requests?path=%2Fcopilot%2Fembeddings");
  assert.equal(sent.body.model, "text-embedding-3-small");
  const got = await usageOf({ key_id: key.id, group_by: "model" }, (rs) => rs.length >= 1);
  assert.deepEqual(got.body.records.map((x) => x.model), ["text-embedding-3-small"]);
});

test("a usage read writes everything this isolate counted, however many rows", async () => {
  // More rows than two D1 batches (40 rows each): all must be in the first read.
  const keys = [];
  for (let i = 0; i < 90; i++) keys.push(await gw.createKey(`many-rows-${i}`));
  await Promise.all(keys.map((k, i) => clients(k.key).openai.chat.completions.create({ model: "gpt-4.1", messages: [{ role: "user", content: `row ${i}` }] })));
  const r = await gw.fetch(`${gw.base}/api/usage?${new URLSearchParams({ start: hourAgo(), end: hourAhead(), group_by: "key" })}`, {
    headers: { authorization: `Bearer ${gw.adminKey}` },
  });
  const ids = new Set((await r.json()).records.filter((x) => x.requests >= 1).map((x) => x.key_id));
  const missing = keys.filter((k) => !ids.has(k.id));
  assert.equal(missing.length, 0, `${missing.length} of 90 rows not written before the read`);
});

test("an API key reads only its own usage; bad parameters are named", async () => {
  const a = await gw.createKey("reader-a");
  const b = await gw.createKey("reader-b");
  await clients(a.key).openai.chat.completions.create({ model: "gpt-4.1", messages: [{ role: "user", content: "a" }] });
  await clients(b.key).openai.chat.completions.create({ model: "gpt-4.1", messages: [{ role: "user", content: "b" }] });
  const own = await usageOf({}, (rs) => rs.length >= 1, a.key);
  assert.equal(own.status, 200);
  assert.ok(own.body.records.every((r) => r.key_id === a.id), JSON.stringify(own.body.records));
  const other = await usageOf({ key_id: b.id }, () => true, a.key);
  assert.equal(other.status, 403);
  const all = await usageOf({ group_by: "key" }, (rs) => rs.some((r) => r.key_id === b.id));
  assert.ok(all.body.records.some((r) => r.key_id === a.id) && all.body.records.some((r) => r.key_id === b.id));
  for (const [q, param] of [[{ start: "yesterday", end: hourAhead() }, "start"], [{ start: hourAgo(), end: hourAhead(), group_by: "day" }, "group_by"]]) {
    const r = await gw.fetch(`${gw.base}/api/usage?${new URLSearchParams(q)}`, { headers: { authorization: `Bearer ${gw.adminKey}` } });
    assert.equal(r.status, 400);
    assert.equal((await r.json()).error.message.includes(param), true);
  }
  // The rest of /api stays admin-only for API keys.
  assert.equal((await gw.admin("GET", "/api/keys", undefined, a.key)).status, 403);
});

test("per-key limits: requests per minute and tokens per month, 429 in the caller's format", async () => {
  const key = await gw.createKey("limited");
  const set = await gw.admin("PATCH", `/api/keys/${key.id}`, { limits: { requests_per_minute: 2 } });
  assert.equal(set.status, 200);
  assert.deepEqual(set.body.limits, { requests_per_minute: 2, tokens_per_month: null });
  const listed = (await gw.admin("GET", "/api/keys")).body.find((k) => k.id === key.id);
  assert.equal(listed.limits.requests_per_minute, 2);
  const { anthropic, openai } = clients(key.key);
  const ask = () => anthropic.messages.create({ model: "claude-sonnet-5", max_tokens: 100, messages: [{ role: "user", content: "limit" }] });
  await ask();
  await ask();
  await assert.rejects(ask(), (e) => {
    assert.equal(e.status, 429);
    assert.equal(e.error.error.type, "rate_limit_error");
    const ra = Number(e.headers.get("retry-after"));
    assert.ok(ra >= 1 && ra <= 60, `retry-after ${ra}`);
    return true;
  });
  // A fresh key with a 1-token monthly budget: the first request is allowed, then it is spent.
  const monthly = await gw.createKey("monthly");
  assert.equal((await gw.admin("PATCH", `/api/keys/${monthly.id}`, { limits: { tokens_per_month: 1 } })).status, 200);
  const { openai: spender } = clients(monthly.key);
  await spender.chat.completions.create({ model: "gpt-4.1", messages: [{ role: "user", content: "spend" }] });
  let refused;
  for (let i = 0; i < 30 && !refused; i++) {
    try {
      await spender.chat.completions.create({ model: "gpt-4.1", messages: [{ role: "user", content: "more" }] });
      await new Promise((r) => setTimeout(r, 100));
    } catch (e) {
      refused = e;
    }
  }
  assert.ok(refused, "the monthly budget was enforced");
  assert.equal(refused.status, 429);
  assert.equal(refused.error.code, "monthly_token_limit");
  assert.ok(Number(refused.headers.get("retry-after")) > 0);
  const bad = await gw.admin("PATCH", `/api/keys/${key.id}`, { limits: { requests_per_minute: -3 } });
  assert.equal(bad.status, 400);
  assert.match(bad.body.error.message, /requests_per_minute/);
});

test("quota: the plan and the normalised snapshots of each account", async () => {
  const r = await gw.admin("GET", "/api/quota");
  assert.equal(r.status, 200);
  const [first] = r.body.accounts;
  assert.equal(first.account.login, "octocat");
  assert.ok(first.plan);
  assert.ok(first.reset_date);
  const p = first.snapshots.premium_interactions;
  assert.equal(p.unlimited, false);
  assert.equal(typeof p.used, "number");
  assert.equal(first.snapshots.chat.unlimited, true);
});

test("two accounts: a 429 moves the request once to the other, and the conversation stays there", async () => {
  const hubot = gw.mock.state.users.find((u) => u.id === 1002);
  assert.equal((await gw.admin("POST", "/api/github/accounts", { token: hubot.github_token })).status, 201);
  const key = await gw.createKey("failover");
  const { openai } = clients(key.key);
  await mock("/requests", { method: "DELETE" });
  await script({ path: "/copilot/chat/completions", status: 429, headers: { "retry-after": "30" }, body: { error: { message: "rate limited", code: "rate_limited" } } });
  const conversation = [{ role: "system", content: "sticky" }, { role: "user", content: "first turn" }];
  const r = await openai.chat.completions.create({ model: "gpt-4.1", messages: conversation });
  assert.equal(r.choices[0].message.content, "Echo: first turn");
  let calls = await mock("/requests?path=%2Fcopilot%2Fchat%2Fcompletions");
  assert.deepEqual(calls.map((c) => [c.scripted, c.status]), [[true, 429], [false, 200]]);
  assert.equal(calls[1].user, "hubot");
  assert.notEqual(calls[0].headers.authorization, calls[1].headers.authorization, "another account's token");

  // The next turn of the same conversation goes straight to hubot.
  await openai.chat.completions.create({ model: "gpt-4.1", messages: [...conversation, { role: "assistant", content: "Echo: first turn" }, { role: "user", content: "second turn" }] });
  // Another conversation still starts on the preferred account.
  await openai.chat.completions.create({ model: "gpt-4.1", messages: [{ role: "user", content: "someone else" }] });
  calls = await mock("/requests?path=%2Fcopilot%2Fchat%2Fcompletions");
  assert.deepEqual(calls.slice(2).map((c) => c.user), ["hubot", "octocat"]);

  // A disabled account serves nothing, but keeps its place.
  assert.equal((await gw.admin("PATCH", "/api/github/accounts/1002", { disabled: true })).body.disabled, true);
  await mock("/requests", { method: "DELETE" });
  await openai.chat.completions.create({ model: "gpt-4.1", messages: [...conversation, { role: "user", content: "third" }] });
  calls = await mock("/requests?path=%2Fcopilot%2Fchat%2Fcompletions");
  assert.deepEqual(calls.map((c) => c.user), ["octocat"]);
  // With one enabled account a 429 is simply passed on.
  await script({ path: "/copilot/chat/completions", status: 429, headers: { "retry-after": "30" }, body: { error: { message: "rate limited" } } });
  await assert.rejects(openai.chat.completions.create({ model: "gpt-4.1", messages: [{ role: "user", content: "x" }] }), (e) => e.status === 429 && e.headers.get("retry-after") === "30");
  assert.equal((await gw.admin("PATCH", "/api/github/accounts/1002", { disabled: false })).status, 200);
});

test("export → import(replace) → export is the same document; a bad import changes nothing", async () => {
  const first = await gw.admin("GET", "/api/export");
  assert.equal(first.status, 200);
  assert.match(first.headers.get("content-disposition"), /attachment; filename="copilot-gateway-export-/);
  const doc = first.body;
  assert.equal(doc.format, "copilot-gateway-export");
  assert.ok(doc.data.api_keys.length > 5 && doc.data.usage.length > 5 && doc.data.github_accounts.length === 2);
  assert.ok(doc.data.api_keys.every((k) => /^[0-9a-f]{64}$/.test(k.key_hash) && !("key" in k)), "hashes, never raw keys");
  assert.deepEqual(doc.sensitive, ["data.github_accounts[].token", "data.search_config.credentials", "data.search_config.searxng_url"]);

  const imported = await gw.admin("POST", "/api/import", { mode: "replace", data: doc });
  assert.equal(imported.status, 200, JSON.stringify(imported.body));
  assert.deepEqual(imported.body.imported, {
    api_keys: doc.data.api_keys.length, github_accounts: 2, usage: doc.data.usage.length, search_config: false, search_usage: 0, model_aliases: 0,
  });
  const second = (await gw.admin("GET", "/api/export")).body;
  const strip = (d) => ({ ...d, exported_at: null });
  assert.deepEqual(strip(second), strip(doc));

  // Keys still work after the round trip (the hash came back).
  const broken = structuredClone(doc);
  broken.data.usage.at(-1).hour = "not-an-hour";
  const bad = await gw.admin("POST", "/api/import", { mode: "replace", data: broken });
  assert.equal(bad.status, 400);
  assert.equal(bad.body.error.message.includes(`data.usage[${doc.data.usage.length - 1}].hour`), true, bad.body.error.message);
  assert.deepEqual(strip((await gw.admin("GET", "/api/export")).body), strip(doc), "nothing changed");

  // Merge is idempotent.
  assert.equal((await gw.admin("POST", "/api/import", { mode: "merge", data: doc })).status, 200);
  assert.deepEqual(strip((await gw.admin("GET", "/api/export")).body), strip(doc));
});

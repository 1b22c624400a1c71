// Today's Copilot, driven the way clients drive the gateway (official SDKs): the client
// identity it accepts, its 466 for an outdated one, 421 from a plan host, the 5-hour and
// weekly usage windows, AI credits (copilot_usage) on every path, and quota kept current
// from answer headers.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import OpenAI from "openai";
import Anthropic from "@anthropic-ai/sdk";
import { startGateway } from "./harness.mjs";

let gw;
const mockOf = (g) => (p, init) => fetch(`${g.mock.origin}/__mock${p}`, init).then((r) => r.json());
let mock;
const post = (p, body) => mock(p, { method: "POST", body: JSON.stringify(body) });
const hourAgo = () => new Date(Date.now() - 3600_000).toISOString().slice(0, 13);
const hourAhead = () => new Date(Date.now() + 3600_000).toISOString().slice(0, 13);
const clients = (g, key, opts = {}) => ({
  openai: new OpenAI({ apiKey: key, baseURL: `${g.base}/v1`, fetch: g.fetch, maxRetries: 0, ...opts }),
  anthropic: new Anthropic({ apiKey: key, baseURL: g.base, fetch: g.fetch, maxRetries: 0, ...opts }),
});
const iso = (ms) => new Date(ms).toISOString().replace(/\.\d{3}Z$/, "Z");

/** Polls /api/usage for a key (writes land just after the answer) until `done(rows)`. */
async function usageOf(keyId, done) {
  let last;
  for (let i = 0; i < 60; i++) {
    const r = await gw.admin("GET", `/api/usage?${new URLSearchParams({ start: hourAgo(), end: hourAhead(), key_id: keyId })}`);
    last = r.body;
    if (r.status === 200 && done(last.records)) return last.records;
    await new Promise((res) => setTimeout(res, 100));
  }
  return last?.records ?? [];
}

before(async () => {
  gw = await startGateway();
  mock = mockOf(gw);
  await gw.connectAccount();
});
after(() => gw?.finish());

test("the gateway presents today's VS Code Copilot Chat identity", async () => {
  const key = await gw.createKey("identity");
  const { openai } = clients(gw, key.key);
  await mock("/requests", { method: "DELETE" });
  await openai.chat.completions.create({ model: "gpt-4.1", messages: [{ role: "user", content: "who are you" }] });
  const [call] = await mock("/requests?path=%2Fcopilot%2Fchat%2Fcompletions");
  assert.equal(call.status, 200);
  assert.equal(call.headers["editor-version"], "vscode/1.124.2");
  assert.equal(call.headers["editor-plugin-version"], "copilot-chat/0.52.0");
  assert.equal(call.headers["user-agent"], "GitHubCopilotChat/0.52.0");
  assert.equal(call.headers["x-github-api-version"], "2026-06-01");
});

test("466: the caller learns the gateway's Copilot identity is outdated, in its own format, without retries; the Accounts page says so", async () => {
  const key = await gw.createKey("outdated");
  // SDKs that would retry a 5xx twice: the answer tells them not to.
  const { openai, anthropic } = clients(gw, key.key, { maxRetries: 2 });
  await openai.chat.completions.create({ model: "gpt-4.1", messages: [{ role: "user", content: "warm the catalog" }] });
  const cutoff = (await mock("/config")).copilot_min_api_version;
  await post("/config", { copilot_min_api_version: "2099-01-01" });
  await mock("/requests", { method: "DELETE" });
  try {
    let err;
    try {
      await openai.chat.completions.create({ model: "gpt-4.1", messages: [{ role: "user", content: "hello" }] });
    } catch (e) {
      err = e;
    }
    assert.equal(err?.status, 502, String(err));
    assert.equal(err.error.code, "copilot_client_outdated");
    assert.equal(err.error.type, "server_error");
    assert.match(err.message, /client identity is outdated/);
    assert.match(err.message, /HTTP 466/);
    assert.match(err.message, /src\/upstream\/headers\.rs/);
    assert.equal(err.headers.get("x-should-retry"), "false");
    const calls = await mock("/requests?path=%2Fcopilot%2Fchat%2Fcompletions");
    assert.deepEqual(calls.map((c) => c.status), [466], "one call: no SDK retry");

    // Anthropic's format, streaming, and the Responses API.
    await assert.rejects(
      anthropic.messages.stream({ model: "claude-sonnet-5", max_tokens: 64, messages: [{ role: "user", content: "hi" }] }).finalMessage(),
      (e) => e.status === 502 && e.error?.type === "error" && e.error.error.type === "api_error" && /client identity is outdated/.test(e.error.error.message),
    );
    await assert.rejects(
      openai.responses.create({ model: "gpt-5.1-codex", input: "hi", stream: true }).then(async (s) => { for await (const _ of s); }),
      (e) => e.status === 502 && e.error?.code === "copilot_client_outdated",
    );

    const accounts = (await gw.admin("GET", "/api/github/accounts")).body;
    assert.match(accounts[0].problem, /client identity is outdated/);
  } finally {
    await post("/config", { copilot_min_api_version: cutoff });
  }
  // Copilot accepts the identity again: the next success lifts the notice.
  await openai.chat.completions.create({ model: "gpt-4.1", messages: [{ role: "user", content: "again" }] });
  assert.equal((await gw.admin("GET", "/api/github/accounts")).body[0].problem, null);
});

// Each client API on each upstream API (native and translated).
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

test("AI credits on all nine paths, stream and not, are what Copilot billed, per key and model", async () => {
  for (const [api, model, upstreamPath] of PATHS) {
    const key = await gw.createKey(`credits ${api}->${upstreamPath}`);
    const { openai, anthropic } = clients(gw, key.key);
    await mock("/requests", { method: "DELETE" });
    const text = `credits ${api} ${model}`;
    if (api === "messages") {
      await anthropic.messages.create({ model, max_tokens: 2048, messages: [{ role: "user", content: text }] });
      await anthropic.messages.stream({ model, max_tokens: 2048, messages: [{ role: "user", content: text }] }).finalMessage();
    } else if (api === "responses") {
      await openai.responses.create({ model, input: text });
      await openai.responses.stream({ model, input: text }).finalResponse();
    } else {
      await openai.chat.completions.create({ model, messages: [{ role: "user", content: text }] });
      // No include_usage: the gateway still reads the credits, and the client does not
      // get Copilot's credits chunk (choices: []) it did not ask for.
      const chunks = [];
      for await (const c of await openai.chat.completions.create({ model, stream: true, messages: [{ role: "user", content: text }] })) chunks.push(c);
      assert.ok(chunks.length > 1 && chunks.every((c) => !c.copilot_usage && !c.usage), `${model}: no usage or credits chunk`);
    }
    const calls = (await mock(`/requests?path=${encodeURIComponent(upstreamPath)}`)).filter((e) => e.status === 200);
    assert.equal(calls.length, 2, `${api} via ${upstreamPath}`);
    const billed = calls.reduce((n, c) => n + c.reply.copilot_usage.total_nano_aiu, 0);
    assert.ok(billed > 0);
    const rows = await usageOf(key.id, (rs) => rs.reduce((n, r) => n + r.requests, 0) >= 2);
    assert.equal(rows.length, 1);
    assert.equal(rows[0].model, model);
    assert.equal(rows[0].nano_aiu, billed, `${api} via ${upstreamPath}`);
    assert.equal(rows[0].ai_credits, billed / 1e9);
  }
  // A chat client that asks for usage gets Copilot's credits chunk as sent.
  const key = await gw.createKey("credits include_usage");
  const { openai } = clients(gw, key.key);
  const chunks = [];
  for await (const c of await openai.chat.completions.create({ model: "gpt-4.1", stream: true, stream_options: { include_usage: true }, messages: [{ role: "user", content: "with usage" }] })) chunks.push(c);
  assert.ok(chunks.some((c) => c.copilot_usage?.total_nano_aiu > 0));

  // The export carries the credits, and an import brings them back.
  const doc = (await gw.admin("GET", "/api/export")).body;
  const exported = doc.data.usage.filter((u) => u.key_id === key.id);
  assert.ok(exported.length === 1 && exported[0].nano_aiu > 0);
  const tampered = structuredClone(doc);
  for (const u of tampered.data.usage) if (u.key_id === key.id) u.nano_aiu = 123_456_789;
  assert.equal((await gw.admin("POST", "/api/import", { mode: "merge", data: tampered })).status, 200);
  const back = await usageOf(key.id, (rs) => rs[0]?.nano_aiu === 123_456_789);
  assert.equal(back[0].nano_aiu, 123_456_789);
  assert.equal((await gw.admin("POST", "/api/import", { mode: "merge", data: doc })).status, 200);
});

test("quota: answers' headers keep it current without asking GitHub again; both shapes of /copilot_internal/user", async () => {
  // hubot: a business seat on token-based billing, paid from its organization's budget.
  await post("/plan", { user_id: 1002, plan: "business", billing: "tokens" });
  const hubot = gw.mock.state.users.find((u) => u.id === 1002);
  assert.equal((await gw.admin("POST", "/api/github/accounts", { token: hubot.github_token })).status, 201);
  await mock("/requests", { method: "DELETE" });
  const first = await gw.admin("GET", "/api/quota");
  const byLogin = (q) => Object.fromEntries(q.body.accounts.map((a) => [a.account.login, a]));
  const h1 = byLogin(first).hubot;
  assert.equal(h1.billing, "tokens");
  assert.equal(h1.snapshots.premium_interactions.org_billed, true);
  assert.ok(h1.snapshots.premium_interactions.credits_used > 0);
  assert.equal(byLogin(first).octocat.billing, "premium_requests");
  const asked = async (login) => (await mock("/requests?path=%2Fapi%2Fcopilot_internal%2Fuser")).filter((c) => c.user === login).length;
  assert.equal(await asked("octocat"), 1, "GitHub asked once per account");
  assert.equal(await asked("hubot"), 1);

  // octocat spends 100 credits elsewhere (its own editor); answers through the gateway
  // report it, and the page reads it from them.
  const now = gw.mock.state.users.find((u) => u.id === 1001);
  now.creditsUsed += 100;
  const key = await gw.createKey("quota");
  const { openai } = clients(gw, key.key);
  for (let i = 0; i < 3; i++) await openai.chat.completions.create({ model: "claude-sonnet-5", messages: [{ role: "user", content: `spend ${i}` }] });
  const second = byLogin(await gw.admin("GET", "/api/quota")).octocat;
  assert.equal(await asked("octocat"), 1, "no new call to GitHub for octocat");
  assert.equal(await asked("hubot"), 2, "hubot served nothing: its quota comes from GitHub");
  assert.equal(second.source, "headers");
  assert.ok(Date.parse(second.as_of) > Date.now() - 60_000);
  const p = second.snapshots.premium_interactions;
  assert.equal(p.entitlement, 1500);
  assert.ok(Math.abs(p.remaining - (1500 - now.creditsUsed)) < 0.1, `${p.remaining} vs ${1500 - now.creditsUsed}`);
  assert.ok(p.remaining < byLogin(first).octocat.snapshots.premium_interactions.remaining - 99);
  assert.equal(second.plan, "individual", "what the headers do not say is GitHub's");
  assert.ok(second.usage_limits.weekly.percent_remaining > 0);
  assert.ok(Date.parse(second.usage_limits.session.resets_at) > Date.now());
  assert.equal((await gw.admin("DELETE", "/api/github/accounts/1002")).status, 204);
  await post("/plan", { user_id: 1002, plan: "individual", billing: "legacy" });
});

test("usage windows: a limited account is skipped until its reset, the next serves, and with none left the caller gets 429 at the earliest reset", async () => {
  const hubot = gw.mock.state.users.find((u) => u.id === 1002);
  assert.equal((await gw.admin("POST", "/api/github/accounts", { token: hubot.github_token })).status, 201);
  const key = await gw.createKey("windows");
  const { openai, anthropic } = clients(gw, key.key);
  const octocatUntil = Date.now() + 40_000;
  await post("/usage-limit", { user_id: 1001, window: "weekly", until: iso(octocatUntil) });
  await mock("/requests", { method: "DELETE" });

  const r = await openai.chat.completions.create({ model: "gpt-4.1", messages: [{ role: "user", content: "first" }] });
  assert.equal(r.choices[0].message.content, "Echo: first");
  let calls = await mock("/requests?path=%2Fcopilot%2Fchat%2Fcompletions");
  assert.deepEqual(calls.map((c) => [c.user, c.status]), [["octocat", 429], ["hubot", 200]]);
  const octocat = (await gw.admin("GET", "/api/github/accounts")).body.find((a) => a.login === "octocat");
  assert.deepEqual(octocat.rate_limited, { window: "weekly", until: iso(octocatUntil) });

  // A fresh conversation no longer tries octocat at all.
  await mock("/requests", { method: "DELETE" });
  await anthropic.messages.create({ model: "claude-sonnet-5", max_tokens: 64, messages: [{ role: "user", content: "second" }] });
  calls = await mock("/requests?prefix=%2Fcopilot%2F");
  assert.ok(calls.length >= 1 && calls.every((c) => c.user === "hubot"), JSON.stringify(calls.map((c) => c.user)));

  // hubot's 5-hour window runs out too: nobody is left.
  const hubotUntil = Date.now() + 25_000;
  await post("/usage-limit", { user_id: 1002, window: "session", until: iso(hubotUntil) });
  let err;
  try {
    await openai.chat.completions.create({ model: "gpt-4.1", messages: [{ role: "user", content: "third" }] });
  } catch (e) {
    err = e;
  }
  assert.equal(err?.status, 429, String(err));
  assert.equal(err.error.code, "user_global_rate_limited");
  assert.match(err.message, /'octocat' reached its weekly limit/);
  assert.match(err.message, /'hubot' reached its 5-hour session limit/);
  const ra = Number(err.headers.get("retry-after"));
  assert.ok(ra >= 1 && Math.abs(Date.now() + ra * 1000 - hubotUntil) < 3000, `retry-after ${ra}: hubot's reset, not Copilot's 120`);

  // Marked until the reset: the next request is refused without reaching Copilot, in
  // the caller's own format.
  await post("/usage-limit", { user_id: 1002, window: "session", clear: true });
  await mock("/requests", { method: "DELETE" });
  await assert.rejects(
    anthropic.messages.create({ model: "claude-sonnet-5", max_tokens: 64, messages: [{ role: "user", content: "fourth" }] }),
    (e) => e.status === 429 && e.error?.error?.type === "rate_limit_error" && Number(e.headers.get("retry-after")) <= 25,
  );
  assert.equal((await mock("/requests?prefix=%2Fcopilot%2F")).length, 0);

  // After octocat's reset it serves again.
  await post("/usage-limit", { user_id: 1001, window: "weekly", clear: true });
  await new Promise((res) => setTimeout(res, Math.max(0, octocatUntil - Date.now() + 500)));
  await mock("/requests", { method: "DELETE" });
  await openai.chat.completions.create({ model: "gpt-4.1", messages: [{ role: "user", content: "after the reset" }] });
  calls = await mock("/requests?path=%2Fcopilot%2Fchat%2Fcompletions");
  assert.deepEqual(calls.map((c) => [c.user, c.status]), [["octocat", 200]]);
  assert.equal((await gw.admin("GET", "/api/github/accounts")).body.find((a) => a.login === "octocat").rate_limited, null);
});

test("421 from a plan host: the token's endpoint is read again and the request served", async () => {
  const g = await startGateway({ copilotBaseOverride: false });
  const m = mockOf(g);
  try {
    await g.connectAccount();
    const key = await g.createKey("plan-host");
    const { openai, anthropic } = clients(g, key.key);
    await openai.chat.completions.create({ model: "gpt-4.1", messages: [{ role: "user", content: "on my plan's host" }] });
    // The seat moves to a business plan: its old host refuses the token it still holds.
    await m("/plan", { method: "POST", body: JSON.stringify({ user_id: 1001, plan: "business" }) });
    await m("/requests", { method: "DELETE" });
    const r = await openai.chat.completions.create({ model: "gpt-4.1", messages: [{ role: "user", content: "after the move" }] });
    assert.equal(r.choices[0].message.content, "Echo: after the move");
    const log = (await m("/requests")).map((c) => [c.path, c.status]);
    assert.deepEqual(log, [
      ["/copilot-individual/chat/completions", 421],
      ["/api/copilot_internal/v2/token", 200],
      ["/copilot-business/chat/completions", 200],
    ]);
    // Streaming too.
    await m("/plan", { method: "POST", body: JSON.stringify({ user_id: 1001, plan: "enterprise" }) });
    const msg = await anthropic.messages.stream({ model: "claude-sonnet-5", max_tokens: 64, messages: [{ role: "user", content: "streamed" }] }).finalMessage();
    assert.equal(msg.content[0].text, "Echo: streamed");
    assert.equal((await m("/requests")).at(-1).path, "/copilot-enterprise/v1/messages");
    // A host that refuses even a fresh token: a 502 that says so (a 421 passed on would
    // make the client drop its connection to the gateway).
    await m("/script", { method: "POST", body: JSON.stringify({ path: "/copilot-enterprise/chat/completions", status: 421, body: "misdirected request\n", times: 2 }) });
    await assert.rejects(
      openai.chat.completions.create({ model: "gpt-4.1", messages: [{ role: "user", content: "refused" }] }),
      (e) => e.status === 502 && /\(421\): misdirected request/.test(e.message),
    );
    await g.assertNoSecretsLeaked();
  } finally {
    await g.stop();
  }
});

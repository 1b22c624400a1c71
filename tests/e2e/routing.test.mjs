// Routing and failover, end to end: capability probes of models the catalog lists
// without `supported_endpoints` (once per model, on the serving account only, briefly
// cached when unclear), and failover when GitHub revokes an account mid-traffic.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import OpenAI from "openai";
import { startGateway } from "./harness.mjs";

let gw, openai, octocat, hubot;
const mock = (p, init) => fetch(`${gw.mock.origin}/__mock${p}`, init).then((r) => r.json());
const script = (s) => mock("/script", { method: "POST", body: JSON.stringify(s) });
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// Legacy chat models: in the catalog without supported_endpoints, so the gateway probes
// them. The mock serves them on /chat/completions only. One per test: a probe's result is
// cached per account and model.
const LEGACY = ["legacy-once", "legacy-throttled", "legacy-concurrent", "legacy-unrecognised"];

/** The account (login) a logged Copilot request was made with, scripted answers included. */
function userOf(entry) {
  const token = /^bearer\s+(\S+)/i.exec(entry.headers.authorization ?? "")?.[1];
  const t = token && gw.mock.state.copilotTokens.get(token);
  return t ? gw.mock.state.userById(t.user_id).login : null;
}

/** Probe calls (a body of just `{model}`) the mock saw for `model`, in order. */
async function probes(model) {
  const all = await mock("/requests?prefix=%2Fcopilot%2F");
  return all
    .filter((r) => r.body && typeof r.body === "object" && Object.keys(r.body).join() === "model" && r.body.model === model)
    .map((r) => ({ path: r.path.slice("/copilot".length), status: r.status, user: userOf(r) }));
}

const chat = (model, content = "hi") => openai.chat.completions.create({ model, messages: [{ role: "user", content }] });

before(async () => {
  gw = await startGateway();
  // Before the gateway first reads the catalog.
  const base = gw.mock.state.catalog.data.find((m) => m.id === "gpt-3.5-turbo");
  const legacy = LEGACY.map((id) => ({ ...structuredClone(base), id, name: id, version: id }));
  await mock("/catalog", { method: "POST", body: JSON.stringify({ data: [...gw.mock.state.catalog.data, ...legacy] }) });
  // Two accounts, added by their GitHub tokens (so a test can revoke them); the first
  // one added is the preferred one.
  octocat = gw.mock.state.users.find((u) => u.id === 1001);
  hubot = gw.mock.state.users.find((u) => u.id === 1002);
  for (const u of [octocat, hubot]) {
    const r = await gw.admin("POST", "/api/github/accounts", { token: u.github_token });
    assert.equal(r.status, 201, JSON.stringify(r.body));
  }
  const key = await gw.createKey("routing");
  openai = new OpenAI({ apiKey: key.key, baseURL: `${gw.base}/v1`, fetch: gw.fetch, maxRetries: 0 });
});
after(() => gw?.finish());

test("a model without supported_endpoints is probed once, on the serving account, and the result kept", async () => {
  const r = await chat("legacy-once", "first");
  assert.equal(r.choices[0].message.content, "Echo: first");
  const seen = await probes("legacy-once");
  assert.deepEqual(seen, [
    { path: "/v1/messages", status: 400, user: "octocat" },
    { path: "/responses", status: 400, user: "octocat" },
    { path: "/chat/completions", status: 400, user: "octocat" },
  ]);
  await sleep(200); // the KV write runs after the response
  for (const content of ["second", "third"]) {
    assert.equal((await chat("legacy-once", content)).choices[0].message.content, `Echo: ${content}`);
  }
  assert.equal((await probes("legacy-once")).length, 3, "not probed again");
});

test("a throttled probe: the name's guess, no probe on the next requests, and never on another account", async () => {
  // Copilot throttles octocat's (and everyone's) /v1/messages for a while.
  await script({ path: "/copilot/v1/messages", status: 429, headers: { "retry-after": "60" }, body: { error: { message: "rate limited", code: "rate_limited" } }, times: 20 });
  try {
    for (const content of ["one", "two", "three"]) {
      const r = await chat("legacy-throttled", content);
      assert.equal(r.choices[0].message.content, `Echo: ${content}`, "served by the guess (chat)");
      await sleep(100);
    }
  } finally {
    await mock("/script", { method: "DELETE" });
  }
  const seen = await probes("legacy-throttled");
  // One probe call: the 429 ended the probe, and its unclear result is kept for minutes.
  assert.deepEqual(seen, [{ path: "/v1/messages", status: 429, user: "octocat" }]);
  const served = (await mock("/requests?path=%2Fcopilot%2Fchat%2Fcompletions")).filter((r) => r.body?.model === "legacy-throttled" && r.body.messages);
  assert.deepEqual(served.map(userOf), ["octocat", "octocat", "octocat"], "the probe moved nothing to hubot");
});

test("concurrent requests for an unprobed model share one probe", async () => {
  // The first probe call is slow, so every request arrives while it runs.
  await script({
    path: "/copilot/v1/messages",
    status: 400,
    delay_ms: 600,
    body: { error: { message: "model legacy-concurrent is not accessible via the /v1/messages endpoint", code: "unsupported_api_for_model", param: "model", type: "invalid_request_error" } },
  });
  const answers = await Promise.all([1, 2, 3, 4].map((i) => chat("legacy-concurrent", `c${i}`)));
  assert.deepEqual(answers.map((a) => a.choices[0].message.content), ["Echo: c1", "Echo: c2", "Echo: c3", "Echo: c4"]);
  const seen = await probes("legacy-concurrent");
  assert.deepEqual(seen.map((p) => p.path), ["/v1/messages", "/responses", "/chat/completions"]);
});

test("an unrecognised 400 to a probe is not taken for support", async () => {
  // /responses answers the probe with a 400 that says nothing about the model.
  await script({ path: "/copilot/responses", status: 400, body: { error: { message: "Bad request: upstream is confused", type: "invalid_request_error" } } });
  // A Responses client: had /responses counted as supported, the request would go there
  // natively and fail (the model is chat-only); unclear, the guess (chat) serves it.
  const r = await openai.responses.create({ model: "legacy-unrecognised", input: "routed" });
  assert.equal(r.output_text, "Echo: routed");
  const seen = await probes("legacy-unrecognised");
  assert.deepEqual(seen.map((p) => [p.path, p.status]), [["/v1/messages", 400], ["/responses", 400]]);
  const native = (await mock("/requests?path=%2Fcopilot%2Fresponses")).filter((x) => x.body?.model === "legacy-unrecognised" && x.body.input);
  assert.equal(native.length, 0, "nothing sent natively to /responses");
});

test("GitHub revokes the serving account mid-traffic: it is marked and the next account serves; with none left, the 401", async () => {
  const revoke = (u) => mock("/github/revoke", { method: "POST", body: JSON.stringify({ token: u.github_token }) });
  // octocat serves (its Copilot token is cached by now).
  assert.equal((await chat("gpt-4.1", "before")).choices[0].message.content, "Echo: before");
  await mock("/requests", { method: "DELETE" });
  await revoke(octocat);
  await mock("/copilot/expire", { method: "POST" });

  const r = await chat("gpt-4.1", "after revocation");
  assert.equal(r.choices[0].message.content, "Echo: after revocation");
  const calls = (await mock("/requests?path=%2Fcopilot%2Fchat%2Fcompletions")).map((c) => [userOf(c), c.status]);
  // (hubot's cached Copilot token died too: one refresh on hubot may come between.)
  assert.deepEqual(calls[0], ["octocat", 401]);
  assert.deepEqual(calls.at(-1), ["hubot", 200]);
  assert.ok(calls.slice(1).every(([u]) => u === "hubot"), JSON.stringify(calls));
  let accounts;
  for (let i = 0; i < 20; i++) {
    accounts = (await gw.admin("GET", "/api/github/accounts")).body;
    if (accounts.find((a) => a.id === 1001)?.problem) break;
    await sleep(100);
  }
  assert.match(accounts.find((a) => a.id === 1001).problem, /octocat.*reconnect/);
  assert.equal(accounts.find((a) => a.id === 1002).problem, null);
  // The next request starts on hubot.
  await mock("/requests", { method: "DELETE" });
  await chat("gpt-4.1", "next");
  assert.deepEqual((await mock("/requests?path=%2Fcopilot%2Fchat%2Fcompletions")).map(userOf), ["hubot"]);

  // hubot goes too: nothing can serve, and the answer is today's 401.
  await revoke(hubot);
  await mock("/copilot/expire", { method: "POST" });
  await assert.rejects(chat("gpt-4.1", "nobody"), (e) => {
    assert.equal(e.status, 401);
    assert.match(e.error.message, /GitHub rejected the token of the connected account 'hubot'.*reconnect/);
    return true;
  });
  for (let i = 0; i < 20; i++) {
    accounts = (await gw.admin("GET", "/api/github/accounts")).body;
    if (accounts.find((a) => a.id === 1002)?.problem) break;
    await sleep(100);
  }
  assert.match(accounts.find((a) => a.id === 1002).problem, /hubot.*reconnect/);
});

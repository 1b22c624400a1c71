// The Responses WebSocket mode (`GET /v1/responses` + `Upgrade: websocket`), end to end
// with Node's own WebSocket client and the real Codex (`supports_websockets = true`):
// turns with tool calls on a native and a translated model, `previous_response_id` within
// a connection, a client that hangs up mid-turn, bad messages, and who may connect.
import { test, before, after, beforeEach } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtempSync, mkdirSync, readFileSync, rmSync, writeFileSync, existsSync } from "node:fs";
import { tmpdir } from "node:os";
import http from "node:http";
import net from "node:net";
import path from "node:path";
import { startGateway } from "./harness.mjs";
import { MOCK_FILE_CONTENT } from "../mock/reply.mjs";

const BETA = "responses_websockets=2026-02-06";
let gw, key;
const mock = (p, init) => fetch(`${gw.mock.origin}/__mock${p}`, init).then((r) => r.json());
const upstream = (p) => mock(`/requests?path=${encodeURIComponent(p)}`);
const wsBase = () => gw.base.replace(/^http/, "ws");

before(async () => {
  gw = await startGateway();
  await gw.connectAccount();
  key = await gw.createKey("websocket");
});
after(async () => {
  await gw?.assertNoSecretsLeaked();
  await gw?.stop();
});
beforeEach(() => mock("/requests", { method: "DELETE" }));

/** Opens a connection; `next()` resolves with each message (parsed) in order, `closed` with the close event. */
function connect(credential = key.key, extra = {}) {
  const ws = new WebSocket(`${wsBase()}/v1/responses`, { headers: { authorization: `Bearer ${credential}`, "openai-beta": BETA, ...extra } });
  const messages = [];
  const waiters = [];
  ws.onmessage = (m) => {
    const v = JSON.parse(m.data);
    const w = waiters.shift();
    if (w) w(v);
    else messages.push(v);
  };
  const closed = new Promise((r) => ws.addEventListener("close", r));
  const opened = new Promise((ok, fail) => {
    ws.onopen = () => ok();
    ws.onerror = () => fail(new Error("the WebSocket did not open"));
  });
  const next = () => (messages.length ? Promise.resolve(messages.shift()) : new Promise((r) => waiters.push(r)));
  return { ws, next, closed, opened };
}

const TERMINAL = new Set(["response.completed", "response.failed", "response.incomplete", "error"]);

/** Sends one response.create and reads its events up to the terminal one. */
async function turn(c, body) {
  c.ws.send(JSON.stringify({ type: "response.create", ...body }));
  const events = [];
  for (;;) {
    const e = await c.next();
    events.push(e);
    if (TERMINAL.has(e.type)) return events;
  }
}

const text = (events) => events.filter((e) => e.type === "response.output_text.delta").map((e) => e.delta).join("");
const done = (events) => events.at(-1);
const TOOLS = [{ type: "function", name: "exec_command", description: "Run a command.", parameters: { type: "object", properties: { cmd: { type: "string" } }, required: ["cmd"] } }];

async function usageRows(keyId, done) {
  const hour = (d) => new Date(Date.now() + d).toISOString().slice(0, 13);
  let rows = [];
  for (let i = 0; i < 40; i++) {
    const u = await gw.admin("GET", `/api/usage?start=${hour(-3600e3)}&end=${hour(3600e3)}&key_id=${keyId}&group_by=model`);
    rows = u.body.records;
    if (done(rows)) return rows;
    await new Promise((r) => setTimeout(r, 100));
  }
  return rows;
}

for (const [model, path] of [
  ["gpt-5.1-codex", "/copilot/responses"],
  ["claude-sonnet-5", "/copilot/v1/messages"],
]) {
  test(`${model}: several turns with a tool call, chained by previous_response_id, each recorded (upstream ${path})`, async () => {
    const k = await gw.createKey(`ws-${model}`);
    const c = connect(k.key);
    await c.opened;
    const first = await turn(c, { model, instructions: "You are Codex.", tools: TOOLS, store: false, input: [{ type: "message", role: "user", content: [{ type: "input_text", text: "MOCK_CALL exec_command" }] }] });
    assert.equal(first[0].type, "response.created");
    assert.deepEqual(first.map((e) => e.sequence_number), first.map((_, i) => i), "events in order");
    assert.equal(done(first).type, "response.completed", JSON.stringify(done(first)));
    const call = done(first).response.output.find((o) => o.type === "function_call");
    assert.equal(call?.name, "exec_command");
    const firstId = done(first).response.id;

    // Only the new item: the gateway puts the connection's earlier turn in front.
    const second = await turn(c, { model, instructions: "You are Codex.", tools: TOOLS, previous_response_id: firstId, input: [{ type: "function_call_output", call_id: call.call_id, output: "exit 0" }] });
    assert.equal(done(second).type, "response.completed");
    assert.equal(text(second), "Tool result: exit 0");

    const third = await turn(c, { model, tools: TOOLS, previous_response_id: done(second).response.id, input: "and now plain text" });
    assert.equal(text(third), "Echo: and now plain text");
    // Branching from an earlier turn of the connection works too.
    const branch = await turn(c, { model, previous_response_id: firstId, input: [{ type: "function_call_output", call_id: call.call_id, output: "exit 2" }] });
    assert.equal(text(branch), "Tool result: exit 2");

    const sent = await upstream(path);
    assert.equal(sent.length, 4);
    assert.ok(sent.every((s) => s.body.stream === true));
    // The third turn reached Copilot with the whole conversation: prompt, call, output, answer, new prompt.
    const third_up = JSON.stringify(sent[2].body);
    for (const piece of ["MOCK_CALL exec_command", call.call_id, "exit 0", "Tool result: exit 0", "and now plain text"]) {
      assert.ok(third_up.includes(piece), `${piece} in the third turn's upstream body`);
    }
    assert.ok(!JSON.stringify(sent[3].body).includes("and now plain text"), "the branch leaves out the other turns");
    assert.ok(!JSON.stringify(sent[0].body).includes("previous_response_id"), "Copilot keeps no responses: none is named");
    c.ws.close(1000);
    await c.closed;
    const rows = await usageRows(k.id, (rs) => rs.reduce((n, r) => n + r.requests, 0) >= 4);
    assert.deepEqual(rows.map((r) => [r.model, r.requests, r.errors]), [[model, 4, 0]]);
    assert.ok(rows[0].input_tokens > 0 && rows[0].output_tokens > 0);
  });
}

test("an unknown previous_response_id and bad messages are error events; the connection stays usable", async () => {
  const c = connect();
  await c.opened;
  const missing = await turn(c, { model: "gpt-5.1-codex", previous_response_id: "resp_from_elsewhere", input: "x" });
  assert.deepEqual(missing, [{ type: "error", status: 400, error: missing[0].error }]);
  assert.equal(missing[0].error.code, "previous_response_not_found");
  assert.equal(missing[0].error.param, "previous_response_id");
  assert.equal(missing[0].error.type, "invalid_request_error");

  c.ws.send("this is not json");
  const notJson = await c.next();
  assert.equal(notJson.type, "error");
  assert.match(notJson.error.message, /not valid JSON/);
  c.ws.send(JSON.stringify({ type: "response.cancel" }));
  assert.equal((await c.next()).error.param, "type");
  const background = await turn(c, { model: "gpt-5.1-codex", input: "x", background: true });
  assert.equal(background[0].error.param, "background");
  const unknown = await turn(c, { model: "no-such-model", input: "x" });
  assert.equal(unknown[0].status, 404);
  assert.equal(unknown[0].error.code, "model_not_found");
  // A refusal by Copilot keeps its status.
  await mock("/script", { method: "POST", body: JSON.stringify({ path: "/copilot/responses", status: 429, headers: { "retry-after": "3" }, body: { error: { message: "rate limited upstream", code: "rate_limited" } } }) });
  const limited = await turn(c, { model: "gpt-5.1-codex", input: "x" });
  assert.equal(limited[0].type, "error");
  assert.equal(limited[0].status, 429);

  const fine = await turn(c, { model: "gpt-5.1-codex", input: "still here" });
  assert.equal(text(fine), "Echo: still here");

  // Binary frames are not part of the mode: closed with 1003.
  c.ws.send(new Uint8Array([1, 2, 3]));
  const closed = await c.closed;
  assert.equal(closed.code, 1003);
});

test("each turn passes the key's limits and the model aliases, like a POST", async () => {
  const k = await gw.createKey("ws-limited");
  assert.equal((await gw.admin("PATCH", `/api/keys/${k.id}`, { limits: { requests_per_minute: 1 } })).status, 200);
  assert.equal((await gw.admin("PUT", "/api/model-aliases/ws-team", { models: ["claude-sonnet-5"] })).status, 200);
  const c = connect(k.key);
  await c.opened;
  const first = await turn(c, { model: "ws-team", input: "aliased" });
  assert.equal(text(first), "Echo: aliased");
  assert.equal(done(first).response.model, "claude-sonnet-5");
  const refused = await turn(c, { model: "ws-team", input: "over the limit" });
  assert.equal(refused[0].type, "error");
  assert.equal(refused[0].status, 429);
  assert.equal(refused[0].error.type, "rate_limit_error");
  assert.equal((await gw.admin("DELETE", "/api/model-aliases/ws-team")).status, 200);
  c.ws.close();
});

test("messages sent during a turn wait for it: turns run one at a time, in order", async () => {
  const c = connect();
  await c.opened;
  for (const word of ["one", "two", "three"]) c.ws.send(JSON.stringify({ type: "response.create", model: "claude-sonnet-5", input: word }));
  const texts = [];
  let current = "";
  while (texts.length < 3) {
    const e = await c.next();
    if (e.type === "response.output_text.delta") current += e.delta;
    if (e.type === "response.completed") {
      texts.push(current);
      current = "";
    }
    assert.notEqual(e.type, "error", JSON.stringify(e));
  }
  assert.deepEqual(texts, ["Echo: one", "Echo: two", "Echo: three"]);
  c.ws.close();
});

test("a warm-up (generate: false) answers an empty response that the next turn continues", async () => {
  const c = connect();
  await c.opened;
  const warm = await turn(c, { model: "gpt-5.1-codex", generate: false, instructions: "x", input: [{ type: "message", role: "user", content: [{ type: "input_text", text: "warm context" }] }] });
  assert.deepEqual(warm.map((e) => e.type), ["response.created", "response.completed"]);
  assert.equal((await upstream("/copilot/responses")).length, 0, "nothing was generated");
  const next = await turn(c, { model: "gpt-5.1-codex", previous_response_id: done(warm).response.id, input: "go" });
  assert.equal(text(next), "Echo: go");
  assert.ok(JSON.stringify((await upstream("/copilot/responses"))[0].body.input).includes("warm context"));
  c.ws.close();
});

test("a client that hangs up mid-turn stops the upstream read; the turn is recorded", async () => {
  const k = await gw.createKey("ws-hangup");
  const created = { type: "response.created", sequence_number: 0, response: { id: "resp_slow", object: "response", status: "in_progress", model: "gpt-5.1-codex", output: [] } };
  const added = { type: "response.output_item.added", sequence_number: 1, output_index: 0, item: { id: "msg_slow", type: "message", role: "assistant", status: "in_progress", content: [] } };
  const deltas = Array.from({ length: 40 }, (_, i) => ({ type: "response.output_text.delta", sequence_number: i + 2, item_id: "msg_slow", output_index: 0, content_index: 0, delta: `w${i} ` }));
  await mock("/script", { method: "POST", body: JSON.stringify({ path: "/copilot/responses", status: 200, headers: { "content-type": "text/event-stream" }, sse: [created, added, ...deltas], delay_ms: 150 }) });
  const c = connect(k.key);
  await c.opened;
  c.ws.send(JSON.stringify({ type: "response.create", model: "gpt-5.1-codex", input: "slow one" }));
  for (;;) {
    const e = await c.next();
    if (e.type === "response.output_text.delta") break;
  }
  c.ws.close(1000);
  await c.closed;
  let entry;
  for (let i = 0; i < 50 && !entry?.client_closed; i++) {
    [entry] = await upstream("/copilot/responses");
    if (!entry?.client_closed) await new Promise((r) => setTimeout(r, 100));
  }
  assert.equal(entry.client_closed, true, "the gateway hung up on Copilot");
  const rows = await usageRows(k.id, (rs) => rs.some((r) => r.errors >= 1));
  assert.deepEqual(rows.map((r) => [r.model, r.requests, r.errors]), [["gpt-5.1-codex", 0, 1]], "counted as a failed turn");
  // The gateway is not stuck: a new connection serves at once.
  const again = connect(k.key);
  await again.opened;
  assert.equal(text(await turn(again, { model: "gpt-5.1-codex", input: "after" })), "Echo: after");
  again.ws.close();
});

/** The HTTP answer to an upgrade request (no WebSocket opens when it is refused). */
function upgradeStatus(headers) {
  return new Promise((resolve, reject) => {
    const req = http.get(`${gw.base}/v1/responses`, {
      headers: { connection: "Upgrade", upgrade: "websocket", "sec-websocket-version": "13", "sec-websocket-key": "dGhlIHNhbXBsZSBub25jZQ==", ...headers },
    });
    req.on("upgrade", (res, socket) => {
      socket.destroy();
      resolve({ status: 101 });
    });
    req.on("response", (res) => {
      let body = "";
      res.on("data", (d) => (body += d));
      res.on("end", () => resolve({ status: res.statusCode, body: JSON.parse(body) }));
    });
    req.on("error", reject);
  });
}

test("only an API key may connect; a plain GET is told to upgrade", async () => {
  const none = await upgradeStatus({});
  assert.equal(none.status, 401);
  assert.equal(none.body.error.code, "invalid_api_key");
  const admin = await upgradeStatus({ authorization: `Bearer ${gw.adminKey}` });
  assert.equal(admin.status, 403);
  const wrong = await upgradeStatus({ authorization: "Bearer cgw_not_a_key" });
  assert.equal(wrong.status, 401);
  assert.equal((await upgradeStatus({ authorization: `Bearer ${key.key}` })).status, 101);
  const plain = await gw.fetch(`${gw.base}/v1/responses`, { headers: { authorization: `Bearer ${key.key}` } });
  assert.equal(plain.status, 400);
  assert.equal((await plain.json()).error.code, "websocket_upgrade_required");
});

// ---- the real Codex, with supports_websockets ----

const root = path.resolve(import.meta.dirname, "../..");

/** A TCP relay in front of the gateway that notes each request line (the upgrade included). */
function startTap(target) {
  const lines = [];
  const server = net.createServer((client) => {
    const up = net.connect(Number(new URL(target).port), new URL(target).hostname);
    let first = true;
    client.on("data", (d) => {
      if (first) {
        lines.push(d.toString("latin1").split("\r\n")[0]);
        first = false;
      }
      up.write(d);
    });
    up.on("data", (d) => client.write(d));
    const end = () => {
      client.destroy();
      up.destroy();
    };
    client.on("close", end);
    up.on("close", end);
    client.on("error", end);
    up.on("error", end);
  });
  return new Promise((r) => server.listen(0, "127.0.0.1", () => r({ lines, base: `http://127.0.0.1:${server.address().port}`, close: () => new Promise((c) => server.close(c)) })));
}

test("the real Codex with supports_websockets does a one-tool task over the WebSocket", { timeout: 90_000 }, async () => {
  const tap = await startTap(gw.base);
  const dir = mkdtempSync(path.join(tmpdir(), "cgw-codex-ws-"));
  try {
    const home = path.join(dir, "home");
    const cwd = path.join(dir, "work");
    const codexHome = path.join(dir, "codex");
    for (const d of [home, cwd, codexHome]) mkdirSync(d);
    const target = path.join(cwd, "hello.txt");
    writeFileSync(
      path.join(codexHome, "config.toml"),
      `model = "gpt-5.1-codex"
model_provider = "copilot_gateway"

[model_providers.copilot_gateway]
name = "Copilot Gateway"
base_url = "${tap.base}/v1"
env_key = "COPILOT_GATEWAY_API_KEY"
wire_api = "responses"
supports_websockets = true
request_max_retries = 0
stream_max_retries = 0

[analytics]
enabled = false

[features]
plugins = false
apps = false
`,
    );
    const child = spawn(process.execPath, [path.join(root, "node_modules/@openai/codex/bin/codex.js"), "exec", "--skip-git-repo-check", "--dangerously-bypass-approvals-and-sandbox", `MOCK_TOOL ${target}`], {
      cwd,
      env: { PATH: process.env.PATH, HOME: home, CODEX_HOME: codexHome, COPILOT_GATEWAY_API_KEY: key.key },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d) => (stdout += d));
    child.stderr.on("data", (d) => (stderr += d));
    const timer = setTimeout(() => child.kill("SIGKILL"), 60_000);
    const code = await new Promise((r) => child.on("close", r));
    clearTimeout(timer);
    const log = `exit ${code}\nstdout:\n${stdout.slice(-3000)}\nstderr:\n${stderr.slice(-3000)}\nrequests: ${tap.lines.join(" | ")}`;
    assert.equal(code, 0, log);
    assert.ok(existsSync(target), `the tool ran\n${log}`);
    assert.equal(readFileSync(target, "utf8").trim(), MOCK_FILE_CONTENT);
    assert.match(stdout, /^Tool result: /m, log);
    assert.ok(tap.lines.some((l) => l.startsWith("GET /v1/responses ")), `Codex connected over WebSocket\n${log}`);
    assert.ok(!tap.lines.some((l) => l.startsWith("POST /v1/responses ")), `and did not fall back to HTTP\n${log}`);
    const sent = (await upstream("/copilot/responses")).filter((s) => s.body.tools?.some((t) => t.name === "exec_command"));
    assert.equal(sent.length, 2, "the task's two turns reached Copilot");
    assert.ok(sent[1].body.input.some((i) => i.type === "function_call_output"));
  } finally {
    await tap.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

// Upstream faults and hostile input, end to end: every case ends with a clear answer in
// the caller's own format, streams end with exactly one error event, and the gateway
// keeps serving afterwards.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import OpenAI from "openai";
import Anthropic from "@anthropic-ai/sdk";
import { startGateway } from "./harness.mjs";

let gw, key, openai, anthropic;
const mock = (p, init) => fetch(`${gw.mock.origin}/__mock${p}`, init).then((r) => r.json());
const script = (s) => mock("/script", { method: "POST", body: JSON.stringify(s) });
const post = (path, body, headers = {}) =>
  gw.fetch(`${gw.base}${path}`, {
    method: "POST",
    headers: { authorization: `Bearer ${key.key}`, "content-type": "application/json", ...headers },
    body: typeof body === "string" || body instanceof Uint8Array ? body : JSON.stringify(body),
  });
const sseFrames = (text) => text.split("\n\n").filter((f) => f.trim());
const messageStart = 'event: message_start\ndata: {"type":"message_start","message":{"id":"msg_f","type":"message","role":"assistant","model":"claude-sonnet-5","content":[],"stop_reason":null,"stop_sequence":null,"usage":{"input_tokens":40,"output_tokens":1}}}\n\n';
const textStart = 'event: content_block_start\ndata: {"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}\n\n';
const delta = (t) => `event: content_block_delta\ndata: {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"${t}"}}\n\n`;

before(async () => {
  gw = await startGateway({ vars: { STREAM_KEEPALIVE_SECS: "0.3", UPSTREAM_TIMEOUT_SECS: "1.5", STREAM_IDLE_TIMEOUT_SECS: "2" } });
  await gw.connectAccount();
  key = await gw.createKey("faults");
  openai = new OpenAI({ apiKey: key.key, baseURL: `${gw.base}/v1`, fetch: gw.fetch, maxRetries: 0 });
  anthropic = new Anthropic({ apiKey: key.key, baseURL: gw.base, fetch: gw.fetch, maxRetries: 0 });
});
after(() => gw?.finish());

test("upstream 503 and 529 pass through with status and retry-after, in each format", async () => {
  await script({ path: "/copilot/v1/messages", status: 529, headers: { "retry-after": "12" }, body: { type: "error", error: { type: "overloaded_error", message: "Overloaded" } } });
  await assert.rejects(
    anthropic.messages.create({ model: "claude-sonnet-5", max_tokens: 10, messages: [{ role: "user", content: "x" }] }),
    (e) => e.status === 529 && e.headers.get("retry-after") === "12" && e.error.error.type === "overloaded_error",
  );
  await script({ path: "/copilot/responses", status: 503, headers: { "retry-after": "5" }, body: "Service Unavailable" });
  await assert.rejects(
    openai.responses.create({ model: "gpt-5.1-codex", input: "x" }),
    (e) => e.status === 503 && e.headers.get("retry-after") === "5" && e.error.message === "Service Unavailable" && e.error.type === "server_error",
  );
});

test("connection reset by Copilot: 502 in the caller's format, stream or not", async () => {
  await script({ path: "/copilot/chat/completions", destroy: true });
  await assert.rejects(
    openai.chat.completions.create({ model: "gpt-4.1", messages: [{ role: "user", content: "x" }] }),
    (e) => e.status === 502 && /could not reach/.test(e.error.message),
  );
  await script({ path: "/copilot/v1/messages", destroy: true });
  const r = await post("/v1/messages", { model: "claude-sonnet-5", max_tokens: 10, stream: true, messages: [{ role: "user", content: "x" }] });
  assert.equal(r.status, 502);
  const body = await r.json();
  assert.equal(body.type, "error");
  // A reset in the middle of a stream: one error event.
  await script({ path: "/copilot/v1/messages", status: 200, headers: { "content-type": "text/event-stream" }, sse: [messageStart, textStart, delta("half")], destroy: true });
  const s = await post("/v1/messages", { model: "claude-sonnet-5", max_tokens: 10, stream: true, messages: [{ role: "user", content: "x" }] });
  const frames = sseFrames(await s.text());
  assert.equal(frames.filter((f) => f.startsWith("event: error")).length, 1);
  assert.ok(frames.at(-1).startsWith("event: error"));
});

test("no first byte for too long: keep-alives, then one timeout error (stream) or a 504", async () => {
  await script({ path: "/copilot/v1/messages", status: 200, headers_delay_ms: 4000, headers: { "content-type": "text/event-stream" }, sse: [messageStart] });
  const r = await post("/v1/messages", { model: "claude-sonnet-5", max_tokens: 10, stream: true, messages: [{ role: "user", content: "slow" }] });
  assert.equal(r.status, 200);
  const frames = sseFrames(await r.text());
  assert.ok(frames.filter((f) => f.startsWith("event: ping")).length >= 2, frames.join("|"));
  assert.equal(frames.filter((f) => f.startsWith("event: error")).length, 1);
  assert.match(frames.at(-1), /did not start answering within 1.5 s/);

  await script({ path: "/copilot/chat/completions", status: 200, delay_ms: 4000, body: { choices: [] } });
  await assert.rejects(
    openai.chat.completions.create({ model: "gpt-4.1", messages: [{ role: "user", content: "slow" }] }),
    (e) => e.status === 504 && /did not start answering/.test(e.error.message),
  );
});

test("keep-alives while Copilot is silent mid-stream, none while it keeps sending", async () => {
  const end = [
    'event: content_block_stop\ndata: {"type":"content_block_stop","index":0}\n\n',
    'event: message_delta\ndata: {"type":"message_delta","delta":{"stop_reason":"end_turn","stop_sequence":null},"usage":{"output_tokens":3}}\n\n',
    'event: message_stop\ndata: {"type":"message_stop"}\n\n',
  ];
  const run = async (frames, delay_ms) => {
    await script({ path: "/copilot/v1/messages", status: 200, headers: { "content-type": "text/event-stream" }, sse: frames, delay_ms });
    const r = await post("/v1/messages", { model: "claude-sonnet-5", max_tokens: 10, stream: true, messages: [{ role: "user", content: "x" }] });
    return sseFrames(await r.text());
  };
  // Pauses of 0.8 s (keep-alive 0.3 s: a ping after 0.3–0.45 s of silence): a ping in each pause.
  const slow = await run([messageStart, textStart, delta("a"), delta("b"), ...end], 800);
  const between = slow.slice(slow.findIndex((f) => f.includes('"a"')), slow.findIndex((f) => f.includes('"b"')));
  assert.ok(between.some((f) => f.startsWith("event: ping")), slow.join("|"));
  assert.ok(slow.at(-1).startsWith("event: message_stop"));
  // Frames every 0.05 s for 1.2 s: never the keep-alive time of silence, so no ping.
  const fast = await run([messageStart, textStart, ...Array.from({ length: 19 }, (_, i) => delta(`t${i}`)), ...end], 50);
  assert.equal(fast.filter((f) => f.startsWith("event: ping")).length, 0, fast.join("|"));
  assert.ok(fast.at(-1).startsWith("event: message_stop"));
});

test("a stream Copilot stops feeding ends after the idle timeout: one error event in the caller's format, upstream cancelled", async () => {
  // Frames 3 s apart; the idle timeout is 2 s (keep-alive 0.3 s).
  const stalled = { path: "/copilot/v1/messages", status: 200, headers: { "content-type": "text/event-stream" }, sse: [messageStart, textStart, delta("never")], delay_ms: 3000 };
  await mock("/requests", { method: "DELETE" });
  await script(stalled);
  const t0 = Date.now();
  const r = await post("/v1/messages", { model: "claude-sonnet-5", max_tokens: 10, stream: true, messages: [{ role: "user", content: "x" }] });
  const frames = sseFrames(await r.text());
  const took = Date.now() - t0;
  assert.ok(frames[0].startsWith("event: message_start"), frames.join("|"));
  // Our own keep-alives went out meanwhile, and did not count as traffic.
  assert.ok(frames.filter((f) => f.startsWith("event: ping")).length >= 3, frames.join("|"));
  assert.equal(frames.filter((f) => f.startsWith("event: error")).length, 1);
  assert.match(frames.at(-1), /^event: error\ndata: \{"type":"error","error":\{"type":"[a-z_]+","message":"Copilot sent nothing for 2 s/);
  assert.ok(!frames.some((f) => f.includes("never")));
  assert.ok(took >= 2000 && took < 2900, `ended after ${took} ms`);
  let entry;
  for (let i = 0; i < 30 && !entry?.client_closed; i++) {
    [entry] = await mock("/requests?path=%2Fcopilot%2Fv1%2Fmessages");
    if (!entry?.client_closed) await new Promise((res) => setTimeout(res, 100));
  }
  assert.equal(entry.client_closed, true, "the gateway hung up on Copilot");

  // Translated (Chat client, Claude model): the error in Chat's shape.
  await script(stalled);
  const stream = await openai.chat.completions.create({ model: "claude-sonnet-5", stream: true, messages: [{ role: "user", content: "x" }] });
  await assert.rejects(async () => { for await (const _ of stream); }, /Copilot sent nothing for 2 s/);
});

test("through the web-search loop (a model turn that does not search): keep-alives while Copilot is silent, none while it sends, and the idle timeout", async () => {
  const end = [
    'event: content_block_stop\ndata: {"type":"content_block_stop","index":0}\n\n',
    'event: message_delta\ndata: {"type":"message_delta","delta":{"stop_reason":"end_turn","stop_sequence":null},"usage":{"output_tokens":3}}\n\n',
    'event: message_stop\ndata: {"type":"message_stop"}\n\n',
  ];
  const tools = [{ type: "web_search_20250305", name: "web_search", max_uses: 1 }];
  const run = async (frames, delay_ms) => {
    await script({ path: "/copilot/v1/messages", status: 200, headers: { "content-type": "text/event-stream" }, sse: frames, delay_ms });
    const t0 = Date.now();
    const r = await post("/v1/messages", { model: "claude-sonnet-5", max_tokens: 10, stream: true, tools, messages: [{ role: "user", content: "x" }] });
    return { frames: sseFrames(await r.text()), took: Date.now() - t0 };
  };
  const { frames: slow } = await run([messageStart, textStart, delta("a"), delta("b"), ...end], 800);
  const between = slow.slice(slow.findIndex((f) => f.includes('"a"')), slow.findIndex((f) => f.includes('"b"')));
  assert.ok(between.some((f) => f.startsWith("event: ping")), slow.join("|"));
  assert.ok(slow.at(-1).startsWith("event: message_stop"), slow.join("|"));
  const { frames: fast } = await run([messageStart, textStart, ...Array.from({ length: 19 }, (_, i) => delta(`t${i}`)), ...end], 50);
  assert.equal(fast.filter((f) => f.startsWith("event: ping")).length, 0, fast.join("|"));
  assert.ok(fast.at(-1).startsWith("event: message_stop"));
  // Frames 3 s apart; the idle timeout is 2 s.
  const { frames: stalled, took } = await run([messageStart, textStart, delta("never")], 3000);
  assert.equal(stalled.filter((f) => f.startsWith("event: error")).length, 1, stalled.join("|"));
  assert.match(stalled.at(-1), /Copilot sent nothing for 2 s/);
  assert.ok(!stalled.some((f) => f.includes("never")));
  assert.ok(took >= 2000 && took < 2900, `ended after ${took} ms`);
});

test("a non-stream answer whose body stalls after its headers ends after the idle timeout", async () => {
  // Native: the JSON body's second half never comes in time.
  await script({ path: "/copilot/chat/completions", status: 200, headers: { "content-type": "application/json" }, sse: ['{"id":"chatcmpl-stall","object":"chat.completion",', '"choices":[]}'], delay_ms: 3000 });
  let t0 = Date.now();
  await assert.rejects(
    openai.chat.completions.create({ model: "gpt-4.1", messages: [{ role: "user", content: "x" }] }),
    (e) => e.status === 504 && /Copilot sent nothing for 2 s/.test(e.error.message),
  );
  assert.ok(Date.now() - t0 < 2900, `ended after ${Date.now() - t0} ms`);
  // Translated (assembled from Copilot's stream): the caller's error, not a hang.
  await script({ path: "/copilot/v1/messages", status: 200, headers: { "content-type": "text/event-stream" }, sse: [messageStart, textStart, delta("never")], delay_ms: 3000 });
  t0 = Date.now();
  await assert.rejects(
    openai.chat.completions.create({ model: "claude-sonnet-5", messages: [{ role: "user", content: "x" }] }),
    (e) => e.status >= 500 && /Copilot sent nothing for 2 s/.test(e.error.message),
  );
  assert.ok(Date.now() - t0 < 2900, `ended after ${Date.now() - t0} ms`);
});

test("an answer that arrives in one burst reaches the client whole, native and translated", async () => {
  const words = Array.from({ length: 400 }, (_, i) => `word${i} `);
  const end = [
    'event: content_block_stop\ndata: {"type":"content_block_stop","index":0}\n\n',
    'event: message_delta\ndata: {"type":"message_delta","delta":{"stop_reason":"end_turn","stop_sequence":null},"usage":{"output_tokens":400}}\n\n',
    'event: message_stop\ndata: {"type":"message_stop"}\n\n',
  ];
  // Every frame in one write: the gateway reads it in a few large chunks, events cut anywhere.
  const burst = [[messageStart, textStart, ...words.map(delta), ...end].join("")];
  await script({ path: "/copilot/v1/messages", status: 200, headers: { "content-type": "text/event-stream" }, sse: burst });
  const r = await post("/v1/messages", { model: "claude-sonnet-5", max_tokens: 500, stream: true, messages: [{ role: "user", content: "x" }] });
  const frames = sseFrames(await r.text());
  const text = frames
    .filter((f) => f.startsWith("event: content_block_delta"))
    .map((f) => JSON.parse(f.slice(f.indexOf("data: ") + 6)).delta.text)
    .join("");
  assert.equal(text, words.join(""));
  assert.ok(frames.at(-1).startsWith("event: message_stop"), frames.at(-1));

  await script({ path: "/copilot/v1/messages", status: 200, headers: { "content-type": "text/event-stream" }, sse: burst });
  const stream = await openai.chat.completions.create({ model: "claude-sonnet-5", stream: true, messages: [{ role: "user", content: "x" }] });
  let chat = "";
  let finish = null;
  for await (const chunk of stream) {
    chat += chunk.choices[0]?.delta?.content ?? "";
    finish = chunk.choices[0]?.finish_reason ?? finish;
  }
  assert.equal(chat, words.join(""));
  assert.equal(finish, "stop");
});

test("malformed or erroring upstream streams end with exactly one error; usage of what was consumed is kept", async () => {
  const fresh = await gw.createKey("broken-streams");
  await script({ path: "/copilot/v1/messages", status: 200, headers: { "content-type": "text/event-stream" }, sse: [messageStart, textStart, delta("ok"), "event: content_block_delta\ndata: {not json}\n\n", delta("never")] });
  const r = await gw.fetch(`${gw.base}/v1/messages`, {
    method: "POST",
    headers: { "x-api-key": fresh.key, "content-type": "application/json" },
    body: JSON.stringify({ model: "claude-sonnet-5", max_tokens: 10, stream: true, messages: [{ role: "user", content: "x" }] }),
  });
  const frames = sseFrames(await r.text());
  assert.equal(frames.filter((f) => f.startsWith("event: error")).length, 1);
  assert.match(frames.at(-1), /malformed/);
  assert.ok(!frames.some((f) => f.includes("never")));

  // An upstream error event in a translated stream (Chat client, Claude model).
  await script({ path: "/copilot/v1/messages", status: 200, headers: { "content-type": "text/event-stream" }, sse: [messageStart, textStart, delta("part"), 'event: error\ndata: {"type":"error","error":{"type":"overloaded_error","message":"upstream overloaded"}}\n\n'] });
  const chat = new OpenAI({ apiKey: fresh.key, baseURL: `${gw.base}/v1`, fetch: gw.fetch, maxRetries: 0 });
  const stream = await chat.chat.completions.create({ model: "claude-sonnet-5", stream: true, messages: [{ role: "user", content: "x" }] });
  await assert.rejects(async () => { for await (const _ of stream); }, /upstream overloaded/);

  const hour = (d) => new Date(Date.now() + d).toISOString().slice(0, 13);
  let row;
  for (let i = 0; i < 30 && !(row?.errors >= 2); i++) {
    const u = await gw.admin("GET", `/api/usage?start=${hour(-3600e3)}&end=${hour(3600e3)}&key_id=${fresh.id}&group_by=key`);
    row = u.body.records[0];
    if (!(row?.errors >= 2)) await new Promise((res) => setTimeout(res, 100));
  }
  assert.equal(row.errors, 2);
  assert.equal(row.requests, 0);
  assert.equal(row.input_tokens, 80, "the prompt tokens Copilot reported before failing are counted");
});

test("a client that goes away mid-stream cancels the upstream request", async () => {
  await mock("/requests", { method: "DELETE" });
  const frames = [messageStart, textStart, ...Array.from({ length: 40 }, (_, i) => delta(`t${i}`))];
  await script({ path: "/copilot/v1/messages", status: 200, headers: { "content-type": "text/event-stream" }, sse: frames, delay_ms: 150 });
  const ac = new AbortController();
  const r = await fetch(`${gw.base}/v1/messages`, {
    method: "POST",
    signal: ac.signal,
    headers: { authorization: `Bearer ${key.key}`, "content-type": "application/json" },
    body: JSON.stringify({ model: "claude-sonnet-5", max_tokens: 10, stream: true, messages: [{ role: "user", content: "x" }] }),
  });
  const reader = r.body.getReader();
  await reader.read();
  ac.abort();
  let entry;
  for (let i = 0; i < 50 && !entry?.client_closed; i++) {
    [entry] = await mock("/requests?path=%2Fcopilot%2Fv1%2Fmessages");
    if (!entry?.client_closed) await new Promise((res) => setTimeout(res, 100));
  }
  assert.equal(entry.client_closed, true, "the gateway hung up on Copilot");
});

test("a revoked GitHub token: a clear error telling the admin to reconnect, and the account is marked", async () => {
  const other = await startGateway();
  try {
    await other.connectAccount();
    const k = await other.createKey("revoked");
    const octocat = other.mock.state.users.find((u) => u.id === 1001);
    // GitHub revokes the OAuth token of the connected account and its Copilot token dies.
    const tokens = (await (await fetch(`${other.mock.origin}/__mock/secrets`)).json()).github_tokens;
    for (const t of tokens) {
      await fetch(`${other.mock.origin}/__mock/github/revoke`, { method: "POST", body: JSON.stringify({ token: t }) });
    }
    await fetch(`${other.mock.origin}/__mock/copilot/expire`, { method: "POST" });
    const client = new Anthropic({ apiKey: k.key, baseURL: other.base, fetch: other.fetch, maxRetries: 0 });
    await assert.rejects(
      client.messages.create({ model: "claude-sonnet-5", max_tokens: 10, messages: [{ role: "user", content: "x" }] }),
      (e) => {
        assert.equal(e.status, 401);
        assert.match(e.error.error.message, /octocat.*reconnect/);
        return true;
      },
    );
    let acct;
    for (let i = 0; i < 20 && !acct?.problem; i++) {
      acct = (await other.admin("GET", "/api/github/accounts")).body[0];
      if (!acct?.problem) await new Promise((res) => setTimeout(res, 100));
    }
    assert.match(acct.problem, /reconnect/);
    // Reconnecting (here: adding a fresh token) clears it.
    assert.equal((await other.admin("POST", "/api/github/accounts", { token: octocat.github_token })).status, 400, "the old token stays revoked");
    await other.connectAccount();
    const fixed = (await other.admin("GET", "/api/github/accounts")).body.find((a) => a.id === 1001);
    assert.equal(fixed.problem, null);
    const ok = await client.messages.create({ model: "claude-sonnet-5", max_tokens: 10, messages: [{ role: "user", content: "back" }] });
    assert.equal(ok.content[0].text, "Echo: back");
    await other.assertNoSecretsLeaked();
  } finally {
    await other.stop();
  }
});

test("hostile input gets a 4xx in the caller's format, and the gateway keeps serving", async () => {
  const cases = [
    ["/v1/messages", new Uint8Array([0x7b, 0x22, 0x6d, 0xff, 0xfe, 0x22, 0x7d]), {}, 400, /not valid UTF-8/],
    ["/v1/chat/completions", "[".repeat(5000) + "]".repeat(5000), {}, 400, /not valid JSON|recursion/],
    ["/v1/responses", JSON.stringify({ model: "gpt-5.1-codex", input: "x" }), { "content-type": "application/xml" }, 415, /application\/xml/],
    ["/v1/messages", JSON.stringify({ model: "claude-sonnet-5", max_tokens: 5, messages: "nope" }), {}, 400, /messages/],
    ["/v1/chat/completions", JSON.stringify({ model: ["x"], messages: [] }), {}, 400, /model/],
    ["/v1/responses", "", {}, 400, /JSON/],
  ];
  for (const [path, body, headers, status, message] of cases) {
    const r = await post(path, body, headers);
    assert.equal(r.status, status, `${path}: ${status}`);
    const j = await r.json();
    if (path === "/v1/messages") {
      assert.equal(j.type, "error");
      assert.match(j.error.message, message);
    } else {
      assert.match(j.error.message, message);
    }
  }
  // A body over the limit: 413 before it is read.
  const huge = JSON.stringify({ model: "gpt-4.1", messages: [{ role: "user", content: "x".repeat(33 * 1024 * 1024) }] });
  const big = await post("/v1/chat/completions", huge);
  assert.equal(big.status, 413);
  assert.match((await big.json()).error.message, /32 MiB/);
  // Unknown routes and methods.
  assert.equal((await post("/v1/completions", "{}")).status, 404);
  const del = await gw.fetch(`${gw.base}/v1/messages`, { method: "DELETE", headers: { authorization: `Bearer ${key.key}` } });
  assert.equal(del.status, 405);
  assert.equal(del.headers.get("allow"), "POST");
  // No CORS: nothing in any answer invites another origin.
  const pre = await gw.fetch(`${gw.base}/api/keys`, { method: "OPTIONS", headers: { origin: "https://evil.example", "access-control-request-method": "POST" } });
  assert.equal(pre.headers.get("access-control-allow-origin"), null);
  // Still serving.
  const ok = await openai.chat.completions.create({ model: "gpt-4.1", messages: [{ role: "user", content: "still here" }] });
  assert.equal(ok.choices[0].message.content, "Echo: still here");
});

// Copilot's quirks and slow upstreams, end to end: recorded real client requests made
// acceptable, keep-alives before Copilot's first byte, connection-bound item ids,
// context-window overflow, and parameters a model refuses.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import OpenAI from "openai";
import Anthropic from "@anthropic-ai/sdk";
import { startGateway } from "./harness.mjs";

let gw, key, openai, anthropic;
const mock = (p, init) => fetch(`${gw.mock.origin}/__mock${p}`, init).then((r) => r.json());
const script = (s) => mock("/script", { method: "POST", body: JSON.stringify(s) });
const upstream = async (path) => mock(`/requests?path=${encodeURIComponent(path)}`);
const fixture = (name) => JSON.parse(readFileSync(new URL(`../fixtures/${name}`, import.meta.url), "utf8"));
const post = (path, body, headers = {}) =>
  gw.fetch(`${gw.base}${path}`, {
    method: "POST",
    headers: { authorization: `Bearer ${key.key}`, "content-type": "application/json", ...headers },
    body: JSON.stringify(body),
  });

before(async () => {
  // Short keep-alives so slow-upstream cases take a second, not half a minute.
  gw = await startGateway({ vars: { STREAM_KEEPALIVE_SECS: "0.4" } });
  await gw.connectAccount();
  key = await gw.createKey("quirks");
  openai = new OpenAI({ apiKey: key.key, baseURL: `${gw.base}/v1`, fetch: gw.fetch, maxRetries: 0 });
  anthropic = new Anthropic({ apiKey: key.key, baseURL: gw.base, fetch: gw.fetch, maxRetries: 0 });
});
after(() => gw?.finish());

test("Claude Code's recorded request: what Copilot receives is fixed, the answer streams", async () => {
  await mock("/requests", { method: "DELETE" });
  const f = fixture("claude-code.messages.request.json");
  // Recorded on a model Copilot has since retired: the dated id of a current one instead.
  const res = await post("/v1/messages?beta=true", { ...f.body, model: "claude-opus-4-8-20260801" }, { "anthropic-beta": f.headers["anthropic-beta"], "anthropic-version": "2023-06-01" });
  assert.equal(res.status, 200, await res.clone().text());
  const text = await res.text();
  assert.match(text, /event: message_stop/);
  const [sent] = await upstream("/copilot/v1/messages");
  assert.equal(sent.body.model, "claude-opus-4.8", "Claude Code's dashed id resolved");
  assert.ok(!JSON.stringify(sent.body.system).includes("x-anthropic-billing-header"), "billing line stripped");
  // Adaptive thinking: no interleaved-thinking beta; tool search's beta passes.
  assert.equal(sent.headers["anthropic-beta"], "context-management-2025-06-27,advanced-tool-use-2025-11-20");
  assert.equal(sent.body.max_tokens, 32000, "lowered to the model's limit");
  assert.deepEqual(sent.body.thinking, { type: "adaptive", display: "omitted" });
  assert.equal(sent.body.tools.length, f.body.tools.length);
  assert.deepEqual(Object.keys(sent.body.tools[0].input_schema.properties), Object.keys(f.body.tools[0].input_schema.properties), "schema key order kept");
  assert.equal(sent.headers["x-initiator"], "user");
});

test("Codex's recorded requests go through on a Responses model", async () => {
  for (const name of ["codex.responses.request.json", "codex.responses.tool_output.request.json"]) {
    const f = fixture(name);
    const res = await post("/v1/responses", { ...f.body, model: "gpt-5.1-codex" });
    assert.equal(res.status, 200, await res.clone().text());
    const text = await res.text();
    assert.match(text, /event: response\.completed/);
  }
  const [first, second] = (await upstream("/copilot/responses")).slice(-2);
  assert.equal(first.headers["x-initiator"], "user");
  assert.equal(second.headers["x-initiator"], "agent", "the turn after a tool call is agent traffic");
  assert.equal(second.body.store, false);
});

test("no first byte from Copilot: keep-alives, then the answer", async () => {
  await script({
    path: "/copilot/v1/messages",
    status: 200,
    headers_delay_ms: 1500,
    sse: [
      'event: message_start\ndata: {"type":"message_start","message":{"id":"msg_slow","type":"message","role":"assistant","model":"claude-sonnet-5","content":[],"stop_reason":null,"stop_sequence":null,"usage":{"input_tokens":3,"output_tokens":0}}}\n\n',
      'event: content_block_start\ndata: {"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}\n\n',
      'event: content_block_delta\ndata: {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"finally"}}\n\n',
      'event: content_block_stop\ndata: {"type":"content_block_stop","index":0}\n\n',
      'event: message_delta\ndata: {"type":"message_delta","delta":{"stop_reason":"end_turn","stop_sequence":null},"usage":{"output_tokens":1}}\n\n',
      'event: message_stop\ndata: {"type":"message_stop"}\n\n',
    ],
  });
  const t0 = Date.now();
  const res = await post("/v1/messages", { model: "claude-sonnet-5", max_tokens: 10, stream: true, messages: [{ role: "user", content: "slow" }] });
  const reader = res.body.getReader();
  const first = await reader.read();
  const firstByteMs = Date.now() - t0;
  let rest = new TextDecoder().decode(first.value);
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    rest += new TextDecoder().decode(value);
  }
  assert.equal(res.status, 200);
  assert.ok(firstByteMs < 1400, `the client heard something before Copilot answered (${firstByteMs} ms)`);
  assert.ok(rest.indexOf("event: ping") < rest.indexOf("event: message_start"), rest.slice(0, 200));
  assert.match(rest, /finally/);
  assert.match(rest, /event: message_stop/);

  // The SDK reads through the pings.
  await script({ path: "/copilot/chat/completions", status: 200, headers_delay_ms: 1000, sse: [
    'data: {"id":"c","object":"chat.completion.chunk","created":1,"model":"gpt-4.1","choices":[{"index":0,"delta":{"role":"assistant","content":"late"},"finish_reason":null}]}\n\n',
    'data: {"id":"c","object":"chat.completion.chunk","created":1,"model":"gpt-4.1","choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}\n\n',
    "data: [DONE]\n\n",
  ] });
  const s = await openai.chat.completions.create({ model: "gpt-4.1", stream: true, messages: [{ role: "user", content: "slow" }] });
  let text = "";
  for await (const c of s) text += c.choices[0]?.delta?.content ?? "";
  assert.equal(text, "late");
});

test("an upstream error after the stream was committed becomes one error event", async () => {
  await script({ path: "/copilot/v1/messages", status: 503, delay_ms: 1200, body: { type: "error", error: { type: "overloaded_error", message: "try later" } } });
  const res = await post("/v1/messages", { model: "claude-sonnet-5", max_tokens: 10, stream: true, messages: [{ role: "user", content: "slow error" }] });
  assert.equal(res.status, 200);
  const text = await res.text();
  assert.match(text, /event: ping/);
  assert.equal(text.match(/event: error/g)?.length, 1);
  assert.match(text, /try later/);
  assert.ok(!text.includes("message_stop"));
});

test("connection-bound item ids: rewritten, retried once, remembered", async () => {
  await mock("/requests", { method: "DELETE" });
  const foreign = Buffer.from("item minted on another Copilot connection, long enough").toString("base64");
  const input = [
    { type: "message", role: "user", content: [{ type: "input_text", text: "first" }] },
    { type: "message", role: "assistant", id: foreign, content: [{ type: "output_text", text: "earlier answer" }] },
    { type: "message", role: "user", content: [{ type: "input_text", text: "second" }] },
  ];
  const r = await openai.responses.create({ model: "gpt-5.1-codex", input });
  assert.equal(r.output_text, "Echo: second");
  const calls = await upstream("/copilot/responses");
  assert.equal(calls.length, 2, "one refusal, one retry");
  assert.equal(calls[0].status, 400);
  assert.equal(calls[0].body.input[1].id, foreign);
  assert.match(calls[1].body.input[1].id, /^msg_[0-9a-f]{16}$/);

  // The next turn rewrites the remembered id up front: no refusal.
  const r2 = await openai.responses.create({ model: "gpt-5.1-codex", input: [...input, { type: "message", role: "user", content: "third" }] });
  assert.equal(r2.output_text, "Echo: third");
  const after = await upstream("/copilot/responses");
  assert.equal(after.length, 3);
  assert.equal(after[2].body.input[1].id, calls[1].body.input[1].id, "the same replacement every time");
});

test("a context-window overflow becomes the 'prompt is too long' error Claude Code compacts on", async () => {
  await script({ path: "/copilot/v1/messages", status: 400, body: { error: { message: "prompt token count of 250000 exceeds the limit of 128000", code: "model_max_prompt_tokens_exceeded" } } });
  // That message is not one of the overflow shapes: passed on as it is.
  await assert.rejects(
    anthropic.messages.create({ model: "claude-sonnet-5", max_tokens: 10, messages: [{ role: "user", content: "big" }] }),
    (e) => e.status === 400 && /exceeds the limit/.test(e.error.error.message),
  );
  await script({ path: "/copilot/responses", status: 400, body: { error: { message: "Your input exceeds the context window of this model.", code: "context_length_exceeded" } } });
  await assert.rejects(
    anthropic.messages.create({ model: "gpt-5.1-codex", max_tokens: 10, messages: [{ role: "user", content: "big" }] }),
    (e) => {
      assert.equal(e.status, 400);
      assert.equal(e.error.error.type, "invalid_request_error");
      assert.match(e.error.error.message, /^prompt is too long/);
      return true;
    },
  );
});

test("max_tokens becomes max_completion_tokens for models that refuse it", async () => {
  const r = await openai.chat.completions.create({ model: "gpt-5-mini", max_tokens: 200, messages: [{ role: "user", content: "limits" }] });
  assert.equal(r.choices[0].message.content, "Echo: limits");
  const [sent] = (await upstream("/copilot/chat/completions")).slice(-1);
  assert.equal(sent.body.max_completion_tokens, 200);
  assert.equal(sent.body.max_tokens, undefined);
});

// Claude Code checks a model the user picks in /model with a one-token request (this body,
// from its source); Copilot's /responses refuses fewer than 16 output tokens.
const CLAUDE_CODE_PROBE = (model) => ({
  model,
  max_tokens: 1,
  messages: [{ role: "user", content: [{ type: "text", text: "Hi", cache_control: { type: "ephemeral" } }] }],
});

test("one-token model probes succeed on every path", async () => {
  await mock("/requests", { method: "DELETE" });
  const headers = { "anthropic-version": "2023-06-01", "anthropic-beta": "claude-code-20250219,interleaved-thinking-2025-05-14" };
  // Claude Code's probe, non-stream and stream, on the three targets.
  for (const [model, target] of [["claude-sonnet-5", "/copilot/v1/messages"], ["gpt-6-astra", "/copilot/responses"], ["gemini-3.6-flash", "/copilot/chat/completions"]]) {
    for (const stream of [false, true]) {
      const res = await post("/v1/messages?beta=true", { ...CLAUDE_CODE_PROBE(model), stream }, headers);
      assert.equal(res.status, 200, `${model} stream=${stream}: ${await res.clone().text()}`);
      if (stream) {
        assert.match(await res.text(), /event: message_stop/);
      } else {
        const answer = await res.json();
        assert.equal(answer.type, "message");
        assert.ok(["max_tokens", "end_turn"].includes(answer.stop_reason), answer.stop_reason);
        assert.equal(answer.usage.output_tokens >= 1, true);
      }
      const [sent] = (await upstream(target)).slice(-1);
      assert.equal(sent.status, 200, `${target} accepted the probe`);
    }
  }
  // Native Messages keeps the one token; a Responses upstream gets its minimum at least.
  const [claude] = await upstream("/copilot/v1/messages");
  assert.equal(claude.body.max_tokens, 1);
  for (const r of await upstream("/copilot/responses")) assert.ok(r.body.max_output_tokens >= 16, String(r.body.max_output_tokens));

  // The same probe from the OpenAI APIs: native Responses and Chat → Responses get 16
  // tokens, the answer is the model's first words.
  await mock("/requests", { method: "DELETE" });
  const native = await openai.responses.create({ model: "gpt-5.1-codex", input: "Hi", max_output_tokens: 1 });
  assert.equal(native.output_text, "Echo: Hi");
  const chat = await openai.chat.completions.create({ model: "gpt-5.1-codex", messages: [{ role: "user", content: "Hi" }], max_tokens: 1 });
  assert.equal(chat.choices[0].message.content, "Echo: Hi");
  const toClaude = await openai.responses.create({ model: "claude-sonnet-5", input: "Hi", max_output_tokens: 1 });
  assert.equal(toClaude.status, "incomplete", "Claude stopped at the one token asked for");
  const sent = await upstream("/copilot/responses");
  assert.deepEqual(sent.map((s) => [s.status, s.body.max_output_tokens]), [[200, 16], [200, 16]]);
});

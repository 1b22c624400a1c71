// The data plane on its native paths, driven by the official SDKs as users drive them:
// models, embeddings, and each generation API streamed and not, plus token healing,
// upstream errors and the headers Copilot sees.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import OpenAI from "openai";
import Anthropic from "@anthropic-ai/sdk";
import { startGateway } from "./harness.mjs";

let gw, openai, anthropic, key;
const mock = (p, init) => fetch(`${gw.mock.origin}/__mock${p}`, init).then((r) => r.json());
const upstreamRequests = (path) => mock(`/requests?path=${encodeURIComponent(path)}`);

before(async () => {
  gw = await startGateway();
  await gw.connectAccount();
  key = await gw.createKey("native");
  openai = new OpenAI({ apiKey: key.key, baseURL: `${gw.base}/v1`, fetch: gw.fetch, maxRetries: 0 });
  // Claude Code style: base URL without /v1, key as a bearer token.
  anthropic = new Anthropic({ authToken: key.key, apiKey: null, baseURL: gw.base, fetch: gw.fetch, maxRetries: 0 });
});
after(() => gw?.finish());

test("models: both SDKs list Copilot's catalog with limits and capabilities", async () => {
  const page = await openai.models.list();
  const ids = page.data.map((m) => m.id);
  assert.ok(ids.includes("claude-sonnet-5") && ids.includes("gpt-5.1-codex"));
  assert.equal(new Set(ids).size, ids.length, "duplicated upstream ids are merged");
  const sonnet = page.data.find((m) => m.id === "claude-sonnet-5");
  assert.equal(sonnet.object, "model");
  assert.ok(sonnet.max_output_tokens > 0 && sonnet.max_prompt_tokens > 0 && sonnet.context_window > 0);
  assert.equal(sonnet.capabilities.vision, true);
  assert.equal(sonnet.capabilities.tool_calls, true);
  assert.deepEqual(sonnet.supported_endpoints, ["/v1/messages", "/chat/completions"]);

  const ant = await anthropic.models.list();
  assert.ok(ant.data.some((m) => m.id === "claude-sonnet-5" && m.type === "model" && m.display_name));
});

test("embeddings: the openai SDK's default base64 answer decodes", async () => {
  const r = await openai.embeddings.create({ model: "text-embedding-3-small", input: ["hello", "world"] });
  assert.equal(r.data.length, 2);
  assert.ok(r.data[0].embedding.length > 8);
  assert.ok(r.data[0].embedding.every((x) => Number.isFinite(x)));
  assert.notDeepEqual(r.data[0].embedding, r.data[1].embedding);
  const sent = (await upstreamRequests("/copilot/embeddings")).at(-1);
  assert.equal(sent.body.encoding_format, "base64");
  await assert.rejects(openai.embeddings.create({ model: "text-embedding-3-small" }), (e) => e.status === 400 && /input/.test(e.error.message));
});

test("chat completions, non-stream and stream, on a chat model", async () => {
  const r = await openai.chat.completions.create({
    model: "gpt-4.1",
    messages: [{ role: "system", content: "be brief" }, { role: "user", content: "hello there" }],
  });
  assert.equal(r.choices[0].message.content, "Echo: hello there");
  assert.equal(r.choices[0].finish_reason, "stop");
  assert.ok(r.usage.prompt_tokens > 0);

  const stream = await openai.chat.completions.create({
    model: "gpt-4.1",
    messages: [{ role: "user", content: "stream me a reply please" }],
    stream: true,
    stream_options: { include_usage: true },
  });
  let text = "", chunks = 0, usage;
  for await (const c of stream) {
    chunks++;
    text += c.choices[0]?.delta?.content ?? "";
    if (c.usage) usage = c.usage;
  }
  assert.equal(text, "Echo: stream me a reply please");
  assert.ok(chunks > 3, "deltas arrive as separate chunks");
  assert.ok(usage.completion_tokens > 0);
});

test("messages, non-stream and stream, with Claude Code's dashed model id", async () => {
  const r = await anthropic.messages.create({
    model: "claude-opus-4-8-20260801",
    max_tokens: 200,
    messages: [{ role: "user", content: "hi from the anthropic sdk" }],
  });
  assert.equal(r.type, "message");
  assert.equal(r.content[0].text, "Echo: hi from the anthropic sdk");
  assert.equal(r.stop_reason, "end_turn");
  const sent = (await upstreamRequests("/copilot/v1/messages")).at(-1);
  assert.equal(sent.body.model, "claude-opus-4.8", "the dashed alias reaches Copilot as its dotted id");

  // The mock ends Anthropic streams with a stray `data: [DONE]`, as Copilot does.
  const stream = anthropic.messages.stream({
    model: "claude-sonnet-5",
    max_tokens: 200,
    messages: [{ role: "user", content: "stream this" }],
  });
  const deltas = [];
  stream.on("text", (t) => deltas.push(t));
  const final = await stream.finalMessage();
  assert.equal(final.content[0].text, "Echo: stream this");
  assert.ok(deltas.length > 1);
  assert.ok(final.usage.output_tokens > 0);
});

test("count_tokens: Copilot counts for Claude, a local estimate for the rest", async () => {
  await mock("/requests", { method: "DELETE" });
  const params = {
    system: [{ type: "text", text: "x-anthropic-billing-header: cc_version=2.1.197; cch=abcdef01;" }, { type: "text", text: "be brief" }],
    messages: [{ role: "user", content: "count these words please" }],
    tools: [{ name: "Read", description: "read a file", input_schema: { type: "object", properties: { path: { type: "string" } } }, eager_input_streaming: true }],
  };
  const claude = await anthropic.messages.countTokens({ model: "claude-opus-4-8-20260801", ...params });
  assert.ok(claude.input_tokens > 0);
  const [sent] = await upstreamRequests("/copilot/v1/messages/count_tokens");
  assert.equal(sent.body.model, "claude-opus-4.8");
  assert.ok(!JSON.stringify(sent.body).includes("billing-header"));
  assert.ok(!("eager_input_streaming" in sent.body.tools[0]));
  assert.equal(sent.body.max_tokens, undefined);

  // gpt-4.1 is not served on /v1/messages: estimated locally, Copilot not asked.
  const gpt = await anthropic.messages.countTokens({ model: "gpt-4.1", ...params });
  assert.ok(gpt.input_tokens > 300, "tools and text are counted");
  assert.equal((await upstreamRequests("/copilot/v1/messages/count_tokens")).length, 1);

  // When Copilot refuses, the estimate answers instead of an error.
  await mock("/script", { method: "POST", body: JSON.stringify({ path: "/copilot/v1/messages/count_tokens", status: 500, body: "no" }) });
  const fallback = await anthropic.messages.countTokens({ model: "claude-sonnet-5", ...params });
  assert.equal(fallback.input_tokens, gpt.input_tokens);
});

test("raw messages stream: no [DONE], ends with message_stop", async () => {
  const res = await gw.fetch(`${gw.base}/v1/messages`, {
    method: "POST",
    headers: { "x-api-key": key.key, "content-type": "application/json", "anthropic-version": "2023-06-01" },
    body: JSON.stringify({ model: "claude-sonnet-5", max_tokens: 50, stream: true, messages: [{ role: "user", content: "raw" }] }),
  });
  assert.equal(res.status, 200);
  assert.match(res.headers.get("content-type"), /^text\/event-stream/);
  const body = await res.text();
  assert.ok(!body.includes("[DONE]"));
  assert.match(body.trimEnd(), /event: message_stop\ndata: \{[^\n]*\}$/);
});

test("responses, non-stream and the SDK's stream helper (item ids kept stable)", async () => {
  const r = await openai.responses.create({ model: "gpt-5.1-codex", input: "hello responses" });
  assert.equal(r.status, "completed");
  assert.equal(r.output_text, "Echo: hello responses");

  // Copilot changes the item id between output_item.added and .done; the SDK's helper
  // throws "Completed output item identity changed" unless the gateway fixes it.
  const raw = await gw.fetch(`${gw.base}/v1/responses`, {
    method: "POST",
    headers: { authorization: `Bearer ${key.key}`, "content-type": "application/json" },
    body: JSON.stringify({ model: "gpt-5.1-codex", input: "raw ids", stream: true }),
  });
  const events = (await raw.text()).split("\n\n").filter(Boolean).map((f) => JSON.parse(f.split("\ndata: ")[1]));
  const added = events.find((e) => e.type === "response.output_item.added");
  const done = events.find((e) => e.type === "response.output_item.done");
  assert.equal(done.item.id, added.item.id, "output_item.done keeps the id output_item.added announced");
  const [upstream] = (await upstreamRequests("/copilot/responses")).slice(-1);
  assert.notEqual(upstream.reply.item_ids[0].added, upstream.reply.item_ids[0].done, "the mock really sent different ids");
  assert.equal(added.item.id, upstream.reply.item_ids[0].added);
  assert.deepEqual(events.map((e) => e.sequence_number), events.map((_, i) => i));

  const stream = openai.responses.stream({ model: "gpt-5.1-codex", input: "stream responses" });
  let text = "";
  stream.on("response.output_text.delta", (e) => (text += e.delta));
  const final = await stream.finalResponse();
  assert.equal(text, "Echo: stream responses");
  assert.equal(final.output_text, "Echo: stream responses");
});

test("a model without supported_endpoints is probed once, then served from the cached probe", async () => {
  await mock("/requests", { method: "DELETE" });
  const r = await openai.chat.completions.create({ model: "gpt-3.5-turbo", messages: [{ role: "user", content: "legacy" }] });
  assert.equal(r.choices[0].message.content, "Echo: legacy");
  const probes = (await mock("/requests?prefix=/copilot/")).filter((q) => q.body && Object.keys(q.body).length === 1);
  assert.deepEqual(probes.map((q) => q.path).sort(), ["/copilot/chat/completions", "/copilot/responses", "/copilot/v1/messages"]);
  // The probe said chat only: a Responses client is served through translation to chat.
  const viaChat = await openai.responses.create({ model: "gpt-3.5-turbo", input: "hi" });
  assert.equal(viaChat.output_text, "Echo: hi");
  const after = await mock("/requests?prefix=/copilot/");
  assert.equal(after.filter((q) => q.body && Object.keys(q.body).length === 1).length, 3, "no second probe");
  assert.equal(after.at(-1).path, "/copilot/chat/completions");
});

test("a model that serves none of the generation APIs gets a 400 naming it", async () => {
  for (const call of [
    () => openai.responses.create({ model: "text-embedding-3-small", input: "hi" }),
    () => openai.chat.completions.create({ model: "text-embedding-3-small", messages: [{ role: "user", content: "hi" }] }),
  ]) {
    await assert.rejects(call(), (e) => {
      assert.equal(e.status, 400);
      assert.equal(e.error.code, "unsupported_api_for_model");
      assert.match(e.error.message, /text-embedding-3-small/);
      return true;
    });
  }
});


test("unknown models get a 404 naming the model and close matches", async () => {
  await assert.rejects(
    anthropic.messages.create({ model: "claude-sonet-5", max_tokens: 10, messages: [{ role: "user", content: "hi" }] }),
    (e) => {
      assert.equal(e.status, 404);
      assert.equal(e.error.error.type, "not_found_error");
      assert.match(e.error.error.message, /'claude-sonet-5'.*claude-sonnet-5/);
      return true;
    },
  );
});

test("bad request bodies get a 400 in the caller's format, naming the field", async () => {
  const post = (p, body, headers = {}) =>
    gw.fetch(`${gw.base}${p}`, { method: "POST", headers: { authorization: `Bearer ${key.key}`, ...headers }, body });
  const a = await post("/v1/messages", "{oops");
  assert.equal(a.status, 400);
  const ab = await a.json();
  assert.equal(ab.type, "error");
  assert.equal(ab.error.type, "invalid_request_error");
  assert.match(ab.error.message, /not valid JSON/);
  const o = await post("/v1/chat/completions", JSON.stringify({ model: "gpt-4.1", messages: "hi" }));
  assert.equal(o.status, 400);
  const ob = await o.json();
  assert.equal(ob.error.param, "messages");
  const r = await post("/responses", JSON.stringify({ input: "hi" }));
  assert.equal((await r.json()).error.param, "model");
  const get = await gw.fetch(`${gw.base}/v1/chat/completions`, { headers: { authorization: `Bearer ${key.key}` } });
  assert.equal(get.status, 405);
  const nf = await gw.fetch(`${gw.base}/v1/nothing`, { method: "POST", headers: { authorization: `Bearer ${key.key}` } });
  assert.equal(nf.status, 404);
});

test("upstream headers are built from scratch: initiator, vision, betas", async () => {
  await mock("/requests", { method: "DELETE" });
  await anthropic.messages.create(
    {
      model: "claude-sonnet-5",
      max_tokens: 100,
      messages: [
        { role: "user", content: "use a tool please" },
        { role: "assistant", content: [{ type: "tool_use", id: "toolu_1", name: "get_time", input: {} }] },
        { role: "user", content: [{ type: "tool_result", tool_use_id: "toolu_1", content: "12:00" }] },
      ],
      tools: [{ name: "get_time", description: "time", input_schema: { type: "object", properties: {} } }],
    },
    { headers: { "anthropic-beta": "claude-code-20250219,interleaved-thinking-2025-05-14,prompt-caching-scope-2026-01-05" } },
  );
  await openai.chat.completions.create({
    model: "gpt-4.1",
    messages: [{ role: "user", content: [{ type: "text", text: "what is this" }, { type: "image_url", image_url: { url: "data:image/png;base64,iVBORw0KGgo=" } }] }],
  });
  const [msg] = await upstreamRequests("/copilot/v1/messages");
  assert.equal(msg.headers["x-initiator"], "agent", "a tool-result turn is agent traffic");
  assert.equal(msg.headers["anthropic-beta"], "interleaved-thinking-2025-05-14");
  assert.equal(msg.headers["copilot-vision-request"], undefined);
  const [chat] = await upstreamRequests("/copilot/chat/completions");
  assert.equal(chat.headers["x-initiator"], "user");
  assert.equal(chat.headers["copilot-vision-request"], "true");
  for (const r of [msg, chat]) {
    assert.ok(!Object.keys(r.headers).some((h) => h.startsWith("x-stainless") || h === "x-api-key"));
    assert.match(r.headers["x-request-id"], /^[0-9a-f-]{36}$/);
    assert.ok(!r.headers.authorization.includes(key.key), "the client's key never goes upstream");
  }
});

test("an expired Copilot token is refreshed once and the request succeeds", async () => {
  const before = await mock("/stats");
  const exchanges = (s) => Object.values(s.token_exchanges).reduce((a, b) => a + b, 0);
  await mock("/copilot/expire", { method: "POST" });
  const r = await openai.chat.completions.create({ model: "gpt-4.1", messages: [{ role: "user", content: "after expiry" }] });
  assert.equal(r.choices[0].message.content, "Echo: after expiry");
  const after = await mock("/stats");
  assert.equal(exchanges(after) - exchanges(before), 1, "exactly one token exchange");
  // The new token is cached: the next call needs no exchange.
  await openai.chat.completions.create({ model: "gpt-4.1", messages: [{ role: "user", content: "again" }] });
  assert.equal(exchanges(await mock("/stats")), exchanges(after));
});

test("upstream errors pass through with status and retry-after", async () => {
  await mock("/script", {
    method: "POST",
    body: JSON.stringify({
      path: "/copilot/chat/completions",
      status: 429,
      headers: { "retry-after": "7", "content-type": "application/json" },
      body: { error: { message: "rate limited upstream", type: "rate_limit_error", code: "rate_limited" } },
    }),
  });
  await assert.rejects(
    openai.chat.completions.create({ model: "gpt-4.1", messages: [{ role: "user", content: "hi" }] }),
    (e) => {
      assert.equal(e.status, 429);
      assert.equal(e.headers.get("retry-after"), "7");
      assert.equal(e.error.message, "rate limited upstream");
      return true;
    },
  );
  await mock("/script", {
    method: "POST",
    body: JSON.stringify({ path: "/copilot/v1/messages", status: 500, body: "upstream exploded" }),
  });
  await assert.rejects(
    anthropic.messages.create({ model: "claude-sonnet-5", max_tokens: 10, messages: [{ role: "user", content: "hi" }] }),
    (e) => e.status === 500 && e.error.type === "error" && e.error.error.message === "upstream exploded",
  );
});

test("a stream cut off upstream ends with one error event, never a fake success", async () => {
  await mock("/script", {
    method: "POST",
    body: JSON.stringify({
      path: "/copilot/v1/messages",
      status: 200,
      headers: { "content-type": "text/event-stream" },
      sse: [
        'event: message_start\ndata: {"type":"message_start","message":{"id":"msg_1","type":"message","role":"assistant","model":"claude-sonnet-5","content":[],"stop_reason":null,"stop_sequence":null,"usage":{"input_tokens":5,"output_tokens":0}}}\n\n',
        'event: content_block_start\ndata: {"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}\n\n',
        'event: content_block_delta\ndata: {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"partial"}}\n\n',
      ],
    }),
  });
  const stream = anthropic.messages.stream({ model: "claude-sonnet-5", max_tokens: 10, messages: [{ role: "user", content: "hi" }] });
  await assert.rejects(stream.finalMessage(), /ended before it was complete/);
});

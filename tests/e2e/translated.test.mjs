// Every translated path, driven by the official SDKs: each client API on a model Copilot
// serves only through another API, streamed and not, with a tool round trip, and checks
// on what Copilot actually received.
import { test, before, after, describe } from "node:test";
import assert from "node:assert/strict";
import OpenAI from "openai";
import Anthropic from "@anthropic-ai/sdk";
import { startGateway } from "./harness.mjs";

let gw, openai, anthropic;
const mock = (p, init) => fetch(`${gw.mock.origin}/__mock${p}`, init).then((r) => r.json());
const lastUpstream = async (path) => (await mock(`/requests?path=${encodeURIComponent(path)}`)).at(-1);

before(async () => {
  gw = await startGateway();
  await gw.connectAccount();
  const key = await gw.createKey("translated");
  openai = new OpenAI({ apiKey: key.key, baseURL: `${gw.base}/v1`, fetch: gw.fetch, maxRetries: 0 });
  anthropic = new Anthropic({ apiKey: key.key, baseURL: gw.base, fetch: gw.fetch, maxRetries: 0 });
});
after(() => gw?.finish());

const weatherTool = {
  name: "get_weather",
  description: "Weather for a city",
  input_schema: { type: "object", properties: { city: { type: "string" } }, required: ["city"] },
};
const chatTool = { type: "function", function: { name: weatherTool.name, description: weatherTool.description, parameters: weatherTool.input_schema } };
const responsesTool = { type: "function", name: weatherTool.name, description: weatherTool.description, parameters: weatherTool.input_schema };
const PNG = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAQAAAC1HAwCAAAAC0lEQVR42mNkYAAAAAYAAjCB0C8AAAAASUVORK5CYII=";

// ---------- Anthropic Messages clients (Claude Code) ----------

for (const [label, model, upstreamPath] of [
  ["via /responses", "gpt-5.1-codex", "/copilot/responses"],
  ["via /chat/completions", "gemini-2.5-pro", "/copilot/chat/completions"],
]) {
  describe(`Messages ${label} (${model})`, () => {
    test("create and stream", async () => {
      const r = await anthropic.messages.create({
        model, max_tokens: 1024, system: [{ type: "text", text: "be brief" }],
        messages: [{ role: "user", content: "hello translated" }],
      });
      assert.equal(r.type, "message");
      assert.equal(r.role, "assistant");
      assert.equal(r.content.at(-1).type, "text");
      assert.equal(r.content.at(-1).text, "Echo: hello translated");
      assert.equal(r.stop_reason, "end_turn");
      assert.ok(r.usage.input_tokens > 0 && r.usage.output_tokens > 0);
      const sent = await lastUpstream(upstreamPath);
      assert.equal(sent.body.model, model);
      assert.equal(sent.body.stream, true, "translated paths always stream from Copilot");

      const stream = anthropic.messages.stream({ model, max_tokens: 1024, messages: [{ role: "user", content: "stream translated" }] });
      const deltas = [];
      stream.on("text", (t) => deltas.push(t));
      const final = await stream.finalMessage();
      assert.equal(final.content.at(-1).text, "Echo: stream translated");
      assert.equal(deltas.join(""), "Echo: stream translated");
      assert.ok(deltas.length > 1);
    });

    test("tool round trip", async () => {
      const first = await anthropic.messages.create({
        model, max_tokens: 1024, tools: [weatherTool],
        messages: [{ role: "user", content: "use a tool to get the weather" }],
      });
      assert.equal(first.stop_reason, "tool_use");
      const call = first.content.find((b) => b.type === "tool_use");
      assert.equal(call.name, "get_weather");
      assert.deepEqual(call.input, { city: "mock" });
      const sent = await lastUpstream(upstreamPath);
      assert.equal(sent.headers["x-initiator"], "user");

      const stream = anthropic.messages.stream({
        model, max_tokens: 1024, tools: [weatherTool],
        messages: [
          { role: "user", content: "use a tool to get the weather" },
          { role: "assistant", content: first.content },
          { role: "user", content: [{ type: "tool_result", tool_use_id: call.id, content: "sunny, 21C" }] },
        ],
      });
      const final = await stream.finalMessage();
      assert.equal(final.content.at(-1).text, "Tool result: sunny, 21C");
      const second = await lastUpstream(upstreamPath);
      assert.equal(second.headers["x-initiator"], "agent", "a tool-result turn is agent traffic");
    });

    test("an image reaches the model with the vision header", async () => {
      const r = await anthropic.messages.create({
        model, max_tokens: 1024,
        messages: [{ role: "user", content: [
          { type: "image", source: { type: "base64", media_type: "image/png", data: PNG } },
          { type: "text", text: "what is this" },
        ] }],
      });
      assert.equal(r.content.at(-1).text, "Echo: what is this [1 image]");
      const sent = await lastUpstream(upstreamPath);
      assert.equal(sent.headers["copilot-vision-request"], "true");
    });

    test("count_tokens is estimated locally", async () => {
      const n = await anthropic.messages.countTokens({ model, messages: [{ role: "user", content: "count me" }] });
      assert.ok(n.input_tokens > 0);
    });
  });
}

test("Messages via /responses: Claude Code's thinking request gets reasoning back as signed thinking", async () => {
  // Claude Code streams (the SDK refuses a 32000-token non-stream call).
  const r = await anthropic.messages.stream({
    model: "gpt-5.1-codex", max_tokens: 32000, thinking: { type: "enabled", budget_tokens: 31999 },
    messages: [{ role: "user", content: "think first" }],
  }).finalMessage();
  const thinking = r.content.find((b) => b.type === "thinking" || b.type === "redacted_thinking");
  assert.ok(thinking, JSON.stringify(r.content));
  const sent = await lastUpstream("/copilot/responses");
  assert.ok(sent.body.reasoning.effort, "thinking maps to a reasoning effort");
  assert.ok(sent.body.include.includes("reasoning.encrypted_content"));
  // The next turn carries the reasoning back unchanged.
  const next = await anthropic.messages.stream({
    model: "gpt-5.1-codex", max_tokens: 32000, thinking: { type: "enabled", budget_tokens: 31999 },
    messages: [
      { role: "user", content: "think first" },
      { role: "assistant", content: r.content },
      { role: "user", content: "and again" },
    ],
  }).finalMessage();

  assert.equal(next.content.at(-1).text, "Echo: and again");
  const replay = await lastUpstream("/copilot/responses");
  const reasoning = replay.body.input.find((i) => i.type === "reasoning");
  assert.equal(reasoning.encrypted_content, thinking.signature ?? thinking.data, "signature carried without loss");
});

// ---------- OpenAI Responses clients (Codex) ----------

for (const [label, model, upstreamPath] of [
  ["via /v1/messages", "claude-sonnet-5", "/copilot/v1/messages"],
  ["via /chat/completions", "gpt-4.1", "/copilot/chat/completions"],
]) {
  describe(`Responses ${label} (${model})`, () => {
    test("create and stream", async () => {
      const r = await openai.responses.create({ model, instructions: "be brief", input: "hello responses" });
      assert.equal(r.object, "response");
      assert.equal(r.status, "completed");
      assert.equal(r.output_text, "Echo: hello responses");
      assert.ok(r.usage.input_tokens > 0 && r.usage.output_tokens > 0);
      assert.equal((await lastUpstream(upstreamPath)).body.stream, true);

      const stream = openai.responses.stream({ model, input: [{ role: "user", content: "stream responses" }] });
      let text = "";
      const seq = [];
      stream.on("response.output_text.delta", (e) => (text += e.delta));
      stream.on("event", (e) => seq.push(e.sequence_number));
      const final = await stream.finalResponse();
      assert.equal(text, "Echo: stream responses");
      assert.equal(final.output_text, "Echo: stream responses");
      assert.deepEqual(seq, seq.map((_, i) => i), "sequence numbers count up from 0");
    });

    test("tool round trip", async () => {
      const first = await openai.responses.create({ model, tools: [responsesTool], input: "use a tool to get the weather" });
      const call = first.output.find((i) => i.type === "function_call");
      assert.equal(call.name, "get_weather");
      assert.deepEqual(JSON.parse(call.arguments), { city: "mock" });
      const stream = openai.responses.stream({
        model, tools: [responsesTool],
        input: [
          { role: "user", content: "use a tool to get the weather" },
          ...first.output,
          { type: "function_call_output", call_id: call.call_id, output: "sunny, 21C" },
        ],
      });
      const final = await stream.finalResponse();
      assert.equal(final.output_text, "Tool result: sunny, 21C");
      assert.equal((await lastUpstream(upstreamPath)).headers["x-initiator"], "agent");
    });
  });
}

test("Responses via /v1/messages: Codex's custom apply_patch tool round-trips as a custom tool", async () => {
  const applyPatch = { type: "custom", name: "apply_patch", description: "Edit files with a patch.", format: { type: "grammar", syntax: "lark", definition: "start: /.+/s" } };
  const r = await openai.responses.create({
    model: "claude-sonnet-5", tools: [applyPatch], tool_choice: { type: "custom", name: "apply_patch" }, input: "patch it",
  });
  const call = r.output.find((i) => i.type === "custom_tool_call");
  assert.ok(call, JSON.stringify(r.output));
  assert.equal(call.name, "apply_patch");
  assert.equal(typeof call.input, "string");
  const sent = await lastUpstream("/copilot/v1/messages");
  assert.equal(sent.body.tools[0].name, "apply_patch");
  assert.deepEqual(sent.body.tools[0].input_schema.required, ["input"]);
});

// ---------- OpenAI Chat Completions clients ----------

for (const [label, model, upstreamPath] of [
  ["via /v1/messages", "claude-sonnet-5", "/copilot/v1/messages"],
  ["via /responses", "gpt-5.1-codex", "/copilot/responses"],
]) {
  describe(`Chat ${label} (${model})`, () => {
    test("create and stream, usage only when asked", async () => {
      const r = await openai.chat.completions.create({
        model, messages: [{ role: "system", content: "be brief" }, { role: "user", content: "hello chat" }],
      });
      assert.equal(r.object, "chat.completion");
      assert.equal(r.choices.length, 1);
      assert.equal(r.choices[0].message.content, "Echo: hello chat");
      assert.equal(r.choices[0].finish_reason, "stop");
      assert.ok(r.usage.prompt_tokens > 0 && r.usage.completion_tokens > 0);
      assert.equal((await lastUpstream(upstreamPath)).body.stream, true);

      for (const includeUsage of [false, true]) {
        const res = await gw.fetch(`${gw.base}/v1/chat/completions`, {
          method: "POST",
          headers: { authorization: `Bearer ${openai.apiKey}`, "content-type": "application/json" },
          body: JSON.stringify({ model, stream: true, messages: [{ role: "user", content: "stream chat" }], ...(includeUsage ? { stream_options: { include_usage: true } } : {}) }),
        });
        const raw = await res.text();
        assert.equal(raw.match(/data: \[DONE\]/g)?.length, 1, "exactly one [DONE]");
        assert.ok(raw.trimEnd().endsWith("data: [DONE]"));
        assert.equal(raw.includes('"usage"'), includeUsage);
      }
      const stream = await openai.chat.completions.create({ model, stream: true, messages: [{ role: "user", content: "stream chat" }] });
      let text = "";
      for await (const c of stream) text += c.choices[0]?.delta?.content ?? "";
      assert.equal(text, "Echo: stream chat");
    });

    test("tool round trip", async () => {
      const first = await openai.chat.completions.create({ model, tools: [chatTool], messages: [{ role: "user", content: "use a tool to get the weather" }] });
      assert.equal(first.choices[0].finish_reason, "tool_calls");
      const [call] = first.choices[0].message.tool_calls;
      assert.equal(call.function.name, "get_weather");
      const stream = openai.chat.completions.stream({
        model, tools: [chatTool],
        messages: [
          { role: "user", content: "use a tool to get the weather" },
          first.choices[0].message,
          { role: "tool", tool_call_id: call.id, content: "sunny, 21C" },
        ],
      });
      const final = await stream.finalChatCompletion();
      assert.equal(final.choices[0].message.content, "Tool result: sunny, 21C");
      assert.equal((await lastUpstream(upstreamPath)).headers["x-initiator"], "agent");
    });
  });
}

test("a translated stream cut off upstream ends with one error, not a fake finish", async () => {
  await mock("/script", {
    method: "POST",
    body: JSON.stringify({
      path: "/copilot/responses",
      status: 200,
      headers: { "content-type": "text/event-stream" },
      sse: [
        'event: response.created\ndata: {"type":"response.created","sequence_number":0,"response":{"id":"resp_x","object":"response","status":"in_progress","output":[]}}\n\n',
        'event: response.output_item.added\ndata: {"type":"response.output_item.added","sequence_number":1,"output_index":0,"item":{"id":"msg_x","type":"message","role":"assistant","content":[]}}\n\n',
        'event: response.output_text.delta\ndata: {"type":"response.output_text.delta","sequence_number":2,"output_index":0,"content_index":0,"item_id":"msg_x","delta":"partial"}\n\n',
      ],
    }),
  });
  const stream = anthropic.messages.stream({ model: "gpt-5.1-codex", max_tokens: 100, messages: [{ role: "user", content: "hi" }] });
  await assert.rejects(stream.finalMessage(), /ended|incomplete|interrupted/i);

  await mock("/script", {
    method: "POST",
    body: JSON.stringify({ path: "/copilot/v1/messages", status: 529, headers: { "content-type": "application/json" }, body: { type: "error", error: { type: "overloaded_error", message: "Overloaded" } } }),
  });
  await assert.rejects(
    openai.chat.completions.create({ model: "claude-sonnet-5", messages: [{ role: "user", content: "hi" }] }),
    (e) => e.status === 529 && e.error.message === "Overloaded",
  );
});

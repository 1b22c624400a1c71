// What Codex sends beyond a plain turn, end to end on every path a Responses request can
// take: remote compaction (Codex's `compaction_trigger` item and OpenAI's
// `/v1/responses/compact`), tools grouped under namespaces, and compressed request bodies
// (zstd, as Codex sends them, and gzip). The real Codex drives the same in clients.test.mjs.
import { test, before, after, beforeEach } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import zlib from "node:zlib";
import { init as zstdInit, compress as zstdCompress } from "@bokuweb/zstd-wasm";
import { startGateway } from "./harness.mjs";

let gw, key;
const mock = (p, init) => fetch(`${gw.mock.origin}/__mock${p}`, init).then((r) => r.json());
const upstream = async (path) => mock(`/requests?path=${encodeURIComponent(path)}`);
const fixture = (name) => JSON.parse(readFileSync(new URL(`../fixtures/${name}`, import.meta.url), "utf8"));
const hourAgo = () => new Date(Date.now() - 3600_000).toISOString().slice(0, 13);
const hourAhead = () => new Date(Date.now() + 3600_000).toISOString().slice(0, 13);

/** POSTs raw bytes (a JSON body unless `raw` is given) as Codex does. */
const post = (path, body, headers = {}, raw) =>
  gw.fetch(`${gw.base}${path}`, {
    method: "POST",
    headers: { authorization: `Bearer ${key.key}`, "content-type": "application/json", ...headers },
    body: raw ?? JSON.stringify(body),
  });

/** An SSE body as [{event, data}]. */
function events(text) {
  return text
    .split("\n\n")
    .filter((f) => f.includes("data:"))
    .map((f) => {
      const event = /^event: (.*)$/m.exec(f)?.[1];
      const data = f.split("\n").filter((l) => l.startsWith("data: ")).map((l) => l.slice(6)).join("\n");
      return { event, data: JSON.parse(data) };
    });
}

/** The summary inside the gateway's own `encrypted_content`. */
function summaryOf(content) {
  assert.match(content, /^cgwc1\./, "the gateway's own payload");
  return JSON.parse(Buffer.from(content.slice(6), "base64url").toString()).summary;
}

// A Responses request reaches Copilot on its native /responses, or translated to
// /v1/messages (Claude) or /chat/completions (a chat-only model).
const PATHS = [
  ["gpt-5.1-codex", "/copilot/responses"],
  ["claude-sonnet-5", "/copilot/v1/messages"],
  ["gpt-4.1", "/copilot/chat/completions"],
];
const lastUserText = (sent) => JSON.stringify(sent.body.input ?? sent.body.messages).slice(-2000);

before(async () => {
  gw = await startGateway();
  await gw.connectAccount();
  key = await gw.createKey("codex");
  await zstdInit();
});
after(() => gw?.finish());
beforeEach(() => mock("/requests", { method: "DELETE" }));

/** Codex's compaction request (remote compaction v2), as Codex 0.169 sends it. */
function compactionRequest(model, stream = true) {
  return {
    model,
    stream,
    store: false,
    tool_choice: "auto",
    parallel_tool_calls: true,
    include: ["reasoning.encrypted_content"],
    tools: [
      { type: "function", name: "exec_command", description: "Run a command.", parameters: { type: "object", properties: { cmd: { type: "string" } }, required: ["cmd"] } },
      { type: "web_search", external_web_access: true },
    ],
    input: [
      { type: "message", role: "developer", content: [{ type: "input_text", text: "You are Codex." }] },
      { type: "message", role: "user", content: [{ type: "input_text", text: "fix the failing test" }] },
      { type: "function_call", call_id: "call_1", name: "exec_command", arguments: JSON.stringify({ cmd: "npm test" }) },
      { type: "function_call_output", call_id: "call_1", output: "1 failing: expected 2, got 3" },
      { type: "compaction_trigger" },
    ],
  };
}

test("compaction_trigger: the model summarises on every path, the answer is one compaction item", async () => {
  for (const [model, path] of PATHS) {
    await mock("/requests", { method: "DELETE" });
    const res = await post("/v1/responses", compactionRequest(model), { "x-codex-beta-features": "remote_compaction_v2" });
    const text = await res.text();
    assert.equal(res.status, 200, `${model}: ${text}`);
    const evs = events(text);
    const done = evs.filter((e) => e.event === "response.output_item.done");
    assert.equal(done.length, 1, `${model}: exactly one output item, as Codex requires: ${text.slice(0, 1500)}`);
    const item = done[0].data.item;
    assert.equal(item.type, "compaction", model);
    const completed = evs.at(-1);
    assert.equal(completed.event, "response.completed", model);
    assert.deepEqual(completed.data.response.output, [item], model);
    assert.ok(completed.data.response.usage.input_tokens > 0, `${model}: usage kept`);
    const seq = evs.map((e) => e.data.sequence_number);
    assert.deepEqual(seq, seq.map((_, i) => i), `${model}: sequence numbers without gaps`);

    // The model (not the gateway) wrote the summary: the mock echoes the instruction.
    const [sent] = await upstream(path);
    assert.ok(sent, `${model}: Copilot got the summary request`);
    assert.equal(sent.status, 200);
    assert.match(lastUserText(sent), /Write that summary now/, model);
    assert.ok(!JSON.stringify(sent.body).includes("compaction_trigger"), `${model}: the trigger never reaches Copilot`);
    assert.equal(sent.flags.x_initiator, "agent", `${model}: a compaction is no user prompt`);
    assert.equal(summaryOf(item.encrypted_content), sent.reply.text, model);
    assert.match(sent.reply.text, /^Echo: The conversation above is about to be replaced/);
  }
});

test("a compaction item is read back as its summary on every path", async () => {
  const res = await post("/v1/responses", compactionRequest("gpt-5.1-codex", false));
  assert.equal(res.status, 200, await res.clone().text());
  const answer = await res.json();
  assert.equal(answer.object, "response");
  assert.equal(answer.output.length, 1);
  const compaction = answer.output[0];
  const summary = summaryOf(compaction.encrypted_content);
  for (const [model, path] of PATHS) {
    await mock("/requests", { method: "DELETE" });
    // What Codex sends after a compaction: the kept user messages, the compaction, then more.
    const next = await post("/v1/responses", {
      model,
      stream: true,
      input: [
        { type: "message", role: "user", content: [{ type: "input_text", text: "fix the failing test" }] },
        compaction,
        { type: "message", role: "user", content: [{ type: "input_text", text: "go on" }] },
      ],
    });
    const text = await next.text();
    assert.equal(next.status, 200, `${model}: ${text}`);
    assert.match(text, /Echo: /, model);
    const [sent] = await upstream(path);
    const body = JSON.stringify(sent.body);
    assert.ok(body.includes(JSON.stringify(summary).slice(1, -1)), `${model}: the model reads the summary: ${body.slice(0, 1500)}`);
    assert.ok(!body.includes("cgwc1."), `${model}: no gateway payload reaches Copilot`);
  }
  // Another service's compaction cannot be read on the way to another API: refused, not dropped.
  const foreign = await post("/v1/responses", {
    model: "claude-sonnet-5",
    input: [{ type: "compaction", encrypted_content: "gAAAAforeignpayload" }, { type: "message", role: "user", content: "go on" }],
  });
  assert.equal(foreign.status, 400);
  const err = (await foreign.json()).error;
  assert.equal(err.param, "input[0].encrypted_content");
  assert.match(err.message, /compaction item this gateway did not make/);
});

test("POST /v1/responses/compact answers in OpenAI's shape on every path, and is metered", async () => {
  const k = await gw.createKey("compact-meter");
  for (const [model, path] of PATHS) {
    await mock("/requests", { method: "DELETE" });
    const res = await gw.fetch(`${gw.base}/v1/responses/compact`, {
      method: "POST",
      headers: { authorization: `Bearer ${k.key}`, "content-type": "application/json" },
      body: JSON.stringify({
        model,
        instructions: "You are a coding agent.",
        input: [
          { type: "message", role: "user", content: [{ type: "input_text", text: "rename foo to bar" }] },
          { type: "message", role: "assistant", content: [{ type: "output_text", text: "Renamed in 3 files." }] },
          { type: "message", role: "user", content: "now run the tests" },
          { type: "function_call", call_id: "c9", name: "exec_command", arguments: "{}" },
          { type: "function_call_output", call_id: "c9", output: "all green" },
        ],
        tools: [{ type: "function", name: "exec_command", parameters: { type: "object" } }],
      }),
    });
    const text = await res.text();
    assert.equal(res.status, 200, `${model}: ${text}`);
    const r = JSON.parse(text);
    assert.equal(r.object, "response.compaction", model);
    assert.match(r.id, /^resp_|^msg_|^chatcmpl|^[a-z]/);
    assert.equal(typeof r.created_at, "number");
    assert.deepEqual(
      r.output.map((i) => i.type ?? i.role),
      ["message", "message", "compaction"],
      `${model}: the user messages, then the compaction`,
    );
    assert.ok(r.output.slice(0, 2).every((m) => m.role === "user"));
    const [sent] = await upstream(path);
    assert.ok(sent, model);
    assert.equal(sent.body.stream, path === "/copilot/responses" ? false : true, `${model}: answered whole`);
    assert.equal(sent.flags.x_initiator, "agent", `${model}: a compaction is no user prompt`);
    assert.equal(summaryOf(r.output[2].encrypted_content), sent.reply.text, model);
    assert.ok(r.usage.input_tokens > 0 && r.usage.output_tokens > 0, `${model}: usage ${JSON.stringify(r.usage)}`);
  }
  // Counted like any request: three, with their tokens, under the models that served them.
  let records = [];
  for (let i = 0; i < 50 && records.reduce((n, x) => n + x.requests, 0) < 3; i++) {
    const u = await gw.fetch(`${gw.base}/api/usage?${new URLSearchParams({ start: hourAgo(), end: hourAhead(), key_id: k.id, group_by: "model" })}`, {
      headers: { authorization: `Bearer ${gw.adminKey}` },
    });
    records = (await u.json()).records;
    if (records.reduce((n, x) => n + x.requests, 0) < 3) await new Promise((r) => setTimeout(r, 100));
  }
  assert.deepEqual(records.map((x) => x.model).sort(), ["claude-sonnet-5", "gpt-4.1", "gpt-5.1-codex"], JSON.stringify(records));
  assert.ok(records.every((x) => x.requests === 1 && x.input_tokens > 0 && x.output_tokens > 0 && x.errors === 0), JSON.stringify(records));

  const bad = await post("/v1/responses/compact", { model: "gpt-5.1-codex", input: 3 });
  assert.equal(bad.status, 400);
  assert.equal((await bad.json()).error.param, "input");
  const wrongMethod = await gw.fetch(`${gw.base}/v1/responses/compact`, { headers: { authorization: `Bearer ${key.key}` } });
  assert.equal(wrongMethod.status, 405);
});

/** Codex's tools: a plain function, its sub-agent namespace and an MCP server's. */
function namespacedRequest(model, input, stream = true) {
  return {
    model,
    stream,
    tools: [
      { type: "function", name: "exec_command", description: "Run a command.", parameters: { type: "object", properties: { cmd: { type: "string" } }, required: ["cmd"] } },
      {
        type: "namespace",
        name: "multi_agent_v1",
        description: "Tools for spawning and managing sub-agents.",
        tools: [{ type: "function", name: "spawn_agent", description: "Spawn a sub-agent.", strict: false, parameters: { type: "object", properties: { message: { type: "string" } }, required: ["message"] } }],
      },
      {
        type: "namespace",
        name: "mcp__probe",
        description: "Tools in the mcp__probe namespace.",
        tools: [{ type: "function", name: "echo", description: "Echo the text back.", strict: false, parameters: { type: "object", properties: { text: { type: "string" } }, required: ["text"] } }],
      },
    ],
    input,
  };
}

test("namespaced tools on translated paths: flattened for the model, called back by namespace", async () => {
  for (const [model, path] of PATHS.slice(1)) {
    for (const stream of [true, false]) {
      await mock("/requests", { method: "DELETE" });
      const res = await post("/v1/responses", namespacedRequest(model, [{ type: "message", role: "user", content: "MOCK_CALL echo" }], stream));
      const text = await res.text();
      assert.equal(res.status, 200, `${model}: ${text}`);
      const [sent] = await upstream(path);
      const names = sent.body.tools.map((t) => t.name ?? t.function?.name);
      assert.deepEqual(names, ["exec_command", "multi_agent_v1__spawn_agent", "mcp__probe__echo"], model);
      assert.equal(sent.reply.tool_call.name, "mcp__probe__echo");
      const calls = stream
        ? events(text).filter((e) => e.data.item?.type === "function_call").map((e) => e.data.item)
        : JSON.parse(text).output.filter((i) => i.type === "function_call");
      if (stream) {
        const completed = events(text).at(-1).data.response.output.filter((i) => i.type === "function_call");
        calls.push(...completed);
        assert.equal(calls.length, 3, `${model}: added, done and completed`);
      }
      for (const call of calls) {
        assert.equal(call.name, "echo", `${model} stream=${stream}: ${JSON.stringify(call)}`);
        assert.equal(call.namespace, "mcp__probe");
      }
      assert.deepEqual(JSON.parse(calls[0].arguments || calls.at(-1).arguments), { text: "mock" });
    }
    // The next turn carries the call as Codex keeps it: by namespace and name.
    await mock("/requests", { method: "DELETE" });
    const res = await post("/v1/responses", namespacedRequest(model, [
      { type: "message", role: "user", content: "MOCK_CALL echo" },
      { type: "function_call", call_id: "call_e1", namespace: "mcp__probe", name: "echo", arguments: JSON.stringify({ text: "mock" }) },
      { type: "function_call_output", call_id: "call_e1", output: "probe echo: mock" },
    ]));
    const text = await res.text();
    assert.equal(res.status, 200, `${model}: ${text}`);
    assert.match(text, /Tool result: probe echo: mock/);
    const [sent] = await upstream(path);
    const history = JSON.stringify(sent.body.messages);
    assert.match(history, /"name":"mcp__probe__echo"/, `${model}: the call in history has the name the model knows`);
    assert.ok(!history.includes('"namespace"'), model);
  }
});

test("namespaced tools on Copilot's /responses: passed as they are, empty descriptions filled", async () => {
  // Codex with the models it knows (Responses Lite): its default `functions` namespace has an
  // empty description, which Copilot refuses.
  const lite = {
    model: "gpt-5.1-codex",
    stream: true,
    input: [
      {
        type: "additional_tools",
        role: "developer",
        tools: [
          { type: "namespace", name: "functions", description: "", tools: [{ type: "function", name: "wait", description: "Wait.", parameters: { type: "object", properties: {} } }] },
        ],
      },
      { type: "message", role: "user", content: "hello" },
    ],
    tools: [{ type: "namespace", name: "mcp__quiet", description: "", tools: [{ type: "function", name: "ping", parameters: { type: "object", properties: {} } }] }],
  };
  // (The mock refuses both, as Copilot does: tests/mock/upstream.test.mjs.)
  const res = await post("/v1/responses", lite);
  const text = await res.text();
  assert.equal(res.status, 200, text);
  assert.match(text, /Echo: hello/);
  const [sent] = await upstream("/copilot/responses");
  assert.equal(sent.body.input[0].tools[0].description, "Tools of the functions namespace.");
  assert.equal(sent.body.tools[0].description, "Tools of the mcp__quiet namespace.");

  // A call of a namespaced tool comes back from Copilot with its namespace, untouched.
  await mock("/requests", { method: "DELETE" });
  const call = await post("/v1/responses", namespacedRequest("gpt-5.1-codex", [{ type: "message", role: "user", content: "MOCK_CALL echo" }], false));
  assert.equal(call.status, 200);
  const fc = (await call.json()).output.find((i) => i.type === "function_call");
  assert.equal(fc.name, "echo");
  assert.equal(fc.namespace, "mcp__probe");
  const [native] = await upstream("/copilot/responses");
  assert.equal(native.body.tools[2].type, "namespace", "Copilot's /responses takes namespaces as they are");
});

test("compressed bodies: zstd as Codex sends it and gzip are decoded; bad, huge or unknown ones refused in the caller's format", async () => {
  const f = fixture("codex.responses.request.json");
  const json = Buffer.from(JSON.stringify({ ...f.body, model: "gpt-5.1-codex" }));
  const zstd = Buffer.from(zstdCompress(json, 3));
  assert.ok(zstd.length < json.length / 2, "really compressed");
  const res = await post("/v1/responses", null, { "content-encoding": "zstd" }, zstd);
  const text = await res.text();
  assert.equal(res.status, 200, text);
  assert.match(text, /event: response\.completed/);
  const [sent] = await upstream("/copilot/responses");
  assert.equal(sent.body.input.length, f.body.input.length, "Copilot got the whole decoded conversation");
  assert.ok(!sent.headers["content-encoding"], "and sent plain");

  // gzip, on the other APIs.
  const chat = await post("/v1/chat/completions", null, { "content-encoding": "gzip" },
    zlib.gzipSync(JSON.stringify({ model: "gpt-4.1", messages: [{ role: "user", content: "zipped hello" }] })));
  assert.equal(chat.status, 200, await chat.clone().text());
  assert.equal((await chat.json()).choices[0].message.content, "Echo: zipped hello");
  const messages = await post("/v1/messages", null, { "content-encoding": "zstd", "anthropic-version": "2023-06-01" },
    Buffer.from(zstdCompress(Buffer.from(JSON.stringify({ model: "claude-sonnet-5", max_tokens: 50, messages: [{ role: "user", content: "zstd hello" }] })), 3)));
  assert.equal(messages.status, 200, await messages.clone().text());
  assert.equal((await messages.json()).content[0].text, "Echo: zstd hello");

  await mock("/requests", { method: "DELETE" });
  // Not what the header says: 400, in each caller's format.
  const badZstd = await post("/v1/responses", null, { "content-encoding": "zstd" }, json);
  assert.equal(badZstd.status, 400);
  const e1 = await badZstd.json();
  assert.equal(e1.error.type, "invalid_request_error");
  assert.match(e1.error.message, /not valid zstd data/);
  const badGzip = await post("/v1/messages", null, { "content-encoding": "gzip" }, zstd);
  assert.equal(badGzip.status, 400);
  const e2 = await badGzip.json();
  assert.equal(e2.type, "error");
  assert.equal(e2.error.type, "invalid_request_error");
  assert.match(e2.error.message, /not valid gzip data/);
  // Small on the wire, past the 32 MiB limit decoded: 413 once decoding passes the limit.
  const bomb = Buffer.from(zstdCompress(Buffer.alloc(40 << 20, 0x20), 3));
  assert.ok(bomb.length < 64 * 1024, `${bomb.length}`);
  const big = await post("/v1/responses", null, { "content-encoding": "zstd" }, bomb);
  assert.equal(big.status, 413);
  assert.match((await big.json()).error.message, /32 MiB limit once decompressed/);
  const bigGzip = await post("/v1/messages", null, { "content-encoding": "gzip" }, zlib.gzipSync(Buffer.alloc(40 << 20, 0x20)));
  assert.equal(bigGzip.status, 413);
  assert.equal((await bigGzip.json()).error.type, "request_too_large");
  // A coding the gateway cannot undo.
  const br = await post("/v1/chat/completions", null, { "content-encoding": "br" }, zlib.brotliCompressSync(json));
  assert.equal(br.status, 415);
  assert.match((await br.json()).error.message, /content-encoding `br` is not supported/);
  assert.deepEqual(await upstream("/copilot/responses"), [], "nothing refused reached Copilot");
});

// One rule per concept on every translated path: what the client asked for (a document
// or file, a content block, a JSON output constraint) is either carried to Copilot
// faithfully or refused with a 400 in the caller's own format naming the param, never
// dropped with a 200. Each test walks all six translated paths.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { startGateway } from "./harness.mjs";

let gw, key;
const mock = (p) => fetch(`${gw.mock.origin}/__mock${p}`).then((r) => r.json());
const upstreamCalls = async (p) => (await mock(`/requests?path=${encodeURIComponent(UPSTREAM[p.target])}`)).length;

// A Claude model Copilot would serve only on /v1/messages: where a request cannot be
// carried there, nothing else can take it and the refusal stands.
const MESSAGES_ONLY = "claude-messages-only";

before(async () => {
  gw = await startGateway();
  // Before the gateway first reads the catalog.
  const claude = gw.mock.state.catalog.data.find((m) => m.id === "claude-sonnet-5");
  const only = { ...structuredClone(claude), id: MESSAGES_ONLY, name: "Claude (Messages only)", supported_endpoints: ["/v1/messages"] };
  await fetch(`${gw.mock.origin}/__mock/catalog`, { method: "POST", body: JSON.stringify({ data: [...gw.mock.state.catalog.data, only] }) });
  await gw.connectAccount();
  key = (await gw.createKey("consistency")).key;
});
after(() => gw?.finish());

const ROUTE = { messages: "/v1/messages", chat: "/v1/chat/completions", responses: "/v1/responses" };
const UPSTREAM = { messages: "/copilot/v1/messages", chat: "/copilot/chat/completions", responses: "/copilot/responses" };
// The six translated paths: client API, a model Copilot serves only through the other API.
const PATHS = [
  { client: "messages", model: "gpt-5.1-codex", target: "responses" },
  { client: "messages", model: "gemini-2.5-pro", target: "chat" },
  { client: "responses", model: "claude-sonnet-5", target: "messages" },
  { client: "responses", model: "gpt-4.1", target: "chat" },
  { client: "chat", model: "claude-sonnet-5", target: "messages" },
  { client: "chat", model: "gpt-5.1-codex", target: "responses" },
];
const label = (p) => `${p.client} → ${p.target} (${p.model})`;

/** A request in the client's API: one user turn with `content`, plus `extra` params. */
function body(p, content, extra = {}) {
  if (p.client === "messages") return { model: p.model, max_tokens: 256, messages: [{ role: "user", content }], ...extra };
  if (p.client === "chat") return { model: p.model, messages: [{ role: "user", content }], ...extra };
  return { model: p.model, input: [{ role: "user", content }], ...extra };
}

async function send(p, b) {
  const res = await gw.fetch(gw.base + ROUTE[p.client], {
    method: "POST",
    headers: { authorization: `Bearer ${key}`, "content-type": "application/json" },
    body: JSON.stringify(b),
  });
  return { status: res.status, json: await res.json() };
}

/** Sent, answered 200, and what reached Copilot. */
async function carried(p, b) {
  const before = await upstreamCalls(p);
  const r = await send(p, b);
  assert.equal(r.status, 200, `${label(p)}: ${JSON.stringify(r.json)}`);
  const log = await mock(`/requests?path=${encodeURIComponent(UPSTREAM[p.target])}`);
  assert.equal(log.length, before + 1, `${label(p)}: one upstream call`);
  return log.at(-1).body;
}

/** Refused with a 400 in the client's own error format, naming `param`; nothing sent upstream. */
async function refused(p, b, param, why) {
  const calls = await upstreamCalls(p);
  const r = await send(p, b);
  assert.equal(r.status, 400, `${label(p)} should refuse: ${JSON.stringify(r.json)}`);
  if (p.client === "messages") {
    assert.equal(r.json.type, "error");
    assert.equal(r.json.error.type, "invalid_request_error");
  } else {
    assert.equal(r.json.error.type, "invalid_request_error");
    assert.equal(r.json.error.param, param, label(p));
  }
  // Anthropic's envelope has no param field: the message names it, on every API.
  assert.ok(r.json.error.message.startsWith(`${param}: `), `${label(p)}: ${r.json.error.message}`);
  if (why) assert.match(r.json.error.message, why, label(p));
  assert.equal(await upstreamCalls(p), calls, `${label(p)}: nothing reaches Copilot`);
}

const PDF = "JVBERi0xLjQK";
const PDF_URL = "https://example.com/report.pdf";

test("documents and files: converted where the target carries them, refused (400 naming the param) where it cannot", async () => {
  const [toResponses, toChat, rToMessages, rToChat, cToMessages, cToResponses] = PATHS;

  // Messages document from a URL: Responses takes a file URL, Chat only inline files.
  let sent = await carried(toResponses, body(toResponses, [
    { type: "document", source: { type: "url", url: PDF_URL } }, { type: "text", text: "summarise" },
  ]));
  assert.deepEqual(sent.input[0].content[0], { type: "input_file", file_url: PDF_URL });
  await refused(toChat, body(toChat, [
    { type: "text", text: "summarise" }, { type: "document", source: { type: "url", url: PDF_URL } },
  ]), "messages[0].content[1].source", /URL/);
  // An inline PDF goes everywhere.
  sent = await carried(toChat, body(toChat, [
    { type: "document", title: "r.pdf", source: { type: "base64", media_type: "application/pdf", data: PDF } }, { type: "text", text: "summarise" },
  ]));
  assert.deepEqual(sent.messages[0].content[0], { type: "file", file: { filename: "r.pdf", file_data: `data:application/pdf;base64,${PDF}` } });

  // Responses input_file by URL: a Messages URL document; Chat cannot take it.
  sent = await carried(rToMessages, body(rToMessages, [
    { type: "input_file", file_url: PDF_URL }, { type: "input_text", text: "summarise" },
  ]));
  assert.deepEqual(sent.messages[0].content[0], { type: "document", source: { type: "url", url: PDF_URL } });
  await refused(rToChat, body(rToChat, [
    { type: "input_text", text: "summarise" }, { type: "input_file", file_url: PDF_URL },
  ]), "input[0].content[1].file_url", /URL/);
  sent = await carried(rToChat, body(rToChat, [
    { type: "input_file", filename: "r.pdf", file_data: `data:application/pdf;base64,${PDF}` }, { type: "input_text", text: "summarise" },
  ]));
  assert.deepEqual(sent.messages[0].content[0], { type: "file", file: { filename: "r.pdf", file_data: `data:application/pdf;base64,${PDF}` } });

  // Chat files (inline or by id; Chat has no file URLs): an inline PDF becomes a Messages
  // document, an OpenAI file id means nothing to Messages but goes to Responses as is.
  sent = await carried(cToMessages, body(cToMessages, [
    { type: "file", file: { filename: "r.pdf", file_data: `data:application/pdf;base64,${PDF}` } }, { type: "text", text: "summarise" },
  ]));
  assert.deepEqual(sent.messages[0].content[0], { type: "document", source: { type: "base64", media_type: "application/pdf", data: PDF } });
  await refused(cToMessages, body(cToMessages, [
    { type: "text", text: "summarise" }, { type: "file", file: { file_id: "file-abc" } },
  ]), "messages[0].content[1].file");
  sent = await carried(cToResponses, body(cToResponses, [
    { type: "file", file: { file_id: "file-abc" } }, { type: "text", text: "summarise" },
  ]));
  assert.deepEqual(sent.input[0].content[0], { type: "input_file", file_id: "file-abc" });
});

test("unknown content blocks and parts: refused with a 400 naming the type on every path", async () => {
  const unknown = {
    messages: [{ type: "text", text: "hi" }, { type: "hologram", data: "x" }],
    chat: [{ type: "text", text: "hi" }, { type: "hologram", data: "x" }],
    responses: [{ type: "input_text", text: "hi" }, { type: "hologram", data: "x" }],
  };
  for (const p of PATHS) {
    const param = p.client === "responses" ? "input[0].content[1].type" : "messages[0].content[1].type";
    await refused(p, body(p, unknown[p.client]), param, /"hologram"/);
  }
  // Audio has no form on Messages or Responses.
  for (const p of PATHS.filter((p) => p.client === "chat")) {
    await refused(p, body(p, [{ type: "input_audio", input_audio: { data: "AAAA", format: "wav" } }]), "messages[0].content[0].type", /input_audio/);
  }
  // Thinking is never refused: carried where it can be, else left out by design (the only
  // such blocks), as a Claude signature is on its way to an OpenAI model.
  for (const p of PATHS.filter((p) => p.client === "messages")) {
    const sent = await carried(p, {
      model: p.model, max_tokens: 256,
      messages: [
        { role: "user", content: "q" },
        { role: "assistant", content: [{ type: "thinking", thinking: "hm", signature: "claude-signature" }, { type: "text", text: "a" }] },
        { role: "user", content: "again" },
      ],
    });
    if (p.target === "responses") assert.ok(!JSON.stringify(sent).includes("claude-signature"), label(p));
  }
});

test("JSON output: json_object and non-strict json_schema carried where the target can express them, else a 400", async () => {
  const schema = { type: "object", properties: { answer: { type: "string" } }, required: ["answer"], additionalProperties: false };
  const [toResponses, toChat, rToMessages, rToChat, cToMessages, cToResponses] = PATHS;

  // Messages clients: output_config.format json_schema reaches both OpenAI targets.
  for (const p of [toResponses, toChat]) {
    const sent = await carried(p, body(p, "answer in JSON", { output_config: { format: { type: "json_schema", schema } } }));
    const got = p.target === "responses" ? sent.text.format : sent.response_format.json_schema;
    assert.deepEqual(got.schema, schema, label(p));
    await refused(p, body(p, "x", { output_config: { format: { type: "json_object" } } }), "output_config.format.type");
  }

  // Chat clients: response_format.
  const nonStrict = { type: "json_schema", json_schema: { name: "answer", schema, strict: false } };
  let sent = await carried(cToMessages, body(cToMessages, "answer in JSON", { response_format: nonStrict }));
  assert.deepEqual(sent.output_config, { format: { type: "json_schema", schema } });
  // json_object: Messages has no JSON mode, so a Claude model that Copilot also serves on
  // /chat/completions is sent there natively; one served only on /v1/messages refuses it.
  const cToChatNative = { client: "chat", model: "claude-sonnet-5", target: "chat" };
  sent = await carried(cToChatNative, body(cToChatNative, "answer in JSON", { response_format: { type: "json_object" } }));
  assert.deepEqual(sent.response_format, { type: "json_object" });
  const cToMessagesOnly = { ...cToMessages, model: MESSAGES_ONLY };
  await refused(cToMessagesOnly, body(cToMessagesOnly, "x", { response_format: { type: "json_object" } }), "response_format.type", /json_schema/);
  sent = await carried(cToResponses, body(cToResponses, "answer in JSON", { response_format: { type: "json_object" } }));
  assert.deepEqual(sent.text.format, { type: "json_object" });
  sent = await carried(cToResponses, body(cToResponses, "answer in JSON", { response_format: nonStrict }));
  assert.deepEqual(sent.text.format, { type: "json_schema", name: "answer", schema, strict: false });

  // Responses clients: text.format.
  const flat = { type: "json_schema", name: "answer", schema, strict: false };
  sent = await carried(rToMessages, body(rToMessages, "answer in JSON", { text: { format: flat } }));
  assert.deepEqual(sent.output_config, { format: { type: "json_schema", schema } });
  const rToChatInstead = { client: "responses", model: "claude-sonnet-5", target: "chat" };
  sent = await carried(rToChatInstead, body(rToChatInstead, "answer in JSON", { text: { format: { type: "json_object" } } }));
  assert.deepEqual(sent.response_format, { type: "json_object" });
  const rToMessagesOnly = { ...rToMessages, model: MESSAGES_ONLY };
  await refused(rToMessagesOnly, body(rToMessagesOnly, "x", { text: { format: { type: "json_object" } } }), "text.format.type", /json_schema/);
  sent = await carried(rToChat, body(rToChat, "answer in JSON", { text: { format: { type: "json_object" } } }));
  assert.deepEqual(sent.response_format, { type: "json_object" });
  sent = await carried(rToChat, body(rToChat, "answer in JSON", { text: { format: flat } }));
  assert.deepEqual(sent.response_format, { type: "json_schema", json_schema: { name: "answer", schema, strict: false } });
});

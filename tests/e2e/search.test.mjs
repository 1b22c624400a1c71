// Web search through the gateway: a client's server-side search tool (Anthropic's
// web_search_2025…, OpenAI's web_search) on every path (native, via Responses, via Chat),
// streaming and not, with the official SDKs. The mock model searches when asked
// (`MOCK_SEARCH <query>`, `MOCK_SEARCH_REPEAT <n> <query>`), the mock search providers
// answer, and the gateway runs the loop: model → searches → model, in one client request.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import OpenAI from "openai";
import Anthropic from "@anthropic-ai/sdk";
import { startGateway } from "./harness.mjs";

let gw, key, anthropic, openai;
const mock = (p, init) => fetch(`${gw.mock.origin}/__mock${p}`, init).then((r) => r.json());
const searches = async (provider = "tavily") => (await mock(`/requests?prefix=${encodeURIComponent(`/search/${provider}`)}`)).filter((r) => r.method !== "GET" || provider !== "tavily");
const tavilyQueries = async () => (await searches("tavily")).map((r) => r.body?.query);
const clearLog = () => mock("/requests", { method: "DELETE" });
const useTavily = () => gw.admin("PUT", "/api/search-config", { provider: "tavily", credentials: { tavily: gw.mock.state.searchKeys.tavily } });

const WEB_SEARCH = { type: "web_search_20250305", name: "web_search", max_uses: 5 };
// The three upstream paths of a Messages client.
const MESSAGES_PATHS = [
  ["claude-sonnet-5", "/copilot/v1/messages"],
  ["gpt-5.1-codex", "/copilot/responses"],
  ["gemini-2.5-pro", "/copilot/chat/completions"],
];
// The three upstream paths of a Responses client.
const RESPONSES_PATHS = [
  ["gpt-5.1-codex", "/copilot/responses"],
  ["claude-sonnet-5", "/copilot/v1/messages"],
  ["gpt-4.1", "/copilot/chat/completions"],
];

before(async () => {
  gw = await startGateway();
  await gw.connectAccount();
  key = await gw.createKey("search");
  anthropic = new Anthropic({ apiKey: key.key, baseURL: gw.base, fetch: gw.fetch, maxRetries: 0 });
  openai = new OpenAI({ apiKey: key.key, baseURL: `${gw.base}/v1`, fetch: gw.fetch, maxRetries: 0 });
});
after(() => gw?.finish());

const ask = (model, content, extra = {}) => ({ model, max_tokens: 1024, tools: [WEB_SEARCH], messages: [{ role: "user", content }], ...extra });

/** Both ways a Messages client gets its answer. */
async function bothWays(params) {
  const plain = await anthropic.messages.create(params);
  const events = [];
  const stream = anthropic.messages.stream(params);
  stream.on("streamEvent", (e) => events.push(e));
  const streamed = await stream.finalMessage();
  return { plain, streamed, events };
}

function assertSearchAnswer(m, query, label) {
  const kinds = m.content.map((b) => b.type);
  assert.deepEqual(kinds, ["text", "server_tool_use", "web_search_tool_result", "text"], `${label}: ${JSON.stringify(m.content).slice(0, 800)}`);
  const [, call, result, answer] = m.content;
  assert.equal(call.name, "web_search");
  assert.deepEqual(call.input, { query });
  assert.match(call.id, /^srvtoolu_/);
  assert.equal(result.tool_use_id, call.id);
  assert.ok(Array.isArray(result.content) && result.content.length === 5, `${label}: five results`);
  for (const r of result.content) {
    assert.equal(r.type, "web_search_result");
    assert.match(r.url, /^https:\/\/[a-z.]+\.example\.(org|com|net|io)\//);
    assert.ok(r.title.includes(query));
    assert.match(r.encrypted_content, /^cgws1\./);
  }
  assert.match(answer.text, /^Tool result: /);
  assert.ok(answer.text.includes(result.content[0].url) || answer.text.includes(result.content[0].title), `${label}: the model read the results`);
  assert.equal(m.stop_reason, "end_turn");
  assert.equal(m.usage.server_tool_use.web_search_requests, 1);
}

test("Messages: a search turn, then the answer, on every upstream path, stream and not", async () => {
  assert.equal((await useTavily()).status, 200);
  for (const [model, upstream] of MESSAGES_PATHS) {
    await clearLog();
    const { plain, streamed, events } = await bothWays(ask(model, "MOCK_SEARCH rust news"));
    assertSearchAnswer(plain, "rust news", `${model} json`);
    assertSearchAnswer(streamed, "rust news", `${model} stream`);
    // One message, one run of block indexes, one message_start and message_stop.
    const types = events.map((e) => e.type);
    assert.equal(types.filter((t) => t === "message_start").length, 1);
    assert.equal(types.at(-1), "message_stop");
    const starts = events.filter((e) => e.type === "content_block_start").map((e) => e.index);
    assert.deepEqual(starts, [0, 1, 2, 3]);
    assert.deepEqual(await tavilyQueries(), ["rust news", "rust news"], `${model}: one provider search per request`);
    const calls = await mock(`/requests?path=${encodeURIComponent(upstream)}`);
    assert.equal(calls.length, 4, `${model}: two model turns per request on ${upstream}`);
    // The second turn gave the model its call and the results.
    const second = JSON.stringify(calls[1].body);
    assert.ok(second.includes("docs.example.org/rust-news/1"), `${model}: results reached the model`);
  }
});

test("Messages: the model cites a result (native Claude): web_search_result_location", async () => {
  await useTavily();
  const { plain, streamed } = await bothWays(ask("claude-sonnet-5", "MOCK_SEARCH cloudflare workers"));
  for (const m of [plain, streamed]) {
    const answer = m.content.at(-1);
    assert.equal(answer.citations?.length, 1, JSON.stringify(answer));
    const c = answer.citations[0];
    assert.equal(c.type, "web_search_result_location");
    assert.equal(c.url, m.content[2].content[0].url);
    assert.equal(c.title, m.content[2].content[0].title);
    assert.ok(c.cited_text.length > 0);
    assert.match(c.encrypted_index, /^cgws1\./);
  }
  // The native call carried search_result blocks with citations on.
  const calls = await mock(`/requests?path=${encodeURIComponent("/copilot/v1/messages")}`);
  const results = calls.at(-1).body.messages.at(-1).content[0];
  assert.equal(results.type, "tool_result");
  assert.equal(results.content[0].type, "search_result");
  assert.deepEqual(results.content[0].citations, { enabled: true });
});

test("Messages: max_uses stops the searches, domain filters and location reach the provider", async () => {
  await useTavily();
  await clearLog();
  const m = await anthropic.messages.create({
    model: "claude-sonnet-5",
    max_tokens: 1024,
    tools: [{ type: "web_search_20260209", name: "web_search", max_uses: 2, allowed_domains: ["docs.example.org"], user_location: { type: "approximate", country: "DE" } }],
    messages: [{ role: "user", content: "MOCK_SEARCH_REPEAT 3 gateways" }],
  });
  const results = m.content.filter((b) => b.type === "web_search_tool_result");
  assert.equal(results.length, 3);
  assert.ok(Array.isArray(results[0].content) && Array.isArray(results[1].content));
  assert.deepEqual(results[2].content, { type: "web_search_tool_result_error", error_code: "max_uses_exceeded" });
  assert.equal(m.usage.server_tool_use.web_search_requests, 2);
  assert.equal(m.stop_reason, "end_turn");
  const sent = await searches("tavily");
  assert.equal(sent.length, 2, "the refused search never reached the provider");
  for (const s of sent) {
    assert.deepEqual(s.body.include_domains, ["docs.example.org"]);
    assert.equal(s.body.country?.toLowerCase(), "germany");
  }
  for (const r of results[0].content) assert.match(r.url, /^https:\/\/docs\.example\.org\//);
});

test("Messages: a provider error is the result's error code, and the answer goes on", async () => {
  await useTavily();
  await mock("/script", { method: "POST", body: JSON.stringify({ path: "/search/tavily/search", status: 429, body: { detail: { error: "rate limited" } } }) });
  const m = await anthropic.messages.create(ask("claude-sonnet-5", "MOCK_SEARCH busy"));
  const result = m.content.find((b) => b.type === "web_search_tool_result");
  assert.deepEqual(result.content, { type: "web_search_tool_result_error", error_code: "too_many_requests" });
  assert.match(m.content.at(-1).text, /^Tool result: Web search failed \(too_many_requests\)/);
  assert.equal(m.stop_reason, "end_turn");
});

test("Messages: a follow-up request carrying earlier search blocks reaches the model as calls and results", async () => {
  await useTavily();
  const params = {
    model: "claude-sonnet-5",
    max_tokens: 1024,
    tools: [WEB_SEARCH, { name: "lookup", description: "Look something up", input_schema: { type: "object", properties: { q: { type: "string" } }, required: ["q"] } }],
    messages: [{ role: "user", content: "MOCK_SEARCH typescript" }],
  };
  const first = await anthropic.messages.create(params);
  assertSearchAnswer(first, "typescript", "with a client tool offered");
  // Claude Code sends the earlier turn back as it was: the gateway turns it into a call and
  // its results for the model.
  await clearLog();
  const follow = await anthropic.messages.create({
    ...params,
    messages: [...params.messages, { role: "assistant", content: first.content }, { role: "user", content: "thanks, and in one sentence?" }],
  });
  assert.equal(follow.content[0].text, "Echo: thanks, and in one sentence?");
  const [sent] = await mock(`/requests?path=${encodeURIComponent("/copilot/v1/messages")}`);
  const msgs = sent.body.messages;
  assert.deepEqual(msgs.map((m) => m.role), ["user", "assistant", "user", "assistant", "user"]);
  assert.equal(msgs[1].content.at(-1).type, "tool_use");
  assert.equal(msgs[2].content[0].type, "tool_result");
  assert.equal(msgs[2].content[0].content[0].type, "search_result");
  assert.equal(msgs[3].content[0].type, "text");
  assert.ok(!JSON.stringify(msgs).includes("web_search_tool_result"), "no server-tool block reaches Copilot");
  assert.deepEqual(await tavilyQueries(), [], "nothing searched again");
});

test("Messages: invalid web search tools get Anthropic's 400", async () => {
  for (const [tool, message] of [
    [{ type: "web_search_20250305", name: "search" }, /tools\.0\.web_search_20250305\.name: Input should be 'web_search'/],
    [{ type: "web_search_20250305", name: "web_search", allowed_domains: ["a.org"], blocked_domains: ["b.org"] }, /cannot both/],
    [{ type: "web_search_20250305", name: "web_search", max_uses: 0 }, /max_uses/],
  ]) {
    await assert.rejects(
      anthropic.messages.create({ model: "claude-sonnet-5", max_tokens: 10, tools: [tool], messages: [{ role: "user", content: "x" }] }),
      (e) => e.status === 400 && e.error.type === "error" && e.error.error.type === "invalid_request_error" && message.test(e.error.error.message),
    );
  }
});

/** Both ways a Responses client gets its answer. */
async function responsesBothWays(params) {
  const plain = await openai.responses.create(params);
  const events = [];
  const stream = openai.responses.stream(params);
  for await (const e of stream) events.push(e);
  const streamed = await stream.finalResponse();
  return { plain, streamed, events };
}

function assertResponsesSearch(r, query, label) {
  const types = r.output.map((i) => i.type);
  assert.deepEqual(types, ["message", "web_search_call", "message"], `${label}: ${JSON.stringify(r.output).slice(0, 800)}`);
  const call = r.output[1];
  assert.equal(call.status, "completed");
  assert.equal(call.action.type, "search");
  assert.equal(call.action.query, query);
  assert.equal(call.action.sources.length, 5);
  const answer = r.output[2].content[0];
  assert.match(answer.text, /^Tool result: /);
  const cite = answer.annotations.find((a) => a.type === "url_citation");
  assert.ok(cite, `${label}: the answer names a result's URL, so it is cited`);
  assert.equal(answer.text.slice(cite.start_index, cite.end_index), cite.url);
  assert.ok(call.action.sources.some((s) => s.url === cite.url));
}

test("Responses: web_search_call items, their events in order, and url_citation, on every upstream path", async () => {
  await useTavily();
  for (const [model, upstream] of RESPONSES_PATHS) {
    await clearLog();
    const { plain, streamed, events } = await responsesBothWays({ model, input: "MOCK_SEARCH rust news", tools: [{ type: "web_search" }] });
    assertResponsesSearch(plain, "rust news", `${model} json`);
    assertResponsesSearch(streamed, "rust news", `${model} stream`);
    assert.equal(plain.usage.input_tokens > 0 && plain.usage.output_tokens > 0, true);
    const seqs = events.map((e) => e.sequence_number);
    assert.deepEqual(seqs, seqs.map((_, i) => i), `${model}: one run of sequence numbers`);
    const types = events.map((e) => e.type);
    assert.equal(types.filter((t) => t === "response.created").length, 1);
    const ws = types.filter((t) => t.startsWith("response.web_search_call."));
    assert.deepEqual(ws, ["response.web_search_call.in_progress", "response.web_search_call.searching", "response.web_search_call.completed"]);
    assert.equal(types.at(-1), "response.completed");
    assert.equal(streamed.id, events[0].response.id, "one response id");
    assert.deepEqual(await tavilyQueries(), ["rust news", "rust news"]);
    assert.equal((await mock(`/requests?path=${encodeURIComponent(upstream)}`)).length, 4, `${model}: two turns per request on ${upstream}`);
  }
});

test("without a provider, a search says an admin must configure one; the rest of the request works", async () => {
  assert.equal((await gw.admin("PUT", "/api/search-config", { provider: null })).status, 200);
  await clearLog();
  const m = await anthropic.messages.create(ask("claude-sonnet-5", "MOCK_SEARCH anything"));
  const result = m.content.find((b) => b.type === "web_search_tool_result");
  assert.deepEqual(result.content, { type: "web_search_tool_result_error", error_code: "unavailable" });
  assert.match(m.content.at(-1).text, /an admin must choose a search provider/);
  assert.equal(m.usage.server_tool_use.web_search_requests, 0, "no search ran");
  const r = await openai.responses.create({ model: "gpt-5.1-codex", input: "MOCK_SEARCH anything", tools: [{ type: "web_search" }] });
  assert.equal(r.output[1].status, "failed");
  assert.match(r.output[2].content[0].text, /an admin must choose a search provider/);
  // A request with the search tool and another: the other tool is used as always.
  const tools = [{ type: "web_search" }, { type: "function", name: "lookup", parameters: { type: "object", properties: { q: { type: "string" } }, required: ["q"] } }];
  const used = await openai.responses.create({ model: "gpt-5.1-codex", input: "use a tool", tools, tool_choice: { type: "function", name: "lookup" } });
  assert.equal(used.output.find((i) => i.type === "function_call")?.name, "lookup");
  assert.deepEqual(await tavilyQueries(), []);
});

test("every upstream call counts in usage, and each search once in search usage", async () => {
  await useTavily();
  const k = await gw.createKey("search-usage");
  const client = new Anthropic({ apiKey: k.key, baseURL: gw.base, fetch: gw.fetch, maxRetries: 0 });
  await clearLog();
  await client.messages.create(ask("claude-sonnet-5", "MOCK_SEARCH_REPEAT 2 usage"));
  const calls = await mock(`/requests?path=${encodeURIComponent("/copilot/v1/messages")}`);
  assert.equal(calls.length, 3);
  const want = calls.reduce((n, c) => n + c.reply.usage.output_tokens, 0);
  const hour = (d) => new Date(Date.now() + d).toISOString().slice(0, 13);
  let usage, search;
  for (let i = 0; i < 30; i++) {
    usage = (await gw.admin("GET", `/api/usage?start=${hour(-3600e3)}&end=${hour(3600e3)}&key_id=${k.id}`)).body.records;
    search = (await gw.admin("GET", `/api/search-usage?start=${hour(-3600e3)}&end=${hour(3600e3)}&key_id=${k.id}`)).body.records;
    if (usage.length && search.length) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  assert.equal(usage.reduce((n, r) => n + r.requests, 0), 1, "one client request");
  assert.equal(usage.reduce((n, r) => n + r.output_tokens, 0), want, "the tokens of all three model turns");
  assert.equal(search.length, 1, JSON.stringify(search));
  assert.equal(search[0].provider, "tavily");
  assert.equal(search[0].requests, 2);
});

// The Gemini API front door with Google's own SDK (@google/genai): generate, stream and a
// function-calling round trip on a Claude, a GPT and a Gemini model of the mock catalog
// (each served on its own Copilot API), countTokens, the model list, the JSON-array stream,
// `?key=`, errors in Google's shape, the admin's aliases and usage per key and model.
import { test, describe, before, after } from "node:test";
import assert from "node:assert/strict";
import { GoogleGenAI } from "@google/genai";
import { startGateway } from "./harness.mjs";

let gw, key, ai;
const mockRequests = async (p) => (await fetch(`${gw.mock.origin}/__mock/requests?path=${encodeURIComponent(p)}`)).json();
const clearMock = () => fetch(`${gw.mock.origin}/__mock/requests`, { method: "DELETE" });
const hourAgo = () => new Date(Date.now() - 3600_000).toISOString().slice(0, 13);
const hourAhead = () => new Date(Date.now() + 3600_000).toISOString().slice(0, 13);

before(async () => {
  gw = await startGateway();
  await gw.connectAccount();
  key = await gw.createKey("gemini");
  ai = new GoogleGenAI({ apiKey: key.key, httpOptions: { baseUrl: gw.base, fetch: gw.fetch, retryOptions: { attempts: 1 } } });
});
after(() => gw?.finish());

// One model per Copilot API: what the Messages front door translates to.
const MODELS = [
  ["claude-sonnet-5", "/copilot/v1/messages"],
  ["gpt-5.1-codex", "/copilot/responses"],
  ["gemini-2.5-pro", "/copilot/chat/completions"],
];

const weather = {
  functionDeclarations: [
    {
      name: "get_weather",
      description: "The weather in a city",
      parametersJsonSchema: { type: "object", properties: { city: { type: "string" } }, required: ["city"] },
    },
  ],
};

for (const [model, upstream] of MODELS) {
  describe(`@google/genai on ${model} (Copilot's ${upstream.replace("/copilot", "")})`, () => {
    test("generateContent", async () => {
      await clearMock();
      const r = await ai.models.generateContent({ model, contents: "hello gemini", config: { maxOutputTokens: 200 } });
      assert.equal(r.text, "Echo: hello gemini");
      assert.equal(r.candidates[0].finishReason, "STOP");
      const sent = await mockRequests(upstream);
      assert.equal(sent.length, 1, "one upstream call, on the routing plan's API");
      assert.equal(sent[0].model, model);
      const u = r.usageMetadata;
      assert.ok(u.promptTokenCount > 0 && u.candidatesTokenCount > 0, JSON.stringify(u));
      assert.equal(u.totalTokenCount, u.promptTokenCount + u.candidatesTokenCount);
    });

    test("generateContentStream (alt=sse)", async () => {
      await clearMock();
      const text = "stream this please, word by word";
      const chunks = [];
      for await (const c of await ai.models.generateContentStream({ model, contents: text })) chunks.push(c);
      assert.ok(chunks.length > 2, `a stream of chunks, not one answer (${chunks.length})`);
      assert.equal(chunks.map((c) => c.text ?? "").join(""), `Echo: ${text}`);
      const last = chunks.at(-1);
      assert.equal(last.candidates[0].finishReason, "STOP");
      assert.ok(last.usageMetadata.candidatesTokenCount > 0);
      assert.equal((await mockRequests(upstream)).length, 1);
    });

    test("Google Search: the gateway's web search, answered with groundingMetadata", async () => {
      const set = await gw.admin("PUT", "/api/search-config", { provider: "tavily", credentials: { tavily: gw.mock.state.searchKeys.tavily } });
      assert.equal(set.status, 200);
      await clearMock();
      const request = { model, contents: "MOCK_SEARCH rust release notes", config: { tools: [{ googleSearch: {} }] } };
      const whole = await ai.models.generateContent(request);
      const chunks = [];
      for await (const c of await ai.models.generateContentStream(request)) chunks.push(c);
      const streamedText = chunks.map((c) => c.text ?? "").join("");
      assert.equal(streamedText, whole.text);
      const searched = (await fetch(`${gw.mock.origin}/__mock/requests?prefix=${encodeURIComponent("/search/tavily")}`).then((r) => r.json()))
        .filter((r) => r.method === "POST");
      assert.deepEqual(searched.map((r) => r.body?.query), ["rust release notes", "rust release notes"], "one search per answer");
      for (const [label, m, text] of [["whole", whole.candidates[0].groundingMetadata, whole.text], ["streamed", chunks.at(-1).candidates[0].groundingMetadata, streamedText]]) {
        assert.ok(m, `${label}: groundingMetadata\n${JSON.stringify(whole.candidates[0]).slice(0, 600)}`);
        assert.deepEqual(m.webSearchQueries, ["rust release notes"], label);
        assert.ok(m.groundingChunks.length > 0 && m.groundingChunks.every((c) => /^https:\/\//.test(c.web.uri) && c.web.title), `${label}: ${JSON.stringify(m.groundingChunks)}`);
        // Where the model cites (Claude on Copilot's Messages API does), supports point into
        // the text by byte offsets, as Gemini CLI reads them to place its [n] markers.
        const bytes = Buffer.from(text);
        for (const s of m.groundingSupports ?? []) {
          assert.ok(s.segment.startIndex < s.segment.endIndex && s.segment.endIndex <= bytes.length, `${label}: ${JSON.stringify(s)}`);
          assert.ok(s.groundingChunkIndices.every((i) => i >= 0 && i < m.groundingChunks.length), label);
        }
        if (upstream === "/copilot/v1/messages") assert.ok(m.groundingSupports.length > 0, `${label}: the model cited a result`);
      }
    });

    test("a function-calling round trip", async () => {
      await clearMock();
      const contents = [{ role: "user", parts: [{ text: "What is the weather? use a tool" }] }];
      const first = await ai.models.generateContent({ model, contents, config: { tools: [weather] } });
      const calls = first.functionCalls;
      assert.equal(calls?.length, 1, JSON.stringify(first.candidates));
      assert.equal(calls[0].name, "get_weather");
      assert.deepEqual(calls[0].args, { city: "mock" });
      assert.ok(calls[0].id, "calls carry ids");
      contents.push(first.candidates[0].content);
      contents.push({ role: "user", parts: [{ functionResponse: { id: calls[0].id, name: "get_weather", response: { output: "sunny, 21 C" } } }] });
      const chunks = [];
      for await (const c of await ai.models.generateContentStream({ model, contents, config: { tools: [weather] } })) chunks.push(c);
      assert.equal(chunks.map((c) => c.text ?? "").join(""), "Tool result: sunny, 21 C");
      const sent = await mockRequests(upstream);
      assert.equal(sent.length, 2);
      assert.equal(sent[0].reply.tool_call?.name, "get_weather");
      assert.equal(sent[1].flags.x_initiator, "agent", "a function response is the agent's turn");
    });
  });
}

describe("the rest of the Gemini API", () => {
  test("countTokens counts the contents", async () => {
    const short = await ai.models.countTokens({ model: "claude-sonnet-5", contents: "hi" });
    const long = await ai.models.countTokens({ model: "gpt-5.1", contents: "hi ".repeat(500) });
    assert.ok(short.totalTokens > 0, JSON.stringify(short));
    assert.ok(long.totalTokens > short.totalTokens);
  });

  test("models: list and get, from the Copilot catalog", async () => {
    const names = [];
    for await (const m of await ai.models.list()) names.push(m.name);
    for (const [model] of MODELS) assert.ok(names.includes(`models/${model}`), names.join(", "));
    assert.ok(!names.some((n) => n.includes("embedding")), "only models that generate");
    const m = await ai.models.get({ model: "claude-sonnet-5" });
    assert.equal(m.name, "models/claude-sonnet-5");
    assert.ok(m.inputTokenLimit > 0 && m.outputTokenLimit > 0);
    assert.ok(m.supportedActions.includes("generateContent"));
    // The v1beta form, which Gemini CLI uses.
    const r = await gw.fetch(`${gw.base}/v1beta/models`, { headers: { "x-goog-api-key": key.key } });
    assert.equal(r.status, 200);
    assert.ok((await r.json()).models.length === names.length);
    // /v1/models without a Google key stays OpenAI's list.
    const openai = await gw.fetch(`${gw.base}/v1/models`, { headers: { authorization: `Bearer ${key.key}` } });
    assert.equal((await openai.json()).object, "list");
  });

  test("the default stream form is one JSON array; ?key= is accepted", async () => {
    const r = await gw.fetch(`${gw.base}/v1beta/models/claude-sonnet-5:streamGenerateContent?key=${key.key}`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ contents: [{ parts: [{ text: "array form" }] }] }),
    });
    assert.equal(r.status, 200);
    assert.match(r.headers.get("content-type"), /^application\/json/);
    const chunks = JSON.parse(await r.text());
    assert.ok(Array.isArray(chunks) && chunks.length > 1);
    assert.equal(chunks.map((c) => c.candidates[0].content.parts.map((p) => p.text ?? "").join("")).join(""), "Echo: array form");
    assert.equal(chunks.at(-1).candidates[0].finishReason, "STOP");
  });

  test("errors come in Google's shape with Google's status names", async () => {
    const post = (path, body, headers = { "x-goog-api-key": key.key }) =>
      gw.fetch(`${gw.base}${path}`, { method: "POST", headers: { "content-type": "application/json", ...headers }, body: JSON.stringify(body) });
    const hi = { contents: [{ parts: [{ text: "hi" }] }] };
    const cases = [
      [await post("/v1beta/models/claude-sonnet-5:generateContent", hi, {}), 401, "UNAUTHENTICATED"],
      [await post("/v1beta/models/claude-sonnet-5:generateContent", hi, { "x-goog-api-key": "cgw_" + "0".repeat(48) }), 401, "UNAUTHENTICATED"],
      [await post("/v1beta/models/claude-sonnet-5:generateContent", hi, { "x-goog-api-key": gw.adminKey }), 403, "PERMISSION_DENIED"],
      [await post("/v1beta/models/no-such-model:generateContent", hi), 404, "NOT_FOUND"],
      [await post("/v1beta/models/claude-sonnet-5:generateContent", { contents: [] }), 400, "INVALID_ARGUMENT"],
      [await post("/v1beta/models/claude-sonnet-5:generateContent", { ...hi, generationConfig: { candidateCount: 3 } }), 400, "INVALID_ARGUMENT"],
      [await post("/v1beta/models/claude-sonnet-5:embedContent", hi), 404, "NOT_FOUND"],
    ];
    for (const [r, status, name] of cases) {
      const body = await r.json();
      assert.equal(r.status, status, JSON.stringify(body));
      assert.equal(body.error.code, status);
      assert.equal(body.error.status, name);
      assert.equal(typeof body.error.message, "string");
    }
    // The SDK reads them as ApiErrors.
    await assert.rejects(ai.models.generateContent({ model: "no-such-model", contents: "x" }), (e) => e.status === 404);
    // The admin API still refuses API keys, whatever header they come in.
    const admin = await gw.fetch(`${gw.base}/api/keys?key=${key.key}`);
    assert.equal(admin.status, 401);
  });

  test("an admin's alias works on the Gemini API and is listed there", async () => {
    const r = await gw.admin("PUT", "/api/model-aliases/team-gemini", { models: ["retired-model", "gpt-5.1-codex"] });
    assert.ok(r.status < 300, JSON.stringify(r.body));
    await clearMock();
    const answer = await ai.models.generateContent({ model: "team-gemini", contents: "through an alias" });
    assert.equal(answer.text, "Echo: through an alias");
    const sent = await mockRequests("/copilot/responses");
    assert.equal(sent.length, 1);
    assert.equal(sent[0].model, "gpt-5.1-codex", "the alias's first available model serves");
    const names = [];
    for await (const m of await ai.models.list()) names.push(m.name);
    assert.ok(names.includes("models/team-gemini"), names.join(", "));
    assert.equal((await ai.models.get({ model: "team-gemini" })).name, "models/team-gemini");
    await gw.admin("DELETE", "/api/model-aliases/team-gemini");
  });

  test("usage is recorded per key and model, like every data-plane request", async () => {
    let records = [];
    for (let i = 0; i < 50; i++) {
      const r = await gw.fetch(`${gw.base}/api/usage?${new URLSearchParams({ start: hourAgo(), end: hourAhead(), key_id: key.id, group_by: "model" })}`, {
        headers: { authorization: `Bearer ${gw.adminKey}` },
      });
      records = (await r.json()).records;
      if (MODELS.every(([m]) => records.some((x) => x.model === m && x.requests >= 3 && x.output_tokens > 0))) break;
      await new Promise((res) => setTimeout(res, 100));
    }
    for (const [m] of MODELS) {
      const row = records.find((x) => x.model === m);
      assert.ok(row && row.requests >= 3 && row.input_tokens > 0 && row.output_tokens > 0, `${m}: ${JSON.stringify(records)}`);
    }
  });
});

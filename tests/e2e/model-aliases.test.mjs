// Model aliases end to end: an admin names models for the team; the three generation APIs,
// count_tokens and embeddings send the first available model behind the name to Copilot,
// /v1/models lists the alias, and only ADMIN_KEY manages them.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import OpenAI from "openai";
import Anthropic from "@anthropic-ai/sdk";
import { startGateway } from "./harness.mjs";

let gw, key, openai, anthropic;

/** The models Copilot was asked for on `path` since `since` requests were logged. */
async function upstreamModels(path, since) {
  const all = await fetch(`${gw.mock.origin}/__mock/requests?prefix=%2Fcopilot%2F`).then((r) => r.json());
  return all.slice(since).filter((r) => r.path === `/copilot${path}`).map((r) => r.body?.model);
}
const logged = async () => (await fetch(`${gw.mock.origin}/__mock/requests?prefix=%2Fcopilot%2F`).then((r) => r.json())).length;

before(async () => {
  gw = await startGateway();
  await gw.connectAccount();
  key = await gw.createKey("aliases");
  openai = new OpenAI({ apiKey: key.key, baseURL: `${gw.base}/v1`, fetch: gw.fetch, maxRetries: 0 });
  anthropic = new Anthropic({ apiKey: key.key, baseURL: gw.base, fetch: gw.fetch, maxRetries: 0 });
});

after(async () => {
  await gw?.assertNoSecretsLeaked();
  await gw?.stop();
});

test("the admin API sets, lists and deletes aliases, and checks what it is sent", async () => {
  let r = await gw.admin("PUT", "/api/model-aliases/team-claude", { models: ["retired-model", "claude-sonnet-5"] });
  assert.equal(r.status, 200);
  assert.deepEqual(r.body.data, [{ alias: "team-claude", models: ["retired-model", "claude-sonnet-5"], serves: "claude-sonnet-5" }]);
  r = await gw.admin("PUT", "/api/model-aliases/team-codex", { model: "gpt-5.1-codex" });
  assert.equal(r.status, 200);
  r = await gw.admin("PUT", "/api/model-aliases/team-embed", { models: ["text-embedding-3-small"] });
  assert.equal(r.status, 200);
  r = await gw.admin("PUT", "/api/model-aliases/nothing-left", { models: ["retired-model"] });
  assert.equal(r.status, 200);
  r = await gw.admin("GET", "/api/model-aliases");
  assert.deepEqual(r.body.data.map((a) => [a.alias, a.serves]), [["nothing-left", null], ["team-claude", "claude-sonnet-5"], ["team-codex", "gpt-5.1-codex"], ["team-embed", "text-embedding-3-small"]]);

  for (const [path, body, status, message] of [
    ["/api/model-aliases/gpt-4.1", { models: ["claude-sonnet-5"] }, 409, /'gpt-4.1' is a model of the catalog/],
    ["/api/model-aliases/bad%20name", { models: ["claude-sonnet-5"] }, 400, /`alias` must be/],
    ["/api/model-aliases/x", { models: [] }, 400, /`models` must list 1 to 8/],
    ["/api/model-aliases/x", { models: "claude-sonnet-5" }, 400, /send `models`/],
    ["/api/model-aliases/x", { models: ["team-claude"] }, 400, /`models\[0\]` is an alias/],
    ["/api/model-aliases/x", { models: ["a", "a"] }, 400, /`models\[1\]` repeats/],
  ]) {
    const r = await gw.admin("PUT", path, body);
    assert.equal(r.status, status, `${path} ${JSON.stringify(body)}: ${JSON.stringify(r.body)}`);
    assert.match(r.body.error.message, message);
  }
  assert.equal((await gw.admin("DELETE", "/api/model-aliases/never-made")).status, 404);
  assert.equal((await gw.admin("POST", "/api/model-aliases")).status, 405);
  // An API key cannot manage them; ADMIN_KEY cannot use the data plane.
  assert.equal((await gw.admin("GET", "/api/model-aliases", undefined, key.key)).status, 403);
  assert.equal((await gw.admin("PUT", "/api/model-aliases/y", { models: ["gpt-4.1"] }, key.key)).status, 403);
});

test("/v1/models lists each alias whose model is available, as that model", async () => {
  const list = await openai.models.list();
  const byId = new Map(list.data.map((m) => [m.id, m]));
  assert.equal(byId.get("team-claude")?.alias_of, "claude-sonnet-5");
  assert.equal(byId.get("team-claude")?.context_window, byId.get("claude-sonnet-5").context_window);
  assert.equal(byId.get("team-codex")?.alias_of, "gpt-5.1-codex");
  assert.ok(!byId.has("nothing-left"), "an alias with no available model is not offered");
  assert.equal(list.data.at(-1).id, "team-embed", "aliases come after the catalog");
});

test("every API sends the aliased model to Copilot, natively and translated", async () => {
  let since = await logged();
  const m = await anthropic.messages.create({ model: "team-claude", max_tokens: 50, messages: [{ role: "user", content: "alias on messages" }] });
  assert.equal(m.content[0].text, "Echo: alias on messages");
  assert.deepEqual(await upstreamModels("/v1/messages", since), ["claude-sonnet-5"]);

  since = await logged();
  const stream = await openai.responses.create({ model: "team-claude", input: "alias translated", stream: true });
  let text = "";
  for await (const e of stream) if (e.type === "response.output_text.delta") text += e.delta;
  assert.equal(text, "Echo: alias translated");
  assert.deepEqual(await upstreamModels("/v1/messages", since), ["claude-sonnet-5"]);

  since = await logged();
  const r = await openai.responses.create({ model: "TEAM-CODEX", input: "alias on responses" });
  assert.equal(r.output_text, "Echo: alias on responses");
  assert.deepEqual(await upstreamModels("/responses", since), ["gpt-5.1-codex"]);

  since = await logged();
  const c = await openai.chat.completions.create({ model: "team-codex", messages: [{ role: "user", content: "alias on chat" }] });
  assert.equal(c.choices[0].message.content, "Echo: alias on chat");
  assert.deepEqual(await upstreamModels("/responses", since), ["gpt-5.1-codex"]);

  since = await logged();
  const n = await anthropic.messages.countTokens({ model: "team-claude", messages: [{ role: "user", content: "count me" }] });
  assert.ok(n.input_tokens > 0);
  assert.deepEqual(await upstreamModels("/v1/messages/count_tokens", since), ["claude-sonnet-5"]);

  since = await logged();
  const e = await openai.embeddings.create({ model: "team-embed", input: "vector" });
  assert.ok(e.data[0].embedding.length > 0);
  assert.deepEqual(await upstreamModels("/embeddings", since), ["text-embedding-3-small"]);

  // Usage is recorded under Copilot's model, not the alias.
  await new Promise((r) => setTimeout(r, 300));
  const usage = gw.d1(`SELECT DISTINCT model FROM usage WHERE key_id = '${key.id}' AND model != '-' ORDER BY model`).map((r) => r.model);
  assert.deepEqual(usage, ["claude-sonnet-5", "gpt-5.1-codex", "text-embedding-3-small"]);
});

test("an alias none of whose models is available is a 404 naming them; a deleted one is unknown", async () => {
  await assert.rejects(
    openai.chat.completions.create({ model: "nothing-left", messages: [{ role: "user", content: "x" }] }),
    (e) => e.status === 404 && /alias 'nothing-left'.*retired-model/.test(e.message),
  );
  assert.equal((await gw.admin("DELETE", "/api/model-aliases/nothing-left")).status, 200);
  assert.equal((await gw.admin("DELETE", "/api/model-aliases/team-embed")).status, 200);
  // The isolate that served the delete forgot its copy at once.
  await assert.rejects(openai.embeddings.create({ model: "team-embed", input: "x" }), (e) => e.status === 404 && /model 'team-embed' is not available/.test(e.message));
});

test("export carries the aliases and a replace import restores them", async () => {
  const exported = await gw.admin("GET", "/api/export");
  assert.deepEqual(exported.body.data.model_aliases.map((a) => a.alias), ["team-claude", "team-codex"]);
  assert.equal((await gw.admin("DELETE", "/api/model-aliases/team-codex")).status, 200);
  const bad = structuredClone(exported.body);
  bad.data.model_aliases[0].models = [];
  const refused = await gw.admin("POST", "/api/import", { mode: "merge", data: bad });
  assert.equal(refused.status, 400);
  assert.match(refused.body.error.message, /`data.model_aliases`: `models` must list/);
  const r = await gw.admin("POST", "/api/import", { mode: "replace", data: exported.body });
  assert.equal(r.status, 200, JSON.stringify(r.body));
  assert.equal(r.body.imported.model_aliases, 2);
  const list = await gw.admin("GET", "/api/model-aliases");
  assert.deepEqual(list.body.data.map((a) => a.alias), ["team-claude", "team-codex"]);
  const again = await openai.chat.completions.create({ model: "team-codex", messages: [{ role: "user", content: "restored" }] });
  assert.equal(again.choices[0].message.content, "Echo: restored");
});

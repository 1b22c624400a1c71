// `npm run loadtest`: 200 concurrent streaming requests and 2,000 non-streaming requests
// through the real gateway (`wrangler dev`, local D1/KV) against the mock upstream, across
// all three client APIs and native and translated paths. Passes only with zero gateway
// errors, every stream complete and well-formed, and usage counters exactly equal to the
// requests made. Not part of `npm test` (it takes a minute).
import assert from "node:assert/strict";
import { startGateway } from "../e2e/harness.mjs";

const STREAMS = Number(process.env.LOAD_STREAMS ?? 200);
const REQUESTS = Number(process.env.LOAD_REQUESTS ?? 2000);
const CONCURRENCY = Number(process.env.LOAD_CONCURRENCY ?? 32);

// [client API, model]: native and translated paths for each client API.
const MIX = [
  ["messages", "claude-sonnet-5"],
  ["messages", "gpt-5.1-codex"],
  ["responses", "gpt-5.1-codex"],
  ["responses", "claude-sonnet-5"],
  ["chat", "gpt-4.1"],
  ["chat", "claude-sonnet-5"],
];

function request(gw, key, [api, model], stream, i) {
  const text = `load ${i}`;
  const [path, body] =
    api === "messages"
      ? ["/v1/messages", { model, max_tokens: 256, stream, messages: [{ role: "user", content: text }] }]
      : api === "responses"
        ? ["/v1/responses", { model, stream, input: text }]
        : ["/v1/chat/completions", { model, stream, messages: [{ role: "user", content: text }] }];
  return fetch(`${gw.base}${path}`, {
    method: "POST",
    headers: { authorization: `Bearer ${key}`, "content-type": "application/json" },
    body: JSON.stringify(body),
  });
}

/** A complete, well-formed stream: every event JSON, one terminal, nothing after it, no error. */
function checkStream(api, text) {
  const frames = text.split("\n\n").filter((f) => f.trim() && !f.startsWith(":"));
  const datas = frames.map((f) => f.split("\n").filter((l) => l.startsWith("data: ")).map((l) => l.slice(6)).join("\n"));
  const last = datas.at(-1);
  for (const d of datas) {
    if (d === "[DONE]") continue;
    const v = JSON.parse(d);
    if (v.type === "error" || v.error) throw new Error(`error event: ${d}`);
  }
  const terminal =
    api === "messages" ? JSON.parse(last).type === "message_stop"
    : api === "responses" ? JSON.parse(last).type === "response.completed"
    : last === "[DONE]";
  if (!terminal) throw new Error(`stream did not end with its terminal event: ${last}`);
  if (api === "chat" && datas.filter((d) => d === "[DONE]").length !== 1) throw new Error("not exactly one [DONE]");
}

const pct = (xs, p) => xs.sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((p / 100) * xs.length))];

async function pool(n, concurrency, fn) {
  let next = 0;
  const workers = Array.from({ length: Math.min(concurrency, n) }, async () => {
    while (next < n) await fn(next++);
  });
  await Promise.all(workers);
}

const gw = await startGateway({ vars: {} });
try {
  await fetch(`${gw.mock.origin}/__mock/config`, { method: "POST", body: JSON.stringify({ sse_delay_ms: 1 }) });
  await gw.connectAccount();
  const streamKey = await gw.createKey("load-streams");
  const jsonKey = await gw.createKey("load-json");
  const errors = [];

  // 1. 200 streams at once.
  let t0 = Date.now();
  const ttfb = [];
  await Promise.all(
    Array.from({ length: STREAMS }, async (_, i) => {
      const path = MIX[i % MIX.length];
      const start = Date.now();
      try {
        const r = await request(gw, streamKey.key, path, true, i);
        if (r.status !== 200) throw new Error(`status ${r.status}: ${await r.text()}`);
        const reader = r.body.getReader();
        const dec = new TextDecoder();
        let text = "";
        for (let first = true; ; first = false) {
          const { value, done } = await reader.read();
          if (done) break;
          if (first) ttfb.push(Date.now() - start);
          text += dec.decode(value, { stream: true });
        }
        checkStream(path[0], text);
      } catch (e) {
        errors.push(`stream ${i} ${path.join(" ")}: ${e.message}`);
      }
    }),
  );
  const streamSecs = (Date.now() - t0) / 1000;

  // 2. 2,000 non-stream requests, CONCURRENCY at a time.
  t0 = Date.now();
  const latency = [];
  await pool(REQUESTS, CONCURRENCY, async (i) => {
    const path = MIX[i % MIX.length];
    const start = Date.now();
    try {
      const r = await request(gw, jsonKey.key, path, false, i);
      const body = await r.json();
      if (r.status !== 200) throw new Error(`status ${r.status}: ${JSON.stringify(body)}`);
      latency.push(Date.now() - start);
    } catch (e) {
      errors.push(`request ${i} ${path.join(" ")}: ${e.message}`);
    }
  });
  const jsonSecs = (Date.now() - t0) / 1000;

  // 3. Usage: exactly what was made (writes land just after each answer).
  const hour = (d) => new Date(Date.now() + d).toISOString().slice(0, 13);
  const totals = async () => {
    const u = await gw.admin("GET", `/api/usage?start=${hour(-3600e3)}&end=${hour(3600e3)}&group_by=key`);
    return Object.fromEntries(u.body.records.map((r) => [r.key_id, r]));
  };
  let usage;
  for (let i = 0; i < 100; i++) {
    usage = await totals();
    if (usage[streamKey.id]?.requests === STREAMS && usage[jsonKey.id]?.requests === REQUESTS) break;
    await new Promise((r) => setTimeout(r, 200));
  }
  const upstreamCalls = (await (await fetch(`${gw.mock.origin}/__mock/requests?prefix=/copilot/`)).json())
    .filter((e) => e.status === 200 && e.method === "POST").length;

  console.log(`streams:      ${STREAMS} concurrent in ${streamSecs.toFixed(1)} s; TTFB p50 ${pct(ttfb, 50)} ms, p99 ${pct(ttfb, 99)} ms`);
  console.log(`non-stream:   ${REQUESTS} at concurrency ${CONCURRENCY} in ${jsonSecs.toFixed(1)} s (${(REQUESTS / jsonSecs).toFixed(0)} req/s); latency p50 ${pct(latency, 50)} ms, p99 ${pct(latency, 99)} ms`);
  console.log(`errors:       ${errors.length}`);
  console.log(`usage rows:   streams ${usage[streamKey.id]?.requests ?? 0}/${STREAMS} (errors ${usage[streamKey.id]?.errors ?? 0}), non-stream ${usage[jsonKey.id]?.requests ?? 0}/${REQUESTS} (errors ${usage[jsonKey.id]?.errors ?? 0})`);
  console.log(`upstream:     ${upstreamCalls} successful generation calls seen by the mock`);
  for (const e of errors.slice(0, 10)) console.log(`  ${e}`);
  assert.equal(errors.length, 0, "no gateway errors");
  assert.equal(usage[streamKey.id]?.requests, STREAMS, "stream usage counts every request");
  assert.equal(usage[jsonKey.id]?.requests, REQUESTS, "non-stream usage counts every request");
  assert.equal(usage[streamKey.id]?.errors ?? 0, 0);
  assert.equal(usage[jsonKey.id]?.errors ?? 0, 0);
  assert.equal(upstreamCalls, STREAMS + REQUESTS, "one upstream call per request");
  console.log("loadtest passed");
} finally {
  await gw.stop();
}

// A minimal, fast GitHub + Copilot upstream for the benchmark. It speaks the real
// protocols for setup (device flow, token exchange, /user, /models) and then answers every
// generation request with canned bytes (answers.mjs): JSON, or an SSE stream whose first
// frames go out on their own before the rest (so time-to-first-byte means something).
// No validation, no logging, no per-request JSON parsing: it must never be the bottleneck.
// tests/mock/ is the strict, behavioural mock the end-to-end suites use.
import http from 'node:http';
import { answer, MODELS } from './answers.mjs';

const PATHS = { '/copilot/v1/messages': 'messages', '/copilot/responses': 'responses', '/copilot/chat/completions': 'chat' };

function model(id, endpoints, vendor, extra = {}) {
  return {
    id, name: id, object: 'model', vendor, version: id, preview: false, model_picker_enabled: true,
    capabilities: {
      family: id, object: 'model_capabilities', tokenizer: 'o200k_base', type: 'chat',
      limits: { max_context_window_tokens: 400000, max_output_tokens: 64000, max_prompt_tokens: 272000 },
      supports: { streaming: true, tool_calls: true, parallel_tool_calls: true, vision: true, ...extra },
    },
    supported_endpoints: endpoints,
  };
}

export const CATALOG = {
  object: 'list',
  data: [
    model(MODELS.messages, ['/v1/messages'], 'Anthropic', { adaptive_thinking: true, max_thinking_budget: 32000, min_thinking_budget: 1024 }),
    model(MODELS.responses, ['/responses'], 'OpenAI', { reasoning_effort: ['low', 'medium', 'high'] }),
    model(MODELS.chat, ['/chat/completions'], 'Google'),
  ],
};

const enc = (s) => Buffer.from(s, 'utf8');

/** Pre-encoded answers for `deltas`: {api: {json, head, rest, restNoUsage}}. */
export function cannedAnswers(deltas) {
  const out = {};
  for (const api of ['messages', 'responses', 'chat']) {
    const a = answer(api, deltas);
    // The head: every frame up to and including the first delta.
    const firstDelta = a.frames.findIndex((f) => /delta"/.test(f));
    const cut = Math.max(1, firstDelta + 1);
    const rest = a.frames.slice(cut);
    out[api] = {
      json: enc(a.json),
      head: enc(a.frames.slice(0, cut).join('')),
      rest: enc(rest.join('')),
      restNoUsage: enc(rest.filter((f) => f !== a.usageFrame).join('')),
      frames: a.frames,
      usageFrame: a.usageFrame,
    };
  }
  return out;
}

/**
 * @param {{ port?: number, deltas?: number }} opts
 */
export async function startBenchMock({ port = 0, deltas = 2000 } = {}) {
  let canned = cannedAnswers(deltas);
  const stats = { requests: {}, bytesIn: {} };
  let origin = '';
  let deviceCodes = 0;
  const githubToken = 'gho_benchBenchBenchBenchBenchBench0123';
  const copilotToken = () =>
    `tid=bench;exp=${Math.floor(Date.now() / 1000) + 3600};sku=plus_monthly_subscriber_quota;proxy-ep=proxy.individual.githubcopilot.com;chat=1`;

  const json = (res, status, obj) => {
    const body = Buffer.isBuffer(obj) ? obj : enc(JSON.stringify(obj));
    res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': body.length });
    res.end(body);
  };

  function generate(req, res, api, body) {
    const a = canned[api];
    // Every client body the benchmark sends, and every body the gateway builds, is compact JSON.
    const stream = body.includes('"stream":true');
    if (!stream) return json(res, 200, a.json);
    const usage = api !== 'chat' || body.includes('"include_usage":true');
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
    res.write(a.head);
    setImmediate(() => res.end(usage ? a.rest : a.restNoUsage));
  }

  const server = http.createServer((req, res) => {
    // A Worker torn down mid-request (the benchmark disposes its Miniflare) resets its
    // connections: not the benchmark's failure.
    req.on('error', () => {});
    res.on('error', () => {});
    const chunks = [];
    let size = 0;
    req.on('data', (c) => {
      chunks.push(c);
      size += c.length;
    });
    req.on('end', () => {
      const path = req.url.split('?')[0];
      const key = `${req.method} ${path}`;
      stats.requests[key] = (stats.requests[key] ?? 0) + 1;
      stats.bytesIn[key] = (stats.bytesIn[key] ?? 0) + size;
      const api = PATHS[path];
      if (api && req.method === 'POST') return generate(req, res, api, Buffer.concat(chunks, size));
      switch (key) {
        case 'POST /github/login/device/code':
          return json(res, 200, {
            device_code: `dc${++deviceCodes}`, user_code: 'BENC-1234', verification_uri: 'https://github.com/login/device', expires_in: 900, interval: 5,
          });
        case 'POST /github/login/oauth/access_token':
          return json(res, 200, { access_token: githubToken, token_type: 'bearer', scope: 'read:user' });
        case 'GET /api/user':
          return json(res, 200, { login: 'benchcat', id: 4242, name: 'Bench Cat', avatar_url: 'https://avatars.example/u/4242', type: 'User' });
        case 'GET /api/copilot_internal/v2/token':
          return json(res, 200, {
            token: copilotToken(), expires_at: Math.floor(Date.now() / 1000) + 3600, refresh_in: 3300,
            endpoints: { api: `${origin}/copilot` }, sku: 'plus_monthly_subscriber_quota', individual: true,
          });
        case 'GET /api/copilot_internal/user':
          return json(res, 200, { copilot_plan: 'individual', quota_snapshots: {} });
        case 'GET /copilot/models':
          return json(res, 200, CATALOG);
        default:
          return json(res, 404, { error: { message: `bench mock: no route for ${key}`, type: 'not_found' } });
      }
    });
  });
  server.keepAliveTimeout = 60_000;
  server.on('connection', (s) => s.setNoDelay(true));
  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', resolve);
  });
  origin = `http://127.0.0.1:${server.address().port}`;
  return {
    origin,
    stats,
    canned: () => canned,
    /** Changes how many deltas every stream (and JSON answer) carries. */
    setDeltas(n) {
      canned = cannedAnswers(n);
    },
    resetStats() {
      stats.requests = {};
      stats.bytesIn = {};
    },
    close: () =>
      new Promise((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

// Mock GitHub + Copilot upstream for copilot-gateway's end-to-end tests and offline
// `npm run dev`. One HTTP server, three path prefixes (so tests see which base URL the
// gateway used for each call):
//   /github   github.com            (OAuth device flow)
//   /api      api.github.com        (user, Copilot token exchange, quota)
//   /copilot  api.githubcopilot.com (models, chat/completions, responses, v1/messages, …)
//   /search   web-search providers: /tavily, /grounding, /brave, /searxng (search.mjs)
//   /__mock   control endpoints for tests (see control.mjs)
//
// Usage: node tests/mock/upstream.mjs [port]   (default 8788)
import http from 'node:http';
import { pathToFileURL } from 'node:url';
import { MockState } from './state.mjs';
import { HttpError, parseJson, sleep, randomHex } from './util.mjs';
import { githubRoute, apiRoute, githubNotFound } from './github.mjs';
import { copilotRoute } from './copilot.mjs';
import { controlRoute } from './control.mjs';
import { searchRoute } from './search.mjs';
import { SseWriter, dataFrame } from './sse.mjs';

const MAX_BODY = 64 * 1024 * 1024;
const PREFIXES = ['/github', '/api', '/copilot', '/search'];

function readBody(req) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    let size = 0;
    req.on('data', (c) => {
      size += c.length;
      if (size > MAX_BODY) {
        reject(new HttpError(413, { error: 'request body too large' }));
        req.destroy();
      } else chunks.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

// Per-plan Copilot hosts (api.individual.githubcopilot.com, …) as path prefixes.
const PLAN_HOST = /^\/copilot-(individual|business|enterprise)(\/.*)?$/;

function splitPrefix(path) {
  for (const p of PREFIXES) if (path === p || path.startsWith(`${p}/`)) return [p, path.slice(p.length) || '/'];
  const plan = PLAN_HOST.exec(path);
  if (plan) return ['/copilot', plan[2] || '/', plan[1]];
  return [null, path];
}

function errorResult(err) {
  if (err instanceof HttpError) {
    return typeof err.body === 'string'
      ? { status: err.status, text: err.body, headers: err.headers }
      : { status: err.status, json: err.body, headers: err.headers };
  }
  return { status: 500, json: { error: { message: `mock upstream internal error: ${err?.message ?? err}`, type: 'server_error' } } };
}

function notFound(prefix, method, path) {
  if (prefix === '/api' || prefix === '/github') return errorResult(githubNotFound());
  return { status: 404, json: { error: { message: `No route for ${method} ${path}`, type: 'not_found', code: 'not_found' } } };
}

/** Write a handler result: {status, headers?, json | text | sse(writer)}. */
async function send(res, result, state) {
  const headers = { 'x-github-request-id': `${randomHex(4).toUpperCase()}:${randomHex(6).toUpperCase()}`, ...result.headers };
  if (result.sse) {
    const sse = new SseWriter(res, { delayMs: state.config.sse_delay_ms });
    sse.start(result.status, headers);
    try {
      await result.sse(sse);
    } catch (err) {
      // Never leave a half-written stream hanging: tell the client and close.
      await sse.write(dataFrame({ error: { message: `mock upstream internal error: ${err.message}`, type: 'server_error' } }));
    }
    sse.end();
    return;
  }
  let payload = '';
  if ('json' in result) {
    payload = JSON.stringify(result.json);
    headers['content-type'] ??= 'application/json; charset=utf-8';
  } else if ('text' in result) {
    payload = result.text;
    headers['content-type'] ??= 'text/plain; charset=utf-8';
  }
  res.writeHead(result.status, { ...headers, 'content-length': Buffer.byteLength(payload) });
  res.end(payload);
}

/** Serve a scripted answer from POST /__mock/script. */
async function serveScript(res, script, state) {
  if (script.sse) {
    // A slow upstream: nothing at all (not even headers) for this long.
    if (script.headers_delay_ms) await sleep(script.headers_delay_ms);
    const sse = new SseWriter(res, { delayMs: script.delay_ms ?? state.config.sse_delay_ms, split: false });

    sse.start(script.status, script.headers);
    for (const frame of script.sse) await sse.write(typeof frame === 'string' ? frame : dataFrame(frame));
    if (script.destroy) sse.destroy();
    else sse.end();
    return;
  }
  if (script.delay_ms) await sleep(script.delay_ms);
  const headers = { ...script.headers };
  const lower = Object.fromEntries(Object.keys(headers).map((k) => [k.toLowerCase(), k]));
  let payload = '';
  if (script.body !== undefined && typeof script.body !== 'string') {
    payload = JSON.stringify(script.body);
    if (!lower['content-type']) headers['content-type'] = 'application/json; charset=utf-8';
  } else if (typeof script.body === 'string') {
    payload = script.body;
    if (!lower['content-type']) headers['content-type'] = 'text/plain; charset=utf-8';
  }
  if (script.destroy) {
    res.socket?.destroy();
    return;
  }
  res.writeHead(script.status, headers);
  res.end(payload);
}

function takeScript(state, method, path) {
  const i = state.scripts.findIndex((s) => s.path === path && (!s.method || s.method === method));
  if (i < 0) return null;
  const script = state.scripts[i];
  script.times -= 1;
  if (script.times <= 0) state.scripts.splice(i, 1);
  return script;
}

function logLine(entry, ms) {
  const body = entry.body && typeof entry.body === 'object' ? entry.body : {};
  const bits = [entry.method, entry.path, '→', entry.status, `${ms}ms`];
  if (body.model) bits.push(`model=${body.model}`);
  if (body.stream) bits.push('stream');
  if (entry.user) bits.push(`user=${entry.user}`);
  if (entry.scripted) bits.push('(scripted)');
  console.log(`[mock] ${new Date().toISOString()} ${bits.join(' ')}`);
}

async function handle(state, req, res, log) {
  const started = Date.now();
  const url = new URL(req.url, 'http://mock.invalid');
  const method = req.method.toUpperCase();
  const path = url.pathname;
  let rawBody = Buffer.alloc(0);
  let readError = null;
  try {
    rawBody = await readBody(req);
  } catch (err) {
    readError = err;
  }
  const ctx = { state, req, res, url, method, path, headers: req.headers, rawBody, subpath: path };

  if (path === '/__mock' || path.startsWith('/__mock/')) {
    let result;
    try {
      if (readError) throw readError;
      result = await controlRoute(ctx);
    } catch (err) {
      result = errorResult(err);
    }
    await send(res, result, state);
    return;
  }

  let body = null;
  try {
    body = parseJson(rawBody) ?? null;
  } catch {
    body = rawBody.toString('utf8');
  }
  const h = req.headers;
  const entry = {
    seq: ++state.requestSeq,
    time: new Date().toISOString(),
    method,
    path,
    query: url.search.slice(1),
    headers: { ...h },
    body,
    // The premium-request / vision / beta levers the gateway controls, for assertions.
    flags: {
      x_initiator: h['x-initiator'] ?? null,
      copilot_vision_request: h['copilot-vision-request'] ?? null,
      anthropic_beta: h['anthropic-beta'] ?? null,
    },
    user: null,
    model: null,
    status: null,
    scripted: false,
    reply: null,
  };
  ctx.entry = entry;
  state.requests.push(entry);
  // The gateway hung up before the answer was complete (e.g. its client went away).
  entry.client_closed = false;
  res.on('close', () => {
    if (!res.writableEnded) entry.client_closed = true;
  });
  const key = `${method} ${path}`;
  state.stats.requests[key] = (state.stats.requests[key] ?? 0) + 1;

  try {
    const script = takeScript(state, method, path);
    if (script) {
      entry.scripted = true;
      entry.status = script.status;
      await serveScript(res, script, state);
      return;
    }
    const [prefix, subpath, planHost] = splitPrefix(path);
    ctx.subpath = subpath;
    ctx.planHost = planHost ?? null;
    let result;
    try {
      if (readError) throw readError;
      if (prefix === '/github') result = githubRoute(ctx);
      else if (prefix === '/api') result = apiRoute(ctx);
      else if (prefix === '/copilot') result = await copilotRoute(ctx);
      else if (prefix === '/search') result = searchRoute(ctx);
      result ??= notFound(prefix, method, path);
    } catch (err) {
      result = errorResult(err);
    }
    entry.status = result.status;
    if (prefix === '/copilot' && h['x-request-id']) result.headers = { 'x-request-id': h['x-request-id'], ...result.headers };
    await send(res, result, state);
  } finally {
    if (log) logLine(entry, Date.now() - started);
  }
}

/**
 * Start a mock on 127.0.0.1. `port = 0` picks a free port.
 * @returns {Promise<{port:number, origin:string, githubBaseUrl:string, githubApiBaseUrl:string,
 *   copilotBaseUrl:string, tavilyBaseUrl:string, groundingBaseUrl:string, braveBaseUrl:string,
 *   searxngUrl:string, searchKeys:object, close:() => Promise<void>, state: MockState}>}
 */
export async function startMock({ port = 0, log = false } = {}) {
  const state = new MockState();
  const server = http.createServer((req, res) => {
    handle(state, req, res, log).catch((err) => {
      // Last resort: the handler itself failed; answer 500 if nothing was sent yet.
      if (!res.headersSent) {
        res.writeHead(500, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ error: { message: `mock upstream crashed: ${err?.message ?? err}` } }));
      } else res.destroy();
    });
  });
  // Every SSE write should leave as its own TCP segment.
  server.on('connection', (socket) => socket.setNoDelay(true));
  server.on('clientError', (_err, socket) => socket.destroy());
  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', resolve);
  });
  const actual = server.address().port;
  const origin = `http://127.0.0.1:${actual}`;
  state.origin = origin;
  return {
    port: actual,
    origin,
    githubBaseUrl: `${origin}/github`,
    githubApiBaseUrl: `${origin}/api`,
    copilotBaseUrl: `${origin}/copilot`,
    // Search providers (vars TAVILY_BASE_URL, MICROSOFT_GROUNDING_BASE_URL, BRAVE_SEARCH_BASE_URL;
    // the SearXNG URL is an admin setting).
    tavilyBaseUrl: `${origin}/search/tavily`,
    groundingBaseUrl: `${origin}/search/grounding`,
    braveBaseUrl: `${origin}/search/brave`,
    searxngUrl: `${origin}/search/searxng`,
    searchKeys: state.searchKeys,
    state,
    close: () =>
      new Promise((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

// ---------------------------------------------------------------- CLI

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const port = Number(process.argv[2] ?? process.env.MOCK_PORT ?? 8788);
  const mock = await startMock({ port, log: true });
  console.log(`mock upstream listening on ${mock.origin}`);
  console.log(`  GITHUB_BASE_URL       ${mock.githubBaseUrl}`);
  console.log(`  GITHUB_API_BASE_URL   ${mock.githubApiBaseUrl}`);
  console.log(`  COPILOT_API_BASE_URL  ${mock.copilotBaseUrl}`);
  console.log(`  TAVILY_BASE_URL       ${mock.tavilyBaseUrl}`);
  console.log(`  MICROSOFT_GROUNDING_BASE_URL ${mock.groundingBaseUrl}`);
  console.log(`  BRAVE_SEARCH_BASE_URL ${mock.braveBaseUrl}`);
  console.log('wrangler flags:');
  console.log(
    `  --var GITHUB_BASE_URL:${mock.githubBaseUrl} --var GITHUB_API_BASE_URL:${mock.githubApiBaseUrl} ` +
      `--var COPILOT_API_BASE_URL:${mock.copilotBaseUrl} --var TAVILY_BASE_URL:${mock.tavilyBaseUrl} ` +
      `--var MICROSOFT_GROUNDING_BASE_URL:${mock.groundingBaseUrl} --var BRAVE_SEARCH_BASE_URL:${mock.braveBaseUrl}`,
  );
  const k = mock.searchKeys;
  console.log('search provider keys (set them on the admin app\'s Web search page):');
  console.log(`  tavily ${k.tavily}  microsoft-grounding ${k['microsoft-grounding']}  brave ${k.brave}`);
  console.log(`  SearXNG URL ${mock.searxngUrl} (or with basic auth: ${mock.searxngUrl.replace('://', `://${k.searxng_user}:${k.searxng_password}@`)})`);
  console.log('users (GitHub token usable to add an account by token):');
  for (const u of mock.state.users) console.log(`  ${u.id} ${u.login.padEnd(9)} copilot=${u.copilot} ${u.github_token}`);
  console.log(`control: ${mock.origin}/__mock/requests, /__mock/stats, /__mock/reset …`);
  const stop = () => mock.close().then(() => process.exit(0));
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}

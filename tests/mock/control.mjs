// Control endpoints under /__mock (no auth, never logged as upstream traffic): tests use
// them to reset state, read the request log, script answers and flip behaviour switches.
import { HttpError, isObject, parseJson } from './util.mjs';
import { DEFAULT_CONFIG } from './state.mjs';
import { describeSearch, SEARCH_PROVIDERS } from './search.mjs';
import { setUsageLimit } from './billing.mjs';

const ok = (extra = {}) => ({ status: 200, json: { ok: true, ...extra } });
const badRequest = (message) => new HttpError(400, { error: message });

function body(ctx) {
  try {
    const b = parseJson(ctx.rawBody);
    return isObject(b) ? b : {};
  } catch {
    throw badRequest('invalid JSON');
  }
}

function filterRequests(state, url) {
  const path = url.searchParams.get('path');
  const prefix = url.searchParams.get('prefix');
  return state.requests.filter((r) => (!path || r.path === path) && (!prefix || r.path.startsWith(prefix)));
}

function secrets(state) {
  const github = [...state.githubTokens.keys()];
  const copilot = [...state.copilotTokens.keys()];
  const { searxng_user: _user, ...search } = state.searchKeys;
  return { github_tokens: github, copilot_tokens: copilot, search_keys: Object.values(search), all: [...state.secretLog] };
}

function addScript(state, b) {
  if (typeof b.path !== 'string' || !b.path.startsWith('/')) throw badRequest('script needs a path like /copilot/chat/completions');
  if (b.sse != null && !Array.isArray(b.sse)) throw badRequest('sse must be an array of frames');
  const times = b.times ?? 1;
  if (!Number.isInteger(times) || times < 1) throw badRequest('times must be a positive integer');
  state.scripts.push({
    method: b.method ? String(b.method).toUpperCase() : null,
    path: b.path,
    status: b.status ?? 200,
    headers: b.headers ?? {},
    body: b.body,
    sse: b.sse ?? null,
    delay_ms: b.delay_ms ?? null,
    headers_delay_ms: b.headers_delay_ms ?? null,

    destroy: b.destroy === true,
    times,
  });
  return ok({ scripts: state.scripts.length });
}

const ROUTES = {
  'GET /': (ctx) => ok({ origin: ctx.state.origin }),
  'POST /reset': (ctx) => (ctx.state.reset(), ok()),
  'GET /requests': (ctx) => ({ status: 200, json: filterRequests(ctx.state, ctx.url) }),
  'DELETE /requests': (ctx) => ((ctx.state.requests = []), ok()),
  'GET /secrets': (ctx) => ({ status: 200, json: secrets(ctx.state) }),
  'GET /stats': (ctx) => ({ status: 200, json: ctx.state.stats }),
  'GET /users': (ctx) => ({ status: 200, json: ctx.state.users }),
  'GET /config': (ctx) => ({ status: 200, json: ctx.state.config }),
  'POST /config': (ctx) => {
    const b = body(ctx);
    for (const [k, v] of Object.entries(b)) {
      if (!(k in DEFAULT_CONFIG)) throw badRequest(`unknown config key ${k}`);
      if (typeof v !== typeof DEFAULT_CONFIG[k]) throw badRequest(`${k} must be a ${typeof DEFAULT_CONFIG[k]}`);
      ctx.state.config[k] = v;
    }
    return { status: 200, json: ctx.state.config };
  },
  'POST /copilot/expire': (ctx) => {
    for (const t of ctx.state.copilotTokens.values()) t.invalidated = true;
    return ok({ expired: ctx.state.copilotTokens.size });
  },
  'POST /github/revoke': (ctx) => {
    const t = ctx.state.githubTokens.get(body(ctx).token);
    if (!t) throw new HttpError(404, { error: 'unknown token' });
    t.revoked = true;
    return ok();
  },
  'POST /next-user': (ctx) => {
    const user = ctx.state.userById(body(ctx).id);
    if (!user) throw new HttpError(404, { error: 'unknown user id' });
    ctx.state.nextUserId = user.id;
    return ok({ login: user.login });
  },
  'POST /device/next': (ctx) => {
    const b = body(ctx);
    if (!['slow_down', 'access_denied', 'expired_token', 'authorization_pending'].includes(b.error)) {
      throw badRequest('error must be slow_down, access_denied, expired_token or authorization_pending');
    }
    ctx.state.deviceNext = { error: b.error, interval: b.interval };
    return ok();
  },
  'POST /token-ttl': (ctx) => {
    const s = body(ctx).seconds;
    if (!Number.isInteger(s) || s < 1) throw badRequest('seconds must be a positive integer');
    ctx.state.tokenTtl = s;
    return ok();
  },
  'POST /plan': (ctx) => {
    const b = body(ctx);
    const user = ctx.state.userById(b.user_id);
    if (!user) throw new HttpError(404, { error: 'unknown user id' });
    if (typeof b.plan !== 'string') throw badRequest('plan must be a string');
    if (b.billing != null && !['legacy', 'tokens'].includes(b.billing)) throw badRequest('billing must be legacy or tokens');
    user.plan = b.plan;
    if (b.billing != null) user.billing = b.billing;
    return ok();
  },
  // A user's 5-hour session or weekly window runs out (until the given time), or is cleared.
  'POST /usage-limit': (ctx) => {
    const b = body(ctx);
    const user = ctx.state.userById(b.user_id);
    if (!user) throw new HttpError(404, { error: 'unknown user id' });
    return ok({ until: setUsageLimit(user, b) });
  },
  'POST /script': (ctx) => addScript(ctx.state, body(ctx)),
  // Search providers: the credentials they accept, what they were asked, scripted hits.
  'GET /search/keys': (ctx) => ({ status: 200, json: ctx.state.searchKeys }),
  'GET /search/requests': (ctx) => {
    const provider = ctx.url.searchParams.get('provider');
    const log = ctx.state.requests.map(describeSearch).filter((d) => d && (!provider || d.provider === provider));
    return { status: 200, json: log };
  },
  'POST /search/results': (ctx) => {
    const b = body(ctx);
    if (b.provider != null && !SEARCH_PROVIDERS.includes(b.provider)) throw badRequest(`provider must be one of ${SEARCH_PROVIDERS.join(', ')}`);
    if (!Array.isArray(b.results) || !b.results.every((r) => r && typeof r.url === 'string')) throw badRequest('results must be a list of {url, title?, content?, page_age?}');
    const times = b.times ?? 1;
    if (!Number.isInteger(times) || times < 1) throw badRequest('times must be a positive integer');
    ctx.state.searchResults.push({ provider: b.provider ?? null, results: b.results, times });
    return ok({ scripted: ctx.state.searchResults.length });
  },
  'DELETE /search/results': (ctx) => ((ctx.state.searchResults = []), ok()),
  'DELETE /script': (ctx) => ((ctx.state.scripts = []), ok()),
  'POST /catalog': (ctx) => {
    const b = body(ctx);
    if (!Array.isArray(b.data)) throw badRequest('catalog needs a data array');
    ctx.state.catalog = { object: 'list', ...b };
    return ok({ models: b.data.length });
  },
  // Simulate Copilot moving the client to another connection: ids minted so far go stale.
  'POST /responses/forget-items': (ctx) => {
    const n = ctx.state.acceptedItemIds.size;
    ctx.state.acceptedItemIds.clear();
    return ok({ forgotten: n });
  },
};

export function controlRoute(ctx) {
  const sub = ctx.path.slice('/__mock'.length) || '/';
  const handler = ROUTES[`${ctx.method} ${sub}`];
  if (!handler) throw new HttpError(404, { error: `no control endpoint ${ctx.method} ${ctx.path}` });
  return handler(ctx);
}

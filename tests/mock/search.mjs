// Mock web-search providers under /search, each speaking its real API's request and
// answer shapes, checking its credential the way the real one does:
//   /search/tavily     Tavily          POST /search            Authorization: Bearer <key>
//   /search/grounding  Microsoft Web IQ POST /v3/search/web    x-apikey: <key>
//   /search/brave      Brave Search    GET  /res/v1/web/search X-Subscription-Token: <key>
//   /search/searxng    SearXNG         GET  /search?format=json (basic auth when sent or required)
// Results are deterministic, derived from the query: five hits on example domains (or on
// the allowed domains when the query or body restricts them), blocked domains left out
// where the real API honours the filter. SearXNG, like a real instance whose engines do
// not all honour operators, ignores `-site:` and adds one stray hit outside `site:`:
// the gateway has to filter after the fact.
import { HttpError, randomAlnum, randomHex } from './util.mjs';

export const SEARCH_PROVIDERS = ['tavily', 'grounding', 'brave', 'searxng'];

const DEFAULT_DOMAINS = ['docs.example.org', 'blog.example.com', 'news.example.net', 'wiki.example.org', 'forum.example.io'];
const STRAY_DOMAIN = 'stray.example.net';
const HITS = 5;

/** Credentials the mock accepts, made once per mock (kept across resets). */
export function newSearchKeys() {
  return {
    tavily: `tvly-dev-${randomAlnum(32)}`,
    'microsoft-grounding': randomHex(32),
    brave: `BSA${randomAlnum(28)}`,
    searxng_user: 'gateway',
    searxng_password: `sx-${randomAlnum(20)}`,
  };
}

/** `query (site:a OR site:b) -site:c` → { terms, allowed, blocked }. */
export function parseOperators(q) {
  const allowed = [];
  const blocked = [];
  const rest = String(q ?? '')
    .replace(/(^|[\s(])(-?)site:([^\s()]+)/gi, (_, lead, minus, d) => {
      (minus ? blocked : allowed).push(d.toLowerCase());
      return lead;
    })
    .replace(/\(\s*(OR\s*)*\)/g, ' ')
    .replace(/\b(OR)\b(?=\s*(\)|$))/g, ' ')
    .replace(/\s+/g, ' ')
    .trim();
  return { terms: rest, allowed, blocked };
}

const within = (host, d) => host === d || host.endsWith(`.${d}`);

/** The deterministic hits for a query: `{url, title, content, date, domain}`. */
export function mockHits(terms, { allowed = [], blocked = [], count = HITS } = {}) {
  const domains = allowed.length ? allowed : DEFAULT_DOMAINS;
  const slug = terms.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '').slice(0, 60) || 'query';
  const out = [];
  for (let i = 0; i < HITS; i++) {
    const domain = domains[i % domains.length];
    if (blocked.some((b) => within(domain, b))) continue;
    out.push({
      url: `https://${domain}/${slug}/${i + 1}`,
      title: `${terms} - result ${i + 1} on ${domain}`,
      content: `Result ${i + 1} for "${terms}": what ${domain} says about ${terms}. ${'Details follow. '.repeat(3)}`.trim(),
      date: `2025-0${i + 1}-15`,
      domain,
    });
  }
  return out.slice(0, Math.max(0, count));
}

/** Which provider and what was asked, from a logged (or live) request. */
export function describeSearch(entry) {
  const m = /^\/search\/([^/]+)(\/.*)?$/.exec(entry.path);
  if (!m) return null;
  const provider = m[1];
  const params = new URLSearchParams(entry.query ?? '');
  const body = entry.body && typeof entry.body === 'object' ? entry.body : {};
  const base = { seq: entry.seq, time: entry.time, provider, path: entry.path, status: entry.status, scripted: entry.scripted };
  if (provider === 'tavily') {
    return { ...base, query: body.query ?? null, terms: body.query ?? null, count: body.max_results ?? null,
      include_domains: body.include_domains ?? [], exclude_domains: body.exclude_domains ?? [], country: body.country ?? null };
  }
  const query = provider === 'grounding' ? body.query ?? null : params.get('q');
  const ops = parseOperators(query ?? '');
  const count = provider === 'grounding' ? body.maxResults ?? null : params.has('count') ? Number(params.get('count')) : null;
  const country = provider === 'grounding' ? body.region ?? null : params.get('country');
  return { ...base, query, terms: ops.terms, count, include_domains: ops.allowed, exclude_domains: ops.blocked, country };
}

function scripted(state, provider) {
  const i = state.searchResults.findIndex((s) => !s.provider || s.provider === provider);
  if (i < 0) return null;
  const s = state.searchResults[i];
  s.times -= 1;
  if (s.times <= 0) state.searchResults.splice(i, 1);
  return s.results.map((r, n) => ({ url: r.url, title: r.title ?? '', content: r.content ?? '', date: r.page_age ?? null, domain: '', n }));
}

// ---- Tavily ----

function tavily(ctx) {
  const { state, headers } = ctx;
  const auth = headers.authorization ?? '';
  if (auth !== `Bearer ${state.searchKeys.tavily}`) {
    throw new HttpError(401, { detail: { error: 'Unauthorized: missing or invalid API key.' } });
  }
  const b = ctx.body;
  if (!b || typeof b !== 'object' || typeof b.query !== 'string' || !b.query.trim()) {
    throw new HttpError(400, { detail: { error: 'Query is missing.' } });
  }
  const max = b.max_results ?? 5;
  if (!Number.isInteger(max) || max < 0 || max > 20) throw new HttpError(400, { detail: { error: 'max_results must be between 0 and 20.' } });
  for (const k of ['include_domains', 'exclude_domains']) {
    if (b[k] != null && !(Array.isArray(b[k]) && b[k].every((d) => typeof d === 'string'))) {
      throw new HttpError(400, { detail: { error: `${k} must be a list of strings.` } });
    }
  }
  const hits = scripted(state, 'tavily') ?? mockHits(b.query.trim(), { allowed: b.include_domains ?? [], blocked: b.exclude_domains ?? [], count: max });
  return {
    status: 200,
    json: {
      query: b.query,
      follow_up_questions: null,
      answer: null,
      images: [],
      results: hits.map((h, i) => ({ url: h.url, title: h.title, content: h.content, score: Number((0.9 - i * 0.05).toFixed(2)), raw_content: null })),
      response_time: 0.42,
      request_id: `${randomHex(8)}-${randomHex(4)}-${randomHex(4)}-${randomHex(4)}-${randomHex(12)}`,
    },
  };
}

// ---- Microsoft Grounding (Web IQ) ----

function grounding(ctx) {
  const { state, headers } = ctx;
  if (headers['x-apikey'] !== state.searchKeys['microsoft-grounding']) {
    throw new HttpError(401, { error: { code: 'Unauthorized', message: 'Access denied due to a missing or invalid API key.' } });
  }
  const b = ctx.body;
  const bad = (message) => new HttpError(400, { error: { code: 'InvalidRequest', message } });
  if (!b || typeof b !== 'object' || typeof b.query !== 'string' || !b.query.trim()) throw bad('query is required.');
  if (b.query.length > 1000) throw bad('query must be at most 1000 characters.');
  const max = b.maxResults ?? 10;
  if (!Number.isInteger(max) || max < 1 || max > 50) throw bad('maxResults must be between 1 and 50.');
  if (b.contentFormat != null && !['passage', 'text', 'html', 'markdown'].includes(b.contentFormat)) throw bad('contentFormat is not valid.');
  if (b.region != null && !/^[A-Z]{2}$/.test(b.region)) throw bad('region must be a two-letter code.');
  const ops = parseOperators(b.query);
  const hits = scripted(state, 'grounding') ?? mockHits(ops.terms, { allowed: ops.allowed, blocked: ops.blocked, count: max });
  return {
    status: 200,
    json: {
      webResults: hits.map((h) => ({
        url: h.url,
        title: h.title,
        content: h.content,
        ...(h.date ? { lastUpdatedAt: `${h.date}T08:00:00Z` } : {}),
        crawledAt: '2025-10-01T00:00:00Z',
      })),
      traceId: randomHex(16),
    },
  };
}

// ---- Brave Search ----

function braveError(status, code, detail, meta = {}) {
  return new HttpError(status, { type: 'ErrorResponse', error: { id: randomHex(32), status, code, detail, meta }, time: Math.floor(Date.now() / 1000) });
}

function brave(ctx) {
  const { state, headers, url } = ctx;
  if (headers['x-subscription-token'] !== state.searchKeys.brave) {
    // Like the real API: a bad token is a 422, not a 401.
    throw braveError(422, 'SUBSCRIPTION_TOKEN_INVALID', 'The provided subscription token is invalid.');
  }
  const p = url.searchParams;
  const q = p.get('q') ?? '';
  const count = p.has('count') ? Number(p.get('count')) : 20;
  const invalid = !q.trim() || q.length > 400 || q.split(/\s+/).length > 50 || !Number.isInteger(count) || count < 1 || count > 20 ||
    (p.has('country') && !/^[A-Z]{2}$|^ALL$/i.test(p.get('country')));
  if (invalid) throw braveError(422, 'VALIDATION', 'Unable to validate request parameter(s)');
  const ops = parseOperators(q);
  const hits = scripted(state, 'brave') ?? mockHits(ops.terms, { allowed: ops.allowed, blocked: ops.blocked, count });
  const decorate = p.get('text_decorations') !== 'false' && p.get('text_decorations') !== '0';
  const mark = (s) => (decorate && ops.terms ? s.replaceAll(ops.terms, `<strong>${ops.terms}</strong>`) : s);
  return {
    status: 200,
    json: {
      query: { original: q, show_strict_warning: false, is_navigational: false, local_decision: 'drop', more_results_available: true },
      mixed: { type: 'mixed', main: hits.map((_, i) => ({ type: 'web', index: i, all: false })), top: [], side: [] },
      type: 'search',
      web: {
        type: 'search',
        results: hits.map((h, i) => ({
          title: mark(h.title),
          url: h.url,
          is_source_local: false,
          is_source_both: false,
          description: mark(h.content),
          ...(h.date ? { page_age: `${h.date}T00:00:00`, age: new Date(`${h.date}T00:00:00Z`).toLocaleDateString('en-US', { month: 'long', day: 'numeric', year: 'numeric', timeZone: 'UTC' }) } : {}),
          profile: { name: h.domain, url: h.url, long_name: h.domain },
          language: 'en',
          family_friendly: true,
          type: 'search_result',
          subtype: 'generic',
          is_live: false,
          meta_url: { scheme: 'https', netloc: h.domain, hostname: h.domain, path: `› ${i + 1}` },
        })),
        family_friendly: true,
      },
    },
  };
}

// ---- SearXNG ----

function searxng(ctx) {
  const { state, headers, url } = ctx;
  const auth = headers.authorization;
  const expected = `Basic ${Buffer.from(`${state.searchKeys.searxng_user}:${state.searchKeys.searxng_password}`).toString('base64')}`;
  if ((auth !== undefined || state.config.searxng_require_auth) && auth !== expected) {
    return { status: 401, text: 'Unauthorized', headers: { 'www-authenticate': 'Basic realm="searxng"' } };
  }
  const p = url.searchParams;
  // An instance without JSON output enabled refuses it like this.
  if (p.get('format') !== 'json') {
    return { status: 403, text: '<!DOCTYPE html><html><head><title>403 Forbidden</title></head><body><h1>Forbidden</h1></body></html>', headers: { 'content-type': 'text/html; charset=utf-8' } };
  }
  const q = p.get('q') ?? '';
  if (!q.trim()) return { status: 400, text: 'Bad Request', headers: { 'content-type': 'text/plain' } };
  const ops = parseOperators(q);
  let hits = scripted(state, 'searxng');
  if (!hits) {
    // `site:` honoured, `-site:` not (engines differ); one stray hit outside the sites.
    hits = mockHits(ops.terms, { allowed: ops.allowed });
    if (ops.allowed.length) hits.push({ ...mockHits(ops.terms, { allowed: [STRAY_DOMAIN], count: 1 })[0] });
  }
  return {
    status: 200,
    json: {
      query: q,
      number_of_results: 0,
      results: hits.map((h, i) => ({
        url: h.url,
        title: h.title,
        content: h.content,
        engine: i % 2 ? 'brave' : 'duckduckgo',
        parsed_url: ['https', h.domain, new URL(h.url).pathname, '', '', ''],
        template: 'default.html',
        engines: ['duckduckgo', 'brave'],
        positions: [i + 1],
        publishedDate: h.date ? `${h.date}T00:00:00` : null,
        score: Number((4 - i * 0.5).toFixed(2)),
        category: 'general',
      })),
      answers: [],
      corrections: [],
      infoboxes: [],
      suggestions: [],
      unresponsive_engines: [],
    },
  };
}

const ROUTES = {
  'POST /tavily/search': tavily,
  'POST /grounding/v3/search/web': grounding,
  'GET /brave/res/v1/web/search': brave,
  'GET /searxng/search': searxng,
};

/** Handles a request under /search (ctx.subpath is the part after it). */
export function searchRoute(ctx) {
  const handler = ROUTES[`${ctx.method} ${ctx.subpath}`];
  if (!handler) return null;
  ctx.body = ctx.entry?.body;
  return handler(ctx);
}

// Copilot's usage-based billing (AI credits since 2026-06-01) as the data plane shows it:
//  - `copilot_usage` {token_details: [{token_type, token_count, cost_per_batch, batch_size}],
//    total_nano_aiu} in every generation answer: top level of the JSON body; in streams on
//    the event that closes the usage (Chat: a `choices: []` chunk of its own after the usage
//    chunk; Responses: `response.completed`/`.incomplete` beside `response`; Messages:
//    `message_delta` beside `usage`). One AI credit = $0.01 = 10^9 nano-AIU.
//  - `x-quota-snapshot-<id>` and `x-usage-ratelimit-session` / `-weekly` headers on every
//    successful generation answer (query strings: ent, ov, ovPerm, rem, rst, totRem).
//  - 429 `user_global_rate_limited` / `user_weekly_rate_limited` while a user's 5-hour
//    session or weekly window is exhausted (POST /__mock/usage-limit), with those headers.
import { HttpError, firstDayOfNextMonthUtc } from './util.mjs';

const BATCH = 1_000_000;
const NANO_PER_USD = 1e11;
// $ per 1M tokens: input, cached input, cache write (Anthropic only), output.
const RATES = [
  [/^claude-opus/, [5, 0.5, 6.25, 25]],
  [/^claude-haiku/, [1, 0.1, 1.25, 5]],
  [/^claude/, [3, 0.3, 3.75, 15]],
  [/^gpt-5(\.\d+)?-mini/, [0.25, 0.025, 0, 2]],
  [/^gpt-4o/, [2.5, 1.25, 0, 10]],
  [/^gpt-4\.1/, [2, 0.5, 0, 8]],
  [/^(gpt|o\d)/, [1.25, 0.125, 0, 10]],
  [/^gemini/, [1.25, 0.125, 0, 10]],
  [/./, [1, 0.1, 0, 4]],
];

/** `copilot_usage` for an answer: `input` counts uncached prompt tokens only. */
export function copilotUsage(modelId, { input = 0, cacheRead = 0, cacheWrite = 0, output = 0 }) {
  const [, usd] = RATES.find(([re]) => re.test(modelId));
  const rows = [
    ['input', input, usd[0]],
    ['cache_read', cacheRead, usd[1]],
    ['cache_write', cacheWrite, usd[2]],
    ['output', output, usd[3]],
  ];
  const token_details = rows
    .filter(([type, count]) => count > 0 || type === 'input' || type === 'output')
    .map(([token_type, token_count, rate]) => ({
      token_type,
      token_count,
      cost_per_batch: Math.round(rate * NANO_PER_USD),
      batch_size: BATCH,
    }));
  // Per-token rates are whole nano-AIU, so the total is exact.
  const total_nano_aiu = token_details.reduce((n, d) => n + d.token_count * (d.cost_per_batch / d.batch_size), 0);
  return { token_details, total_nano_aiu };
}

// ---------------------------------------------------------------- quota and limits

/** AI credits a plan includes each month (premium_interactions' entitlement). */
export const PREMIUM_ENTITLEMENT = { individual: 1500, business: 3000, enterprise: 10000 };

/** The user's monthly AI credits: what the plan includes, used so far (kept on the user). */
export function premiumOf(user) {
  const entitlement = PREMIUM_ENTITLEMENT[user.plan] ?? PREMIUM_ENTITLEMENT.individual;
  user.creditsUsed ??= entitlement === 1500 ? 265.5 : entitlement * 0.177;
  return { entitlement, used: user.creditsUsed, remaining: entitlement - user.creditsUsed, overagePermitted: user.plan !== 'individual' };
}

/** An answer billed `nanoAiu`: the user's credits go down. */
export function charge(user, nanoAiu) {
  premiumOf(user);
  user.creditsUsed += nanoAiu / 1e9;
}

const SESSION_MS = 5 * 3600_000;
const WEEK_MS = 7 * 24 * 3600_000;
const iso = (ms) => new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
const query = (o) => Object.entries(o).map(([k, v]) => `${k}=${encodeURIComponent(String(v))}`).join('&');

/** The next Monday 00:00 UTC: the weekly window's reset. */
function nextWeek(now = Date.now()) {
  const d = new Date(now);
  const days = ((8 - d.getUTCDay()) % 7) || 7;
  return Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate() + days);
}

/** Per-user usage windows (kept on the user object, reset with the mock). */
export function windowsOf(user, now = Date.now()) {
  user.windows ??= {
    session: { rem: 94.0, rst: now + SESSION_MS, limitedUntil: null },
    weekly: { rem: 81.5, rst: nextWeek(now), limitedUntil: null },
  };
  return user.windows;
}

/** POST /__mock/usage-limit {user_id, window: session|weekly, until?: ISO, clear?}. */
export function setUsageLimit(user, { window, until, clear }) {
  const w = windowsOf(user);
  if (!['session', 'weekly'].includes(window)) throw new HttpError(400, { error: 'window must be session or weekly' });
  if (clear) {
    w[window].limitedUntil = null;
    w[window].rem = window === 'session' ? 94.0 : 81.5;
    return null;
  }
  const at = until ? Date.parse(until) : Date.now() + (window === 'session' ? SESSION_MS : 3 * 24 * 3600_000);
  if (!Number.isFinite(at)) throw new HttpError(400, { error: 'until must be an ISO date' });
  w[window].limitedUntil = at;
  w[window].rst = at;
  w[window].rem = 0;
  return iso(at);
}

function limitHeaders(user) {
  const w = windowsOf(user);
  const h = (x) => query({ ent: 0, ov: '0.0', ovPerm: false, rem: x.rem.toFixed(1), rst: iso(x.rst) });
  return { 'x-usage-ratelimit-session': h(w.session), 'x-usage-ratelimit-weekly': h(w.weekly) };
}

const MESSAGES = {
  session: "Sorry, you've hit a rate limit that restricts the number of Copilot model requests you can make within a specific time period. Please review our Terms of Service.",
  weekly: "Sorry, you've exceeded your weekly rate limit. Please review our Terms of Service.",
};

/** Throws the 429 of an exhausted window (a generation request of a limited user). */
export function checkUsageLimits(user, now = Date.now()) {
  const w = windowsOf(user, now);
  for (const window of ['weekly', 'session']) {
    const until = w[window].limitedUntil;
    if (until && until > now) {
      const code = window === 'weekly' ? 'user_weekly_rate_limited' : 'user_global_rate_limited';
      // retry-after is a short back-off, not the reset (as Copilot answers).
      throw new HttpError(429, { error: { message: MESSAGES[window], code } }, { 'retry-after': '120', ...limitHeaders(user) });
    }
    if (until) setUsageLimit(user, { window, clear: true });
  }
}

/** The quota headers of a successful answer: the user's entitlements, as /copilot_internal/user reports them. */
export function quotaHeaders(user, premium) {
  const reset = iso(firstDayOfNextMonthUtc().getTime());
  const snap = (ent, rem, totRem, ovPerm) => query({ ent, ov: '0.0', ovPerm, rem: rem.toFixed(1), rst: reset, totRem });
  return {
    'x-quota-snapshot-chat': snap(-1, 100, -1, false),
    'x-quota-snapshot-premium_interactions': snap(
      premium.entitlement,
      premium.entitlement > 0 ? Math.max(0, (premium.remaining / premium.entitlement) * 100) : 0,
      Math.round(premium.remaining * 10) / 10,
      premium.overagePermitted,
    ),
    ...limitHeaders(user),
  };
}

// GitHub: OAuth device flow (prefix /github) and the REST API (prefix /api), including
// the Copilot token exchange and quota endpoints.
import { CLIENT_ID, newGithubToken } from './state.mjs';
import { premiumOf } from './billing.mjs';
import {
  HttpError,
  parseLooseBody,
  randomHex,
  randomUpper,
  randomDigits,
  nowSeconds,
  firstDayOfNextMonthUtc,
} from './util.mjs';

const DEVICE_GRANT = 'urn:ietf:params:oauth:grant-type:device_code';
const ERROR_URI = 'https://docs.github.com/developers/apps/authorizing-oauth-apps#error-codes-for-the-device-flow';
const DOCS = 'https://docs.github.com/rest';

const OAUTH_ERRORS = {
  authorization_pending: 'The authorization request is still pending.',
  slow_down: 'Too many requests have been made in the same timeframe.',
  expired_token: 'The device_code has expired.',
  access_denied: 'The authorization request was denied.',
  incorrect_device_code: 'The device_code provided is not valid.',
  incorrect_client_credentials: 'The client_id and/or client_secret passed are incorrect.',
  unsupported_grant_type: 'The grant type is not supported.',
  unauthorized_client: 'The client_id is not valid.',
};

// Like github.com: JSON only when asked for with `accept: application/json`, otherwise a
// form-encoded body (a gateway that forgets the header cannot parse the answer).
function oauthAnswer(ctx, status, obj) {
  if ((ctx.headers.accept ?? '').includes('json')) return { status, json: obj };
  const form = new URLSearchParams();
  for (const [k, v] of Object.entries(obj)) form.set(k, String(v));
  return { status, text: form.toString(), headers: { 'content-type': 'application/x-www-form-urlencoded; charset=utf-8' } };
}

const oauthError = (ctx, error, extra = {}) =>
  oauthAnswer(ctx, 200, { error, error_description: OAUTH_ERRORS[error] ?? error, error_uri: ERROR_URI, ...extra });

function readOAuthBody(ctx) {
  try {
    return parseLooseBody(ctx.rawBody, ctx.headers['content-type'] ?? '', ctx.url.searchParams);
  } catch {
    throw new HttpError(400, { error: 'bad_request', error_description: 'Problems parsing JSON' });
  }
}

function deviceCode(ctx) {
  const body = readOAuthBody(ctx);
  if (body.client_id !== CLIENT_ID) {
    return oauthAnswer(ctx, 400, { error: 'unauthorized_client', error_description: OAUTH_ERRORS.unauthorized_client, error_uri: ERROR_URI });
  }
  const code = {
    device_code: randomHex(40),
    user_code: `${randomUpper(4)}-${randomDigits(4)}`,
    scope: body.scope ?? '',
    polls: 0,
    used: false,
    denied: false,
    interval: ctx.state.config.device_interval,
    expires_at_ms: Date.now() + 900_000,
  };
  ctx.state.deviceCodes.set(code.device_code, code);
  return oauthAnswer(ctx, 200, {
    device_code: code.device_code,
    user_code: code.user_code,
    verification_uri: 'https://github.com/login/device',
    expires_in: 900,
    interval: code.interval,
  });
}

function accessToken(ctx) {
  const { state } = ctx;
  const body = readOAuthBody(ctx);
  if (body.client_id !== CLIENT_ID) return oauthError(ctx, 'incorrect_client_credentials');
  if (body.grant_type !== DEVICE_GRANT) return oauthError(ctx, 'unsupported_grant_type');
  const code = state.deviceCodes.get(body.device_code);
  if (!code) return oauthError(ctx, 'incorrect_device_code');
  if (code.used || Date.now() > code.expires_at_ms) return oauthError(ctx, 'expired_token');
  if (code.denied) return oauthError(ctx, 'access_denied');
  code.polls += 1;

  // A scripted answer from POST /__mock/device/next takes this poll.
  const next = state.deviceNext;
  if (next) {
    state.deviceNext = null;
    if (next.error === 'slow_down') {
      code.interval = Number(next.interval ?? code.interval + 5);
      return oauthError(ctx, 'slow_down', { interval: code.interval });
    }
    if (next.error === 'access_denied') code.denied = true;
    return oauthError(ctx, next.error);
  }
  if (code.polls === 1) return oauthError(ctx, 'authorization_pending');

  // The user "authorizes in the browser" now: the one chosen by /__mock/next-user, once.
  const user = state.userById(state.nextUserId) ?? state.users[0];
  state.nextUserId = null;
  const token = newGithubToken();
  state.githubTokens.set(token, { user_id: user.id, revoked: false, source: 'device-flow' });
  state.addSecret(token);
  code.used = true;
  ctx.entry.user = user.login;
  return oauthAnswer(ctx, 200, { access_token: token, token_type: 'bearer', scope: code.scope });
}

export function githubRoute(ctx) {
  if (ctx.method === 'POST' && ctx.subpath === '/login/device/code') return deviceCode(ctx);
  if (ctx.method === 'POST' && ctx.subpath === '/login/oauth/access_token') return accessToken(ctx);
  return null;
}

// ---------------------------------------------------------------- api.github.com

const ghError = (status, message) => new HttpError(status, { message, documentation_url: DOCS, status: String(status) });

/** GitHub accepts both `token X` and `Bearer X`; the log records which scheme was used. */
function authenticate(ctx) {
  if (!ctx.headers['user-agent']) {
    // GitHub's real answer to a request without User-Agent (Workers fetch sends none).
    throw new HttpError(
      403,
      'Request forbidden by administrative rules. Please make sure your request has a User-Agent header ' +
        '(https://docs.github.com/en/rest/overview/resources-in-the-rest-api#user-agent-required). ' +
        'Check https://developer.github.com for other possible causes.\n',
    );
  }
  const m = /^(token|bearer)\s+(\S+)\s*$/i.exec(ctx.headers.authorization ?? '');
  if (!m) throw ghError(401, 'Requires authentication');
  ctx.entry.auth_scheme = m[1].toLowerCase();
  const user = ctx.state.userForGithubToken(m[2]);
  if (!user) throw ghError(401, 'Bad credentials');
  ctx.entry.user = user.login;
  return { user, token: m[2] };
}

function userBody(user) {
  return {
    login: user.login,
    id: user.id,
    node_id: `U_mock${user.id}`,
    avatar_url: user.avatar_url,
    gravatar_id: '',
    url: `https://api.github.com/users/${user.login}`,
    html_url: `https://github.com/${user.login}`,
    type: 'User',
    user_view_type: 'private',
    site_admin: false,
    name: user.name,
    company: null,
    blog: '',
    location: null,
    email: null,
    hireable: null,
    bio: null,
    twitter_username: null,
    public_repos: 8,
    public_gists: 8,
    followers: 42,
    following: 9,
    created_at: '2011-01-25T18:44:36Z',
    updated_at: '2026-01-22T12:00:00Z',
  };
}

const SKUS = {
  individual: 'plus_monthly_subscriber_quota',
  business: 'copilot_for_business_seat_quota',
  enterprise: 'copilot_enterprise_seat_quota',
};
const PLAN_HOSTS = ['individual', 'business', 'enterprise'];

function copilotToken(ctx) {
  const { user, token: gh } = authenticate(ctx);
  const ev = ctx.headers['editor-version'] ?? '';
  const pv = ctx.headers['editor-plugin-version'] ?? '';
  if (!ev.startsWith('vscode/')) throw ghError(400, 'Editor-Version header is required (vscode/<version>)');
  if (!pv.startsWith('copilot-chat/')) throw ghError(400, 'Editor-Plugin-Version header is required (copilot-chat/<version>)');
  if (!user.copilot) throw ghError(404, 'Not Found');

  const { state } = ctx;
  const ttl = state.tokenTtl;
  const exp = nowSeconds() + ttl;
  const sku = SKUS[user.plan] ?? SKUS.individual;
  const token =
    `tid=${randomHex(32)};exp=${exp};sku=${sku};proxy-ep=proxy.individual.githubcopilot.com;st=dotcom;` +
    `chat=1;cit=1;malfil=1;editor_preview_features=1;ccr=1;rt=1;8kp=1;ip=127.0.0.1;asn=AS0:${randomHex(64)}`;
  state.copilotTokens.set(token, { user_id: user.id, github_token: gh, expires_at: exp, invalidated: false });
  state.addSecret(token);
  state.stats.copilot_tokens_issued += 1;
  state.stats.token_exchanges[gh] = (state.stats.token_exchanges[gh] ?? 0) + 1;
  state.stats.token_exchanges_by_user[user.login] = (state.stats.token_exchanges_by_user[user.login] ?? 0) + 1;

  return {
    status: 200,
    json: {
      annotations_enabled: true,
      chat_enabled: true,
      chat_jetbrains_enabled: true,
      code_quote_enabled: true,
      code_review_enabled: true,
      codesearch: true,
      copilotignore_enabled: false,
      endpoints: {
        // The plan's own host, as GitHub answers (api.individual.githubcopilot.com, …).
        api: PLAN_HOSTS.includes(user.plan) ? `${state.origin}/copilot-${user.plan}` : `${state.origin}/copilot`,
        'origin-tracker': `${state.origin}/copilot-origin-tracker`,
        proxy: `${state.origin}/copilot-proxy`,
        telemetry: `${state.origin}/copilot-telemetry`,
      },
      expires_at: exp,
      individual: user.plan === 'individual',
      limited_user_quotas: null,
      limited_user_reset_date: null,
      prompt_8k: true,
      public_suggestions: 'disabled',
      refresh_in: ttl > 600 ? ttl - 300 : Math.floor(ttl / 2),
      sku,
      snippy_load_test_enabled: false,
      telemetry: 'disabled',
      token,
      tracking_id: randomHex(32),
      vsc_electron_fetcher_v2: false,
      xcode: true,
      xcode_chat: false,
    },
  };
}

function quotaSnapshot(id, { entitlement, remaining, unlimited }, timestamp) {
  return {
    entitlement,
    overage_count: 0,
    overage_permitted: false,
    percent_remaining: unlimited ? 100 : entitlement > 0 ? Math.round((remaining / entitlement) * 1000) / 10 : 0,
    quota_id: id,
    quota_remaining: remaining,
    remaining,
    unlimited,
    timestamp_utc: timestamp,
  };
}

// Both shapes GitHub serves since usage-based billing (2026-06): the legacy one, and the
// token-based one (`token_based_billing: true`, credits_used and overage_entitlement in
// the premium snapshot; business and enterprise seats draw on their organization's
// budget, so their snapshot has no allotment of its own). POST /__mock/plan {billing}.
const TOKEN_SKUS = {
  individual: 'copilot_pro_usage_based',
  business: 'copilot_business_usage_based',
  enterprise: 'copilot_enterprise_usage_based',
};

function copilotUser(ctx) {
  const { user } = authenticate(ctx);
  if (!user.copilot) throw ghError(404, 'Not Found');
  const reset = firstDayOfNextMonthUtc();
  const timestamp = new Date().toISOString();
  const premium = premiumOf(user);
  const tokens = user.billing === 'tokens';
  // Since the 2026-06 credit billing, paid plans report chat/completions as -1 "unlimited".
  const unlimited = { entitlement: -1, remaining: -1, unlimited: true };
  const orgs = user.plan === 'individual' ? [] : ['acme-corp'];
  const orgBilled = tokens && user.plan !== 'individual';
  const premiumSnap = quotaSnapshot(
    'premium_interactions',
    orgBilled ? { entitlement: 0, remaining: 0, unlimited: false } : { entitlement: premium.entitlement, remaining: premium.remaining, unlimited: false },
    timestamp,
  );
  premiumSnap.overage_permitted = premium.overagePermitted;
  if (tokens) {
    premiumSnap.credits_used = Math.round(premium.used * 1e4) / 1e4;
    premiumSnap.overage_entitlement = orgBilled ? 50000 : 0;
  }
  return {
    status: 200,
    json: {
      access_type_sku: (tokens ? TOKEN_SKUS : SKUS)[user.plan] ?? SKUS.individual,
      analytics_tracking_id: randomHex(32),
      assigned_date: '2025-03-14T09:26:53+00:00',
      can_signup_for_limited: false,
      chat_enabled: true,
      copilot_plan: user.plan,
      organization_login_list: orgs,
      organization_list: orgs.map((login) => ({ login, name: 'Acme Corp' })),
      quota_reset_date: reset.toISOString().slice(0, 10),
      quota_reset_date_utc: reset.toISOString(),
      ...(tokens ? { token_based_billing: true } : {}),
      quota_snapshots: {
        chat: quotaSnapshot('chat', unlimited, timestamp),
        completions: quotaSnapshot('completions', unlimited, timestamp),
        premium_interactions: premiumSnap,
      },
    },
  };
}

export function apiRoute(ctx) {
  if (ctx.method !== 'GET') return null;
  switch (ctx.subpath) {
    case '/user':
      return { status: 200, json: userBody(authenticate(ctx).user) };
    case '/copilot_internal/v2/token':
      return copilotToken(ctx);
    case '/copilot_internal/user':
      return copilotUser(ctx);
    default:
      return null;
  }
}

export const githubNotFound = () => ghError(404, 'Not Found');

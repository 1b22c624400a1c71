// Mutable state of one mock instance. `reset()` mutates in place so a test holding
// `mock.state` keeps a live reference. The users' pre-issued GitHub tokens survive a
// reset (tests keep them across cases); everything else goes back to defaults.
import { readFileSync } from 'node:fs';
import { randomAlnum } from './util.mjs';
import { newSearchKeys } from './search.mjs';

const CATALOG_TEXT = readFileSync(new URL('./catalog.json', import.meta.url), 'utf8');

export const CLIENT_ID = 'Iv1.b507a08c87ecfe98';

// Defaults for the behaviour switches exposed through POST /__mock/config.
export const DEFAULT_CONFIG = Object.freeze({
  sse_delay_ms: 2, // pause between SSE writes (every frame is its own write)
  messages_stray_done: true, // quirk: /v1/messages streams end with `data: [DONE]`
  responses_id_mismatch: true, // quirk: output_item.done carries another item.id than .added
  reject_foreign_item_ids: true, // quirk: long base64 input item ids not minted here → 400
  chat_prompt_filter_chunk: true, // quirk: non-Claude chat streams start with a choices:[] filter chunk
  verify_reasoning_signatures: true, // thinking signatures / encrypted_content must look minted here
  device_interval: 5, // seconds: the device flow's polling interval (tests of the admin app shorten it)
  searxng_require_auth: false, // the mock SearXNG answers 401 without basic auth (with it, always checked)
  // Copilot answers 466 to an X-GitHub-Api-Version older than this (as it has since
  // 2026-02-11 for retired versions); raise it to play a future cutoff.
  copilot_min_api_version: '2026-01-01',
});

const USERS = [
  { id: 1001, login: 'octocat', name: 'The Octocat', copilot: true },
  // name null on purpose: real GitHub users often have no display name.
  { id: 1002, login: 'hubot', name: null, copilot: true },
  // A GitHub account without a Copilot subscription: token exchange answers 404.
  { id: 1003, login: 'monalisa', name: 'Mona Lisa', copilot: false },
];

export const newGithubToken = () => `gho_${randomAlnum(36)}`;

export class MockState {
  constructor() {
    this.origin = '';
    this.users = USERS.map((u) => ({
      ...u,
      avatar_url: `https://avatars.githubusercontent.com/u/${u.id}?v=4`,
      plan: 'individual',
      github_token: newGithubToken(),
    }));
    // Search providers' credentials (kept across resets, like the users' tokens).
    this.searchKeys = newSearchKeys();
    // Every secret ever handed out, kept across resets (for "never leaked" assertions).
    this.secretLog = new Set(this.users.map((u) => u.github_token));
    for (const [k, v] of Object.entries(this.searchKeys)) if (k !== 'searxng_user') this.secretLog.add(v);
    this.reset();
  }

  reset() {
    for (const u of this.users) {
      u.plan = 'individual';
      u.billing = 'legacy'; // or 'tokens': the shape of /copilot_internal/user
      u.creditsUsed = undefined; // AI credits used this month (billing.mjs)
      u.windows = undefined; // 5-hour session and weekly usage windows (billing.mjs)
    }
    this.config = { ...DEFAULT_CONFIG };
    this.catalog = JSON.parse(CATALOG_TEXT); // GET /copilot/models; replaceable via /__mock/catalog
    /** gh token → { user_id, revoked, source } */
    this.githubTokens = new Map(this.users.map((u) => [u.github_token, { user_id: u.id, revoked: false, source: 'pre-issued' }]));
    /** device_code → { user_code, polls, used, denied, expires_at_ms, interval, scope } */
    this.deviceCodes = new Map();
    /** copilot token → { user_id, github_token, expires_at, invalidated } */
    this.copilotTokens = new Map();
    this.nextUserId = null;
    this.deviceNext = null;
    this.tokenTtl = 1800;
    this.requests = [];
    this.requestSeq = 0;
    this.scripts = [];
    /** POST /__mock/search/results: hits the next search(es) answer with */
    this.searchResults = [];
    this.stats = { token_exchanges: {}, token_exchanges_by_user: {}, requests: {}, copilot_tokens_issued: 0 };
    /** prompt-cache stand-in: prefix hash → prompt tokens of the last request with it */
    this.promptCache = new Map();
    /** /responses item ids minted by this mock that are still "on this connection" */
    this.acceptedItemIds = new Set();
  }

  userById(id) {
    return this.users.find((u) => u.id === Number(id));
  }

  addSecret(s) {
    this.secretLog.add(s);
  }

  /** Resolve a GitHub token to its user, or null when unknown / revoked. */
  userForGithubToken(token) {
    const t = this.githubTokens.get(token);
    if (!t || t.revoked) return null;
    return this.userById(t.user_id) ?? null;
  }
}

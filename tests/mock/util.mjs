// Small helpers shared by the mock modules: random ids, HTTP errors, body parsing,
// token estimates. No npm dependencies, only node: built-ins.
import { randomBytes, createHash } from 'node:crypto';

const ALNUM = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';

export const randomHex = (n) => randomBytes(Math.ceil(n / 2)).toString('hex').slice(0, n);

export function randomAlnum(n) {
  const bytes = randomBytes(n);
  let out = '';
  for (let i = 0; i < n; i++) out += ALNUM[bytes[i] % ALNUM.length];
  return out;
}

export function randomUpper(n) {
  const bytes = randomBytes(n);
  let out = '';
  for (let i = 0; i < n; i++) out += ALNUM[bytes[i] % 26];
  return out;
}

export function randomDigits(n) {
  const bytes = randomBytes(n);
  let out = '';
  for (let i = 0; i < n; i++) out += String(bytes[i] % 10);
  return out;
}

// Copilot's /responses item ids are opaque, connection-bound base64 blobs (seed §2.9 #9).
export const randomBase64Id = (bytes = 96) => randomBytes(bytes).toString('base64');

export const sha256 = (s) => createHash('sha256').update(s).digest('hex');

export const nowSeconds = () => Math.floor(Date.now() / 1000);

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/**
 * An error that becomes an HTTP answer. `body` is an object (sent as JSON) or a string
 * (sent as text/plain, like the Go services behind Copilot do for auth errors).
 */
export class HttpError extends Error {
  constructor(status, body, headers = {}) {
    super(typeof body === 'string' ? body : JSON.stringify(body));
    this.status = status;
    this.body = body;
    this.headers = headers;
  }
}

// OpenAI/CAPI error envelope (chat, responses, embeddings, model routing errors).
export function openaiError(status, message, { code = null, param = null, type = 'invalid_request_error' } = {}) {
  return new HttpError(status, { error: { message, code, param, type } });
}

// Anthropic error envelope (native /v1/messages validation errors).
export function anthropicError(status, message, type = 'invalid_request_error') {
  return new HttpError(status, { type: 'error', error: { type, message }, request_id: `req_${randomAlnum(24)}` });
}

/** Standard-alphabet base64 that decodes (what the seed calls "base64-decodable"). */
export function isStdBase64(s) {
  return typeof s === 'string' && s.length % 4 === 0 && /^[A-Za-z0-9+/]+={0,2}$/.test(s);
}

/** Parse a request body as JSON; `null` body stays null. Throws SyntaxError on bad JSON. */
export function parseJson(buf) {
  if (!buf || buf.length === 0) return undefined;
  return JSON.parse(buf.toString('utf8'));
}

/** GitHub's OAuth endpoints accept JSON, form bodies and query parameters alike. */
export function parseLooseBody(buf, contentType = '', query) {
  const out = {};
  for (const [k, v] of query) out[k] = v;
  const text = buf ? buf.toString('utf8') : '';
  if (!text.trim()) return out;
  if (contentType.includes('json') || /^\s*[{[]/.test(text)) {
    const j = JSON.parse(text);
    if (j && typeof j === 'object' && !Array.isArray(j)) Object.assign(out, j);
    return out;
  }
  for (const [k, v] of new URLSearchParams(text)) out[k] = v;
  return out;
}

/** The mock's token estimate: roughly one token per 4 characters of JSON. */
export const estimateTokens = (value) =>
  Math.max(1, Math.ceil((typeof value === 'string' ? value : JSON.stringify(value ?? '')).length / 4));

export const isObject = (v) => v !== null && typeof v === 'object' && !Array.isArray(v);

export function firstDayOfNextMonthUtc(d = new Date()) {
  return new Date(Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + 1, 1));
}

// Self-test of the mock upstream: exercises it directly with fetch.
// Run: node --test tests/mock/
import { test, describe, before, after, beforeEach } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { startMock } from './upstream.mjs';

const CLIENT_ID = 'Iv1.b507a08c87ecfe98';
// Requests recorded from real clients (see tests/fixtures/README.md).
const FIXTURES = new URL('../fixtures/', import.meta.url);
const fixture = (name) => JSON.parse(readFileSync(new URL(name, FIXTURES), 'utf8'));

let mock;
before(async () => {
  mock = await startMock();
});
after(() => mock.close());
beforeEach(() => control('POST', '/reset'));

// ---------------------------------------------------------------- helpers

async function control(method, path, body) {
  const res = await fetch(`${mock.origin}/__mock${path}`, {
    method,
    headers: body ? { 'content-type': 'application/json' } : {},
    body: body ? JSON.stringify(body) : undefined,
  });
  assert.equal(res.status, 200, `control ${path}`);
  return res.json();
}

const ghHeaders = (token) => ({
  authorization: `token ${token}`,
  accept: 'application/json',
  'user-agent': 'copilot-gateway-test',
  'editor-version': 'vscode/1.124.2',
  'editor-plugin-version': 'copilot-chat/0.52.0',
});

async function exchange(ghToken = mock.state.users[0].github_token) {
  const res = await fetch(`${mock.githubApiBaseUrl}/copilot_internal/v2/token`, { headers: ghHeaders(ghToken) });
  assert.equal(res.status, 200);
  return res.json();
}

const copilotHeaders = (token, extra = {}) => ({
  authorization: `Bearer ${token}`,
  'content-type': 'application/json',
  'copilot-integration-id': 'vscode-chat',
  'editor-version': 'vscode/1.124.2',
  'editor-plugin-version': 'copilot-chat/0.52.0',
  'user-agent': 'GitHubCopilotChat/0.52.0',
  'x-github-api-version': '2026-06-01',
  'x-request-id': randomUUID(),
  ...extra,
});

/** POST (or GET without body) to the Copilot API with a freshly minted token. */
async function copilot(path, body, { headers = {}, token, raw = false, method } = {}) {
  token ??= (await exchange()).token;
  const res = await fetch(`${mock.copilotBaseUrl}${path}`, {
    method: method ?? (body === undefined ? 'GET' : 'POST'),
    headers: copilotHeaders(token, headers),
    body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
  });
  if (raw) return res;
  const text = await res.text();
  let json = null;
  try {
    json = JSON.parse(text);
  } catch {}
  return { status: res.status, headers: res.headers, text, json };
}

/** Parse an SSE body into [{event, data}] with data JSON-parsed when possible. */
function parseSse(text) {
  const frames = [];
  for (const block of text.split('\n\n')) {
    if (!block.trim()) continue;
    let event = null;
    let data = null;
    for (const line of block.split('\n')) {
      if (line.startsWith('event: ')) event = line.slice(7);
      else if (line.startsWith('data: ')) data = line.slice(6);
    }
    let parsed = data;
    try {
      parsed = JSON.parse(data);
    } catch {}
    frames.push({ event, data: parsed });
  }
  return frames;
}

async function deviceFlow() {
  const post = (path, body, accept = 'application/json') =>
    fetch(`${mock.githubBaseUrl}${path}`, {
      method: 'POST',
      headers: { accept, 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
  const code = await (await post('/login/device/code', { client_id: CLIENT_ID, scope: 'read:user' })).json();
  const poll = async () =>
    (
      await post('/login/oauth/access_token', {
        client_id: CLIENT_ID,
        device_code: code.device_code,
        grant_type: 'urn:ietf:params:oauth:grant-type:device_code',
      })
    ).json();
  return { code, poll, post };
}

// ---------------------------------------------------------------- GitHub

describe('github device flow', () => {
  test('pending, then a token for the default user', async () => {
    const { code, poll } = await deviceFlow();
    assert.match(code.device_code, /^[0-9a-f]{40}$/);
    assert.match(code.user_code, /^[A-Z]{4}-[0-9]{4}$/);
    assert.equal(code.verification_uri, 'https://github.com/login/device');
    assert.equal(code.expires_in, 900);
    assert.equal(code.interval, 5);
    assert.equal((await poll()).error, 'authorization_pending');
    const tok = await poll();
    assert.match(tok.access_token, /^gho_[A-Za-z0-9]{36}$/);
    assert.equal(tok.token_type, 'bearer');
    assert.equal(tok.scope, 'read:user');
    assert.equal((await poll()).error, 'expired_token', 'a used device code is dead');
    const user = await (await fetch(`${mock.githubApiBaseUrl}/user`, { headers: ghHeaders(tok.access_token) })).json();
    assert.equal(user.login, 'octocat');
    assert.equal(user.id, 1001);
    assert.equal(user.name, 'The Octocat');
    assert.ok(user.avatar_url.startsWith('https://'));
  });

  test('next-user picks who authorizes, once', async () => {
    await control('POST', '/next-user', { id: 1002 });
    let flow = await deviceFlow();
    await flow.poll();
    const tok = (await flow.poll()).access_token;
    const user = await (await fetch(`${mock.githubApiBaseUrl}/user`, { headers: ghHeaders(tok) })).json();
    assert.equal(user.login, 'hubot');
    assert.equal(user.name, null);
    flow = await deviceFlow();
    await flow.poll();
    const tok2 = (await flow.poll()).access_token;
    const user2 = await (await fetch(`${mock.githubApiBaseUrl}/user`, { headers: ghHeaders(tok2) })).json();
    assert.equal(user2.login, 'octocat');
  });

  test('slow_down and access_denied can be scripted', async () => {
    const { poll } = await deviceFlow();
    await control('POST', '/device/next', { error: 'slow_down', interval: 11 });
    const slow = await poll();
    assert.equal(slow.error, 'slow_down');
    assert.equal(slow.interval, 11);
    await control('POST', '/device/next', { error: 'access_denied' });
    assert.equal((await poll()).error, 'access_denied');
    assert.equal((await poll()).error, 'access_denied');
  });

  test('bad client id, bad device code, grant type, form answer without accept json', async () => {
    const { post, code } = await deviceFlow();
    const bad = await post('/login/device/code', { client_id: 'nope', scope: 'read:user' });
    assert.equal(bad.status, 400);
    assert.equal((await bad.json()).error, 'unauthorized_client');
    const unknown = await (
      await post('/login/oauth/access_token', {
        client_id: CLIENT_ID,
        device_code: 'f'.repeat(40),
        grant_type: 'urn:ietf:params:oauth:grant-type:device_code',
      })
    ).json();
    assert.equal(unknown.error, 'incorrect_device_code');
    const grant = await (
      await post('/login/oauth/access_token', { client_id: CLIENT_ID, device_code: code.device_code, grant_type: 'password' })
    ).json();
    assert.equal(grant.error, 'unsupported_grant_type');
    const form = await post('/login/device/code', { client_id: CLIENT_ID, scope: 'read:user' }, '*/*');
    assert.match(form.headers.get('content-type'), /x-www-form-urlencoded/);
    assert.ok(new URLSearchParams(await form.text()).get('device_code'));
  });
});

describe('github api', () => {
  test('user: auth and user-agent rules, revoke', async () => {
    const gh = mock.state.users[1].github_token;
    const ok = await fetch(`${mock.githubApiBaseUrl}/user`, { headers: ghHeaders(gh) });
    assert.equal((await ok.json()).login, 'hubot');
    // fetch always adds a user-agent; Workers fetch does not, so use a raw request.
    const noUa = await new Promise((resolve, reject) => {
      http.get(`${mock.githubApiBaseUrl}/user`, { headers: { authorization: `token ${gh}` } }, (res) => {
        res.resume();
        resolve(res.statusCode);
      }).on('error', reject);
    });
    assert.equal(noUa, 403);
    const badTok = await fetch(`${mock.githubApiBaseUrl}/user`, { headers: ghHeaders('gho_nope') });
    assert.equal(badTok.status, 401);
    assert.deepEqual(await badTok.json(), { message: 'Bad credentials', documentation_url: 'https://docs.github.com/rest', status: '401' });
    await control('POST', '/github/revoke', { token: gh });
    assert.equal((await fetch(`${mock.githubApiBaseUrl}/user`, { headers: ghHeaders(gh) })).status, 401);
    assert.equal((await fetch(`${mock.githubApiBaseUrl}/copilot_internal/v2/token`, { headers: ghHeaders(gh) })).status, 401);
  });

  test('token exchange mints unique tokens, counts exchanges, honours ttl', async () => {
    const gh = mock.state.users[0].github_token;
    const a = await exchange(gh);
    const b = await exchange(gh);
    assert.notEqual(a.token, b.token);
    assert.match(a.token, /^tid=[0-9a-f]+;exp=\d+;sku=[^;]+;proxy-ep=[^;]+;/);
    assert.equal(a.refresh_in, 1500);
    // The plan's own host (api.individual.githubcopilot.com).
    assert.equal(a.endpoints.api, `${mock.origin}/copilot-individual`);
    const now = Math.floor(Date.now() / 1000);
    assert.ok(Math.abs(a.expires_at - (now + 1800)) <= 2);
    await control('POST', '/token-ttl', { seconds: 120 });
    const c = await exchange(gh);
    assert.ok(Math.abs(c.expires_at - (now + 120)) <= 2);
    const stats = await control('GET', '/stats');
    assert.equal(stats.token_exchanges[gh], 3);
    assert.equal(stats.token_exchanges_by_user.octocat, 3);
  });

  test('token exchange needs editor headers; users without Copilot get 404', async () => {
    const gh = mock.state.users[0].github_token;
    const res = await fetch(`${mock.githubApiBaseUrl}/copilot_internal/v2/token`, {
      headers: { authorization: `token ${gh}`, 'user-agent': 'x' },
    });
    assert.equal(res.status, 400);
    const none = await fetch(`${mock.githubApiBaseUrl}/copilot_internal/v2/token`, { headers: ghHeaders(mock.state.users[2].github_token) });
    assert.equal(none.status, 404);
  });

  test('copilot_internal/user quota and plan control', async () => {
    const gh = mock.state.users[0].github_token;
    const get = async () => (await fetch(`${mock.githubApiBaseUrl}/copilot_internal/user`, { headers: ghHeaders(gh) })).json();
    const q = await get();
    assert.equal(q.copilot_plan, 'individual');
    assert.match(q.quota_reset_date, /^\d{4}-\d{2}-01$/);
    assert.equal(q.quota_snapshots.chat.unlimited, true);
    assert.equal(q.quota_snapshots.chat.entitlement, -1);
    assert.equal(q.quota_snapshots.premium_interactions.entitlement, 1500);
    assert.equal(q.quota_snapshots.premium_interactions.remaining, 1234.5);
    for (const k of ['entitlement', 'remaining', 'percent_remaining', 'quota_remaining', 'overage_count', 'overage_permitted', 'unlimited', 'quota_id', 'timestamp_utc']) {
      assert.ok(k in q.quota_snapshots.premium_interactions, k);
    }
    await control('POST', '/plan', { user_id: 1001, plan: 'business' });
    const b = await get();
    assert.equal(b.copilot_plan, 'business');
    assert.deepEqual(b.organization_login_list, ['acme-corp']);
  });
});

// ---------------------------------------------------------------- Copilot gate

describe('copilot gate', () => {
  test('token expiry via control, then a fresh token works', async () => {
    const { token } = await exchange();
    assert.equal((await copilot('/models', undefined, { token })).status, 200);
    await control('POST', '/copilot/expire');
    const expired = await copilot('/models', undefined, { token });
    assert.equal(expired.status, 401);
    assert.match(expired.text, /token expired/);
    assert.equal((await copilot('/models')).status, 200);
  });

  test('unknown token 401, SDK headers 403, missing identity headers 400', async () => {
    assert.equal((await copilot('/models', undefined, { token: 'nope' })).status, 401);
    assert.equal((await copilot('/models', undefined, { token: mock.state.users[0].github_token })).status, 401);
    for (const h of ['x-stainless-lang', 'openai-organization', 'openai-project', 'x-api-key']) {
      assert.equal((await copilot('/models', undefined, { headers: { [h]: 'x' } })).status, 403, h);
    }
    assert.equal((await copilot('/models', undefined, { headers: { 'user-agent': 'OpenAI/JS 6.0' } })).status, 403);
    assert.equal((await copilot('/models', undefined, { headers: { 'copilot-integration-id': 'nope' } })).status, 400);
    assert.equal((await copilot('/models', undefined, { headers: { 'editor-version': 'jetbrains/1' } })).status, 400);
    const { token } = await exchange();
    const h = copilotHeaders(token);
    delete h['x-request-id'];
    assert.equal((await fetch(`${mock.copilotBaseUrl}/models`, { headers: h })).status, 400);
  });

  test('a retired X-GitHub-Api-Version gets 466; the cutoff can move', async () => {
    const old = await copilot('/models', undefined, { headers: { 'x-github-api-version': '2025-10-01' } });
    assert.equal(old.status, 466);
    assert.match(old.json.error.message, /^bad request: the specified API version is no longer supported/);
    assert.equal((await copilot('/models')).status, 200);
    await control('POST', '/config', { copilot_min_api_version: '2099-01-01' });
    assert.equal((await copilot('/chat/completions', { model: 'gpt-4.1', messages: [{ role: 'user', content: 'x' }] })).status, 466);
  });

  test('a plan host answers 421 to a token of an account on another plan', async () => {
    const t = await exchange();
    const at = (host) =>
      fetch(`${mock.origin}/${host}/models`, { headers: copilotHeaders(t.token) });
    assert.equal((await at('copilot-individual')).status, 200);
    assert.equal((await at('copilot')).status, 200, 'the generic host takes any plan');
    await control('POST', '/plan', { user_id: 1001, plan: 'business' });
    const moved = await at('copilot-individual');
    assert.equal(moved.status, 421);
    assert.match(await moved.text(), /misdirected request/);
    const fresh = await exchange();
    assert.equal(fresh.endpoints.api, `${mock.origin}/copilot-business`);
    assert.equal((await at('copilot-business')).status, 200);
  });

  test('models list is the catalog', async () => {
    const { json, headers } = await copilot('/models', undefined, { headers: { 'x-request-id': 'req-123' } });
    assert.equal(headers.get('x-request-id'), 'req-123');
    assert.equal(json.object, 'list');
    const ids = json.data.map((m) => m.id);
    for (const id of ['claude-sonnet-5', 'claude-opus-4.8', 'claude-haiku-4.5', 'claude-sonnet-4', 'gpt-5.1-codex', 'gpt-5-codex', 'gpt-5-mini', 'gpt-5.1', 'gpt-4.1', 'gpt-4o', 'gemini-2.5-pro', 'gpt-3.5-turbo', 'text-embedding-3-small']) {
      assert.ok(ids.includes(id), id);
    }
    assert.ok(ids.length > new Set(ids).size, 'one duplicated id');
    assert.equal(json.data.find((m) => m.id === 'gpt-3.5-turbo').supported_endpoints, undefined);
    assert.deepEqual(json.data.find((m) => m.id === 'claude-sonnet-5').supported_endpoints, ['/v1/messages', '/chat/completions']);
  });
});

// ---------------------------------------------------------------- chat completions

describe('chat completions', () => {
  const hello = { model: 'gpt-4.1', messages: [{ role: 'system', content: 'be brief' }, { role: 'user', content: 'hello there' }] };

  test('non-stream echo with usage and versioned model', async () => {
    const { status, json } = await copilot('/chat/completions', hello);
    assert.equal(status, 200);
    assert.equal(json.object, 'chat.completion');
    assert.match(json.id, /^chatcmpl-/);
    assert.equal(json.model, 'gpt-4.1-2025-04-14');
    assert.equal(json.choices[0].message.content, 'Echo: hello there');
    assert.equal(json.choices[0].finish_reason, 'stop');
    assert.equal(json.usage.completion_tokens, 3);
    assert.equal(json.usage.total_tokens, json.usage.prompt_tokens + 3);
    assert.equal(json.usage.prompt_tokens_details.cached_tokens, 0);
    const again = await copilot('/chat/completions', hello);
    assert.ok(again.json.usage.prompt_tokens_details.cached_tokens > 0, 'same prefix is cached');
  });

  test('stream: filter chunk, deltas, usage only with include_usage, [DONE]', async () => {
    const res = await copilot('/chat/completions', { ...hello, stream: true, stream_options: { include_usage: true } });
    assert.match(res.headers.get('content-type'), /text\/event-stream/);
    const frames = parseSse(res.text);
    assert.deepEqual(frames[0].data.choices, []);
    assert.ok(frames[0].data.prompt_filter_results);
    assert.equal(frames.at(-1).data, '[DONE]');
    // The billed credits come last, in a chunk of their own.
    const billed = frames.at(-2).data;
    assert.deepEqual(billed.choices, []);
    assert.ok(billed.copilot_usage.total_nano_aiu > 0);
    const usage = frames.at(-3).data;
    assert.deepEqual(usage.choices, []);
    assert.equal(usage.usage.completion_tokens, 3);
    const text = frames
      .slice(1, -3)
      .map((f) => f.data.choices[0]?.delta?.content ?? '')
      .join('');
    assert.equal(text, 'Echo: hello there');
    assert.equal(frames[1].data.choices[0].delta.role, 'assistant');
    assert.equal(frames.at(-4).data.choices[0].finish_reason, 'stop');

    const noUsage = parseSse((await copilot('/chat/completions', { ...hello, stream: true })).text);
    assert.ok(noUsage.every((f) => f.data === '[DONE]' || !f.data.usage));
  });

  test('claude: text and tool call come in two choices', async () => {
    const body = {
      model: 'claude-sonnet-5',
      messages: [{ role: 'user', content: 'please use a tool' }],
      tools: [{ type: 'function', function: { name: 'get_weather', parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] } } }],
    };
    const { json } = await copilot('/chat/completions', body);
    assert.equal(json.model, 'claude-sonnet-5');
    assert.equal(json.choices.length, 2);
    assert.equal(json.choices[0].message.content, "I'll use the get_weather tool.");
    const call = json.choices[1].message.tool_calls[0];
    assert.equal(call.function.name, 'get_weather');
    assert.deepEqual(JSON.parse(call.function.arguments), { city: 'mock' });
    assert.equal(json.choices[1].finish_reason, 'tool_calls');

    const frames = parseSse((await copilot('/chat/completions', { ...body, stream: true })).text);
    assert.notEqual(frames[0].data.choices.length, 0, 'no filter chunk for Claude');
    const toolFrames = frames.filter((f) => f.data.choices?.[0]?.delta?.tool_calls);
    assert.ok(toolFrames.length > 1);
    assert.ok(toolFrames.every((f) => f.data.choices[0].index === 1));
    const args = toolFrames.map((f) => f.data.choices[0].delta.tool_calls[0].function.arguments).join('');
    assert.deepEqual(JSON.parse(args), { city: 'mock' });
    assert.equal(frames.at(-3).data.choices[0].finish_reason, 'tool_calls');
  });

  test('tool result turn, forced tool choice, max_tokens truncation', async () => {
    const tools = [{ type: 'function', function: { name: 'lookup', parameters: { type: 'object', properties: {} } } }];
    const withResult = await copilot('/chat/completions', {
      model: 'gpt-4.1',
      tools,
      messages: [
        { role: 'user', content: 'use a tool' },
        { role: 'assistant', content: null, tool_calls: [{ id: 'call_1', type: 'function', function: { name: 'lookup', arguments: '{}' } }] },
        { role: 'tool', tool_call_id: 'call_1', content: '42' },
      ],
    });
    assert.equal(withResult.json.choices[0].message.content, 'Tool result: 42');
    const forced = await copilot('/chat/completions', { model: 'gpt-4.1', tools, tool_choice: 'required', messages: [{ role: 'user', content: 'hi' }] });
    assert.equal(forced.json.choices[0].message.tool_calls[0].function.name, 'lookup');
    const short = await copilot('/chat/completions', { model: 'gpt-4.1', max_tokens: 1, messages: [{ role: 'user', content: 'one two three' }] });
    assert.equal(short.json.choices[0].message.content, 'Echo: ');
    assert.equal(short.json.choices[0].finish_reason, 'length');
  });

  test('strictness', async () => {
    const err = async (body, code, headers) => {
      const r = await copilot('/chat/completions', body, { headers });
      assert.equal(r.status, 400, JSON.stringify(body).slice(0, 120));
      if (code) assert.equal(r.json.error.code, code);
      return r.json.error;
    };
    await err('{not json', 'invalid_json');
    assert.equal((await err({ ...hello, model: 'nope' }, 'model_not_supported')).message, 'The requested model is not supported.');
    assert.equal(
      (await err({ ...hello, model: 'gpt-5-codex' }, 'unsupported_api_for_model')).message,
      'model gpt-5-codex is not accessible via the /chat/completions endpoint',
    );
    await err({ ...hello, model: 'claude-opus-4-8' }, 'model_not_supported');
    await err({ ...hello, service_tier: 'auto' });
    await err({ ...hello, model: 'gpt-5-mini', max_tokens: 10 }, 'unsupported_parameter');
    await err({ ...hello, messages: [] });
    await err({ ...hello, messages: [{ role: 'robot', content: 'x' }] }, 'invalid_value');
    await err({ ...hello, messages: [{ role: 'user', content: [{ type: 'input_text', text: 'x' }] }] }, 'invalid_value');
    await err({ ...hello, tool_choice: 'auto' });
    await err({ ...hello, stream_options: { include_usage: true } });
    await err({ ...hello, model: 'gpt-4.1', reasoning_effort: 'high' }, 'unsupported_parameter');
    await err({ ...hello, messages: [{ role: 'tool', tool_call_id: 'x', content: 'y' }] });
    const url = { role: 'user', content: [{ type: 'file', file: { file_url: 'https://x.test/d.pdf' } }] };
    assert.equal((await err({ ...hello, messages: [url] }, 'missing_required_parameter')).param, 'messages[0].content[0].file');
    await err({ ...hello, response_format: { type: 'yaml' } }, 'invalid_value');
    await err({ ...hello, response_format: { type: 'json_schema', json_schema: { schema: {} } } }, 'missing_required_parameter');
    for (const response_format of [{ type: 'json_object' }, { type: 'json_schema', json_schema: { name: 'r', schema: { type: 'object' } } }]) {
      assert.equal((await copilot('/chat/completions', { ...hello, response_format })).status, 200);
    }
    const image = { role: 'user', content: [{ type: 'text', text: 'what is this' }, { type: 'image_url', image_url: { url: 'data:image/png;base64,AAAA' } }] };
    await err({ model: 'gpt-4.1', messages: [image] });
    const ok = await copilot('/chat/completions', { model: 'gpt-4.1', messages: [image] }, { headers: { 'copilot-vision-request': 'true' } });
    assert.equal(ok.json.choices[0].message.content, 'Echo: what is this [1 image]');
    const legacy = await copilot('/chat/completions', { ...hello, model: 'gpt-3.5-turbo' });
    assert.equal(legacy.status, 200);
    const gpt5 = await copilot('/chat/completions', { ...hello, model: 'gpt-5-mini', max_completion_tokens: 100 });
    assert.equal(gpt5.status, 200);
  });
});

// ---------------------------------------------------------------- responses

describe('responses', () => {
  test('non-stream echo', async () => {
    const { status, json } = await copilot('/responses', { model: 'gpt-5-codex', input: 'Hello via the Responses API' });
    assert.equal(status, 200);
    assert.match(json.id, /^resp_/);
    assert.equal(json.status, 'completed');
    assert.equal(json.output.length, 1);
    assert.equal(json.output[0].content[0].text, 'Echo: Hello via the Responses API');
    assert.equal(json.usage.output_tokens, 6); // one per word-ish token of the text
    assert.equal(json.usage.output_tokens_details.reasoning_tokens, 0);
  });

  test('stream with reasoning, tool call, id quirk and sequence numbers', async () => {
    const body = {
      model: 'gpt-5.1-codex',
      stream: true,
      reasoning: { effort: 'medium', summary: 'auto' },
      include: ['reasoning.encrypted_content'],
      tools: [{ type: 'function', name: 'exec_command', parameters: { type: 'object', properties: { cmd: { type: 'string' } }, required: ['cmd'] } }],
      input: [{ type: 'message', role: 'user', content: [{ type: 'input_text', text: 'MOCK_TOOL /tmp/x.txt' }] }],
    };
    const frames = parseSse((await copilot('/responses', body)).text);
    const types = frames.map((f) => f.event);
    assert.equal(types[0], 'response.created');
    assert.equal(types[1], 'response.in_progress');
    assert.equal(types.at(-1), 'response.completed');
    frames.forEach((f, i) => {
      assert.equal(f.data.sequence_number, i);
      assert.equal(f.data.type, f.event);
    });
    for (const t of ['response.reasoning_summary_text.delta', 'response.output_text.delta', 'response.function_call_arguments.delta']) {
      assert.ok(types.includes(t), t);
    }
    const added = frames.filter((f) => f.event === 'response.output_item.added');
    const done = frames.filter((f) => f.event === 'response.output_item.done');
    assert.deepEqual(added.map((f) => f.data.item.type), ['reasoning', 'message', 'function_call']);
    added.forEach((a, i) => assert.notEqual(a.data.item.id, done[i].data.item.id, 'Copilot id quirk'));
    const text = frames.filter((f) => f.event === 'response.output_text.delta').map((f) => f.data.delta).join('');
    assert.equal(text, "I'll use the exec_command tool.");
    const args = frames.filter((f) => f.event === 'response.function_call_arguments.delta').map((f) => f.data.delta).join('');
    assert.deepEqual(JSON.parse(args), { cmd: "printf %s 'hello from mock' > /tmp/x.txt" });
    const final = frames.at(-1).data.response;
    assert.equal(final.output[0].summary[0].text, '**Mock reasoning**\n\nDeciding how to reply.');
    assert.match(final.output[0].encrypted_content, /^gAAAA/);
    assert.ok(final.usage.output_tokens_details.reasoning_tokens > 0);

    // Items minted here are accepted back; after forget-items they are foreign.
    const next = {
      model: 'gpt-5.1-codex',
      input: [
        ...body.input,
        ...final.output.map((it, i) => ({ ...it, id: added[i].data.item.id })),
        { type: 'function_call_output', call_id: final.output[2].call_id, output: 'done' },
      ],
    };
    const ok = await copilot('/responses', next);
    assert.equal(ok.status, 200, ok.text);
    assert.equal(ok.json.output[0].content[0].text, 'Tool result: done');
    await control('POST', '/responses/forget-items');
    const stale = await copilot('/responses', next);
    assert.equal(stale.status, 400);
    assert.equal(stale.json.error.message, 'input item ID does not belong to this connection');
  });

  test('strictness', async () => {
    const err = async (body, re) => {
      const r = await copilot('/responses', { model: 'gpt-5-codex', input: 'hi', ...body });
      assert.equal(r.status, 400, JSON.stringify(body).slice(0, 160));
      if (re) assert.match(r.json.error.message, re);
    };
    await err({ service_tier: 'flex' });
    await err({ tools: [{ type: 'image_generation' }] }, /image_generation/);
    await err({ tools: [{ type: 'custom', name: 'apply_patch' }] }, /custom/);
    await err({ max_output_tokens: 1 }, />= 16/);
    await err({ max_tokens: 100 }, /Unknown parameter/);
    await err({ model: 'claude-sonnet-5' }, /not accessible via the \/responses endpoint/);
    await err({ model: 'gpt-3.5-turbo' }, /not accessible/);
    await err({ reasoning: { effort: 'none' } }, /Supported values/);
    await err({ input: [{ type: 'function_call_output', call_id: 'call_x', output: 'y' }] }, /No tool call found/);
    await err({ input: [{ type: 'message', role: 'assistant', content: [{ type: 'input_text', text: 'x' }] }] }, /output_text/);
    await err({ input: [{ type: 'reasoning', id: 'rs_1', summary: [], encrypted_content: 'mocksig_abc' }] }, /could not be verified/);
    await err({ input: [{ type: 'message', id: Buffer.alloc(60, 7).toString('base64'), role: 'user', content: 'x' }] }, /does not belong to this connection/);
    await err({ input: [{ role: 'user', content: [{ type: 'input_file', filename: 'a.pdf' }] }] }, /file_data/);
    await err({ text: { format: { type: 'yaml' } } }, /Supported values/);
    await err({ text: { format: { type: 'json_schema', schema: {} } } }, /text\.format\.name/);
    await err({ input: [{ type: 'message', role: 'user', content: 'x', internal_chat_message_metadata_passthrough: { turn_id: 't' } }] }, /Unknown parameter: 'input\[0\]\.internal_chat_message_metadata_passthrough'/);
    // Short and non-base64 ids are fine; web_search and namespace tools are accepted.
    const ok = await copilot('/responses', {
      model: 'gpt-5-codex',
      tools: [{ type: 'web_search' }, { type: 'namespace', name: 'ns', tools: [] }],
      input: [
        { type: 'message', id: 'msg_abc', role: 'user', content: 'x' },
        { type: 'message', id: 'msg_766d177d-e288-5621-9983-e32fc0dfa047', role: 'user', content: 'y' },
      ],
    });
    assert.equal(ok.status, 200, ok.text);
  });

  test('namespaces: an empty description is refused, their tools are called by namespace', async () => {
    const ns = (description) => ({ type: 'namespace', name: 'functions', description, tools: [{ type: 'function', name: 'wait', parameters: { type: 'object' } }] });
    const top = await copilot('/responses', { model: 'gpt-5-codex', input: 'hi', tools: [ns('')] });
    assert.equal(top.status, 400);
    assert.equal(top.json.error.code, 'empty_string');
    assert.equal(top.json.error.param, 'tools[0].description');
    assert.match(top.json.error.message, /Invalid 'tools\[0\]\.description': empty string\. Expected a string with minimum length 1/);
    // Responses Lite: tools in an `additional_tools` input item.
    const lite = await copilot('/responses', {
      model: 'gpt-5-codex',
      input: [{ type: 'additional_tools', role: 'developer', tools: [ns('')] }, { type: 'message', role: 'user', content: 'hi' }],
    });
    assert.equal(lite.status, 400);
    assert.equal(lite.json.error.param, 'input[0].tools[0].description');
    const call = await copilot('/responses', {
      model: 'gpt-5-codex',
      input: [{ type: 'additional_tools', role: 'developer', tools: [ns('Built-ins.')] }, { type: 'message', role: 'user', content: 'MOCK_CALL wait' }],
    });
    assert.equal(call.status, 200, call.text);
    const fc = call.json.output.find((o) => o.type === 'function_call');
    assert.equal(fc.name, 'wait');
    assert.equal(fc.namespace, 'functions');
  });

  test('compaction items: only Copilot-made payloads are read', async () => {
    const input = (encrypted_content) => [{ type: 'compaction', encrypted_content }, { type: 'message', role: 'user', content: 'go on' }];
    const foreign = await copilot('/responses', { model: 'gpt-5-codex', input: input('cgwc1.eyJzdW1tYXJ5IjoieCJ9') });
    assert.equal(foreign.status, 400);
    assert.equal(foreign.json.error.code, 'invalid_encrypted_content');
    const own = await copilot('/responses', { model: 'gpt-5-codex', input: input('gAAAAmockY29tcGFjdGlvbg==') });
    assert.equal(own.status, 200, own.text);
  });

  test('recorded Codex requests are accepted', async (t) => {
    const first = fixture('codex.responses.request.json');
    const second = fixture('codex.responses.tool_output.request.json');
    const a = parseSse((await copilot('/responses', first.body)).text);
    assert.equal(a.at(-1).event, 'response.completed');
    assert.equal(a.at(-1).data.response.output.at(-1).name, 'exec_command');
    const b = parseSse((await copilot('/responses', second.body)).text);
    assert.equal(b.at(-1).event, 'response.completed');
    assert.match(b.at(-1).data.response.output.find((o) => o.type === 'message').content[0].text, /^Tool result: Chunk ID/);
  });
});

// ---------------------------------------------------------------- messages

describe('messages', () => {
  const base = { model: 'claude-sonnet-5', max_tokens: 1024, messages: [{ role: 'user', content: 'Hello from the anthropic SDK' }] };

  test('non-stream', async () => {
    const { status, json } = await copilot('/v1/messages', base);
    assert.equal(status, 200);
    assert.equal(json.type, 'message');
    assert.match(json.id, /^msg_/);
    assert.deepEqual(json.content, [{ type: 'text', text: 'Echo: Hello from the anthropic SDK' }]);
    assert.equal(json.stop_reason, 'end_turn');
    assert.equal(json.usage.output_tokens, 6);
    assert.equal(json.usage.cache_read_input_tokens, 0);
  });

  test('stream with thinking and tool use, ending in a stray [DONE]', async () => {
    const body = {
      ...base,
      max_tokens: 4096,
      stream: true,
      thinking: { type: 'enabled', budget_tokens: 2048 },
      tools: [{ name: 'Write', input_schema: { type: 'object', properties: {} } }],
      messages: [{ role: 'user', content: [{ type: 'text', text: 'MOCK_TOOL /tmp/a.txt' }] }],
    };
    const res = await copilot('/v1/messages', body, { headers: { 'anthropic-beta': 'interleaved-thinking-2025-05-14' } });
    assert.equal(res.status, 200, res.text);
    const frames = parseSse(res.text);
    assert.equal(frames.at(-1).data, '[DONE]');
    const events = frames.slice(0, -1);
    assert.deepEqual(
      [...new Set(events.map((f) => f.event))],
      ['message_start', 'content_block_start', 'ping', 'content_block_delta', 'content_block_stop', 'message_delta', 'message_stop'],
    );
    const starts = events.filter((f) => f.event === 'content_block_start').map((f) => f.data.content_block.type);
    assert.deepEqual(starts, ['thinking', 'text', 'tool_use']);
    const deltas = events.filter((f) => f.event === 'content_block_delta').map((f) => f.data.delta);
    const thinking = deltas.filter((d) => d.type === 'thinking_delta').map((d) => d.thinking).join('');
    assert.equal(thinking, 'Mock thinking about the request.');
    const sig = deltas.find((d) => d.type === 'signature_delta').signature;
    assert.match(sig, /^mocksig_/);
    const input = JSON.parse(deltas.filter((d) => d.type === 'input_json_delta').map((d) => d.partial_json).join(''));
    assert.deepEqual(input, { file_path: '/tmp/a.txt', content: 'hello from mock' });
    const md = events.find((f) => f.event === 'message_delta').data;
    assert.equal(md.delta.stop_reason, 'tool_use');
    const start = events[0].data.message;
    assert.ok(start.usage.input_tokens > 0);

    // The signature and tool_use id round-trip in the next turn.
    const toolUse = events.find((f) => f.data.content_block?.type === 'tool_use').data.content_block;
    const next = {
      ...body,
      stream: false,
      messages: [
        ...body.messages,
        {
          role: 'assistant',
          content: [
            { type: 'thinking', thinking, signature: sig },
            { type: 'tool_use', id: toolUse.id, name: 'Write', input },
          ],
        },
        { role: 'user', content: [{ type: 'tool_result', tool_use_id: toolUse.id, content: 'File created' }] },
      ],
    };
    const turn2 = await copilot('/v1/messages', next);
    assert.equal(turn2.status, 200, turn2.text);
    assert.equal(turn2.json.content.find((b) => b.type === 'text').text, 'Tool result: File created');
  });

  test('strictness', async () => {
    const err = async (body, re, headers) => {
      const r = await copilot('/v1/messages', body, { headers });
      assert.equal(r.status, 400, JSON.stringify(body).slice(0, 160));
      assert.equal(r.json.type, 'error');
      if (re) assert.match(r.json.error.message, re);
    };
    const { max_tokens, ...noMax } = base;
    await err(noMax, /^max_tokens: Field required$/);
    await err(base, /context-1m-2025-08-07/, { 'anthropic-beta': 'context-1m-2025-08-07' });
    await err({ ...base, system: [{ type: 'text', text: 's', cache_control: { type: 'ephemeral', scope: 'global' } }] }, /cache_control\.ephemeral\.scope: Extra inputs are not permitted/);
    await err({ ...base, tools: [{ name: 't', input_schema: { type: 'object' }, eager_input_streaming: true }] }, /^tools\.0\.custom\.eager_input_streaming: Extra inputs are not permitted$/);
    await err({ ...base, service_tier: 'auto' });
    await err({ ...base, tools: [{ type: 'web_search_20250305', name: 'web_search' }] }, /web search tool is not supported/);
    await err({ ...base, stream_options: { include_usage: true } }, /stream_options: Extra inputs/);
    const placeholder = { role: 'assistant', content: [{ type: 'thinking', thinking: 'Thinking...', signature: 'mocksig_0123456789abcdef' }, { type: 'text', text: 'ok' }] };
    await err({ ...base, messages: [base.messages[0], placeholder, { role: 'user', content: 'go on' }] }, /thinking/);
    const forged = { role: 'assistant', content: [{ type: 'thinking', thinking: 'hm', signature: 'gAAAAforged' }, { type: 'text', text: 'ok' }] };
    await err({ ...base, messages: [base.messages[0], forged, { role: 'user', content: 'go on' }] }, /Invalid `signature`/);
    await err({ ...base, messages: [{ role: 'user', content: [{ type: 'text', text: '' }] }] }, /non-empty/);
    const doc = (source) => ({ ...base, messages: [{ role: 'user', content: [{ type: 'document', source }, { type: 'text', text: 'read' }] }] });
    await err(doc({ type: 'link', url: 'https://x.test/d.pdf' }), /document\.source: Input tag 'link'/);
    await err(doc({ type: 'base64', media_type: 'text/plain', data: 'AA' }), /application\/pdf/);
    await err(doc({ type: 'url' }), /source\.url\.url: Field required/);
    assert.equal((await copilot('/v1/messages', doc({ type: 'url', url: 'https://x.test/d.pdf' }))).status, 200);
    await err({ ...base, output_config: { format: { type: 'json_object' } } }, /expected tags: 'json_schema'/);
    await err({ ...base, output_config: { format: { type: 'json_schema' } } }, /schema: Field required/);
    await err({ ...base, output_config: { format: { type: 'json_schema', schema: {}, strict: true } } }, /strict: Extra inputs/);
    await err({ ...base, output_config: { verbosity: 'low' } }, /output_config\.verbosity: Extra inputs/);
    const structured = { ...base, output_config: { effort: 'low', format: { type: 'json_schema', schema: { type: 'object' } } } };
    assert.equal((await copilot('/v1/messages', structured)).status, 200);
    // System turns inside messages: Claude 4.8 and later only.
    await err({ ...base, model: 'claude-haiku-4.5', messages: [{ role: 'user', content: 'x' }, { role: 'system', content: 'x' }] }, /messages\.1\.role: Input should be 'user' or 'assistant'/);
    assert.equal((await copilot('/v1/messages', { ...base, messages: [{ role: 'user', content: 'x' }, { role: 'system', content: 'be brief' }, { role: 'user', content: 'y' }] })).status, 200);
    await err({ ...base, thinking: { type: 'enabled', budget_tokens: 2048 } }, /max_tokens/);
    await err({ ...base, messages: [{ role: 'user', content: [{ type: 'tool_result', tool_use_id: 'toolu_x', content: 'x' }] }] }, /unexpected `tool_use_id`/);
    const image = { role: 'user', content: [{ type: 'image', source: { type: 'base64', media_type: 'image/png', data: 'AAAA' } }, { type: 'text', text: 'see' }] };
    const noVision = await copilot('/v1/messages', { ...base, messages: [image] });
    assert.equal(noVision.status, 400);
    const vision = await copilot('/v1/messages', { ...base, messages: [image] }, { headers: { 'copilot-vision-request': 'true' } });
    assert.equal(vision.json.content[0].text, 'Echo: see [1 image]');
    const wrongEndpoint = await copilot('/v1/messages', { ...base, model: 'gpt-4.1' });
    assert.equal(wrongEndpoint.json.error.code, 'unsupported_api_for_model');
  });

  test('recorded Claude Code requests are accepted with a filtered beta header', async (t) => {
    // Recorded on a model Copilot has since retired.
    const current = (f) => ({ ...f, body: { ...f.body, model: 'claude-sonnet-5' } });
    const first = current(fixture('claude-code.messages.request.json'));
    const second = current(fixture('claude-code.messages.tool_result.request.json'));
    const headers = { 'anthropic-beta': 'interleaved-thinking-2025-05-14,context-management-2025-06-27' };
    const a = await copilot('/v1/messages', first.body, { headers });
    assert.equal(a.status, 200, a.text);
    const frames = parseSse(a.text);
    const tool = frames.find((f) => f.data?.content_block?.type === 'tool_use');
    assert.equal(tool.data.content_block.name, 'Write');
    const b = await copilot('/v1/messages', second.body, { headers });
    assert.equal(b.status, 200, b.text);
    const rejected = await copilot('/v1/messages', first.body, { headers: { 'anthropic-beta': first.headers['anthropic-beta'] } });
    assert.equal(rejected.status, 400);
  });

  test('count_tokens', async () => {
    const body = JSON.stringify({ model: 'claude-sonnet-5', messages: base.messages });
    const { json } = await copilot('/v1/messages/count_tokens', body);
    assert.equal(json.input_tokens, Math.ceil(body.length / 4));
  });
});

// ---------------------------------------------------------------- embeddings

describe('billing', () => {
  const chat = { model: 'gpt-4.1', messages: [{ role: 'user', content: 'bill me' }] };
  const resp = { model: 'gpt-5.1-codex', input: 'bill me' };
  const msgs = { model: 'claude-sonnet-5', max_tokens: 100, messages: [{ role: 'user', content: 'bill me' }] };
  const lastReply = async () => (await control('GET', '/requests')).filter((r) => r.reply?.copilot_usage).at(-1).reply;

  test('copilot_usage in every answer, stream and not, priced per token type', async () => {
    const checkShape = (cu, reply) => {
      assert.deepEqual(cu, reply.copilot_usage);
      assert.ok(cu.token_details.every((d) => d.batch_size === 1_000_000 && d.cost_per_batch > 0));
      assert.equal(cu.total_nano_aiu, cu.token_details.reduce((n, d) => n + (d.token_count * d.cost_per_batch) / d.batch_size, 0));
    };
    for (const [path, body] of [['/chat/completions', chat], ['/responses', resp], ['/v1/messages', msgs]]) {
      const plain = await copilot(path, body);
      checkShape(plain.json.copilot_usage, await lastReply());
      const frames = parseSse((await copilot(path, { ...body, stream: true })).text);
      const carrier = frames.filter((f) => f.data?.copilot_usage);
      assert.equal(carrier.length, 1, path);
      const where = { '/chat/completions': undefined, '/responses': 'response.completed', '/v1/messages': 'message_delta' }[path];
      assert.equal(carrier[0].event ?? undefined, where, path);
      checkShape(carrier[0].data.copilot_usage, await lastReply());
    }
    // Claude's rates: $3 input, $15 output per 1M tokens (3e11 and 1.5e12 nano-AIU).
    const { reply } = (await control('GET', '/requests')).filter((r) => r.path === '/copilot/v1/messages').at(-1);
    const rate = Object.fromEntries(reply.copilot_usage.token_details.map((d) => [d.token_type, d.cost_per_batch]));
    assert.equal(rate.input, 300_000_000_000);
    assert.equal(rate.output, 1_500_000_000_000);
  });

  test('quota headers on successful answers; credits come off the quota', async () => {
    const gh = mock.state.users[0].github_token;
    const before = (await (await fetch(`${mock.githubApiBaseUrl}/copilot_internal/user`, { headers: ghHeaders(gh) })).json()).quota_snapshots.premium_interactions.remaining;
    const res = await copilot('/chat/completions', chat);
    const params = (name) => Object.fromEntries(new URLSearchParams(res.headers.get(name)));
    const premium = params('x-quota-snapshot-premium_interactions');
    assert.equal(premium.ent, '1500');
    assert.match(premium.rst, /^\d{4}-\d{2}-01T00:00:00Z$/);
    const billed = res.json.copilot_usage.total_nano_aiu / 1e9;
    assert.ok(Math.abs(Number(premium.totRem) - (before - billed)) < 0.1);
    assert.equal(params('x-quota-snapshot-chat').ent, '-1');
    assert.ok(Number(params('x-usage-ratelimit-weekly').rem) > 0);
    assert.ok(Date.parse(params('x-usage-ratelimit-session').rst) > Date.now());
    const after = (await (await fetch(`${mock.githubApiBaseUrl}/copilot_internal/user`, { headers: ghHeaders(gh) })).json()).quota_snapshots.premium_interactions.remaining;
    assert.ok(Math.abs(after - (before - billed)) < 1e-6);
    // None on errors.
    const bad = await copilot('/chat/completions', { model: 'nope', messages: [] });
    assert.equal(bad.headers.get('x-quota-snapshot-premium_interactions'), null);
  });

  test('token-based billing shape of copilot_internal/user', async () => {
    const gh = mock.state.users[0].github_token;
    const get = async () => (await fetch(`${mock.githubApiBaseUrl}/copilot_internal/user`, { headers: ghHeaders(gh) })).json();
    assert.equal((await get()).token_based_billing, undefined, 'legacy shape by default');
    await control('POST', '/plan', { user_id: 1001, plan: 'individual', billing: 'tokens' });
    const t = await get();
    assert.equal(t.token_based_billing, true);
    assert.equal(t.quota_snapshots.premium_interactions.credits_used, 265.5);
    assert.equal(t.quota_snapshots.premium_interactions.overage_entitlement, 0);
    await control('POST', '/plan', { user_id: 1001, plan: 'business', billing: 'tokens' });
    const org = (await get()).quota_snapshots.premium_interactions;
    assert.equal(org.entitlement, 0, 'an org-billed seat has no allotment of its own');
    assert.ok(org.credits_used > 0);
  });

  test('an exhausted weekly or session window answers 429 with its code and headers', async () => {
    const until = new Date(Date.now() + 3 * 3600_000).toISOString().replace(/\.\d{3}Z$/, 'Z');
    await control('POST', '/usage-limit', { user_id: 1001, window: 'weekly', until });
    for (const [path, body] of [['/chat/completions', chat], ['/responses', resp], ['/v1/messages', msgs]]) {
      const r = await copilot(path, body);
      assert.equal(r.status, 429, path);
      assert.equal(r.json.error.code, 'user_weekly_rate_limited');
      assert.equal(r.headers.get('retry-after'), '120');
      assert.equal(new URLSearchParams(r.headers.get('x-usage-ratelimit-weekly')).get('rst'), until);
    }
    assert.equal((await copilot('/models')).status, 200, 'only generation is limited');
    await control('POST', '/usage-limit', { user_id: 1001, window: 'weekly', clear: true });
    await control('POST', '/usage-limit', { user_id: 1001, window: 'session' });
    const s = await copilot('/chat/completions', chat);
    assert.equal(s.json.error.code, 'user_global_rate_limited');
    await control('POST', '/usage-limit', { user_id: 1001, window: 'session', clear: true });
    assert.equal((await copilot('/chat/completions', chat)).status, 200);
  });
});

describe('embeddings', () => {
  test('float and base64 encodings agree and are deterministic', async () => {
    const f = await copilot('/embeddings', { model: 'text-embedding-3-small', input: ['alpha', 'beta'] });
    assert.equal(f.status, 200);
    assert.equal(f.json.data.length, 2);
    assert.equal(f.json.data[0].embedding.length, 1536);
    const b = await copilot('/embeddings', { model: 'text-embedding-3-small', input: 'alpha', encoding_format: 'base64' });
    const buf = Buffer.from(b.json.data[0].embedding, 'base64');
    const decoded = Array.from({ length: buf.length / 4 }, (_, i) => buf.readFloatLE(i * 4));
    assert.deepEqual(decoded, f.json.data[0].embedding);
    const small = await copilot('/embeddings', { model: 'text-embedding-3-small', input: 'alpha', dimensions: 64 });
    assert.equal(small.json.data[0].embedding.length, 64);
    assert.ok(small.json.usage.prompt_tokens > 0);
    assert.equal((await copilot('/embeddings', { model: 'gpt-4.1', input: 'x' })).status, 400);
    assert.equal((await copilot('/embeddings', { model: 'text-embedding-3-small', input: '' })).status, 400);
  });
});

// ---------------------------------------------------------------- control

describe('control endpoints', () => {
  test('request log records headers, body and levers', async () => {
    await control('DELETE', '/requests');
    await copilot('/chat/completions', { model: 'gpt-4.1', messages: [{ role: 'user', content: 'x' }] }, { headers: { 'x-initiator': 'agent' } });
    const log = await control('GET', '/requests?path=/copilot/chat/completions');
    assert.equal(log.length, 1);
    const [entry] = log;
    assert.equal(entry.method, 'POST');
    assert.equal(entry.body.model, 'gpt-4.1');
    assert.equal(entry.flags.x_initiator, 'agent');
    assert.equal(entry.flags.copilot_vision_request, null);
    assert.equal(entry.user, 'octocat');
    assert.equal(entry.status, 200);
    assert.equal(entry.reply.text, 'Echo: x');
    const all = await control('GET', '/requests');
    assert.ok(all.some((r) => r.path === '/api/copilot_internal/v2/token'));
  });

  test('secrets and stats', async () => {
    const { token } = await exchange();
    const s = await control('GET', '/secrets');
    assert.ok(s.all.includes(token));
    assert.ok(s.all.includes(mock.state.users[0].github_token));
    await copilot('/models', undefined, { token });
    const stats = await control('GET', '/stats');
    assert.equal(stats.requests['GET /copilot/models'], 1);
  });

  test('scripted JSON error and SSE answers', async () => {
    await control('POST', '/script', {
      method: 'POST',
      path: '/copilot/chat/completions',
      status: 429,
      headers: { 'retry-after': '7' },
      body: { error: { message: 'rate limited', code: 'rate_limited' } },
    });
    const limited = await copilot('/chat/completions', { model: 'gpt-4.1', messages: [{ role: 'user', content: 'x' }] });
    assert.equal(limited.status, 429);
    assert.equal(limited.headers.get('retry-after'), '7');
    assert.equal(limited.json.error.code, 'rate_limited');
    const normal = await copilot('/chat/completions', { model: 'gpt-4.1', messages: [{ role: 'user', content: 'x' }] });
    assert.equal(normal.status, 200, 'times defaults to 1');

    const frames = ['event: message_start\ndata: {"type":"message_start"}\n\n', 'event: error\ndata: {"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}\n\n'];
    await control('POST', '/script', { path: '/copilot/v1/messages', sse: frames, delay_ms: 5, times: 2 });
    for (let i = 0; i < 2; i++) {
      const r = await copilot('/v1/messages', { model: 'claude-sonnet-5', max_tokens: 10, messages: [{ role: 'user', content: 'x' }] });
      assert.equal(r.text, frames.join(''));
    }
  });

  test('SSE frames arrive in separate writes, one split mid-frame', async () => {
    await control('POST', '/config', { sse_delay_ms: 15 });
    const { token } = await exchange();
    const chunks = await new Promise((resolve, reject) => {
      const req = http.request(`${mock.copilotBaseUrl}/v1/messages`, { method: 'POST', headers: copilotHeaders(token) }, (res) => {
        const got = [];
        res.on('data', (c) => got.push(c.toString('utf8')));
        res.on('end', () => resolve(got));
      });
      req.on('error', reject);
      req.end(JSON.stringify({ model: 'claude-haiku-4.5', max_tokens: 100, stream: true, messages: [{ role: 'user', content: 'a b c d' }] }));
    });
    assert.ok(chunks.length > 5, `got ${chunks.length} chunks`);
    assert.ok(chunks.some((c) => !c.endsWith('\n\n')), 'some frame was split');
    assert.equal(chunks.at(-1), 'data: [DONE]\n\n');
  });

  test('config switches quirks off', async () => {
    await control('POST', '/config', { messages_stray_done: false, responses_id_mismatch: false, chat_prompt_filter_chunk: false });
    const m = parseSse((await copilot('/v1/messages', { model: 'claude-sonnet-5', max_tokens: 10, stream: true, messages: [{ role: 'user', content: 'x' }] })).text);
    assert.equal(m.at(-1).event, 'message_stop');
    const r = parseSse((await copilot('/responses', { model: 'gpt-5-mini', stream: true, input: 'x' })).text);
    const added = r.find((f) => f.event === 'response.output_item.added').data.item.id;
    assert.equal(r.find((f) => f.event === 'response.output_item.done').data.item.id, added);
    const c = parseSse((await copilot('/chat/completions', { model: 'gpt-4.1', stream: true, messages: [{ role: 'user', content: 'x' }] })).text);
    assert.notDeepEqual(c[0].data.choices, []);
  });

  test('unknown routes and HEAD answer 404 JSON', async () => {
    const head = await fetch(`${mock.copilotBaseUrl}/models`, { method: 'HEAD' });
    assert.equal(head.status, 404);
    const unknown = await fetch(`${mock.origin}/nowhere`);
    assert.equal(unknown.status, 404);
    assert.ok((await unknown.json()).error);
    const api = await fetch(`${mock.githubApiBaseUrl}/repos/x/y`, { headers: ghHeaders('x') });
    assert.equal((await api.json()).message, 'Not Found');
  });

  test('reset restores defaults but keeps the users\' GitHub tokens', async () => {
    const before = mock.state.users.map((u) => u.github_token);
    await control('POST', '/plan', { user_id: 1001, plan: 'enterprise' });
    await control('POST', '/reset');
    assert.deepEqual(mock.state.users.map((u) => u.github_token), before);
    assert.equal(mock.state.users[0].plan, 'individual');
    assert.deepEqual(await control('GET', '/requests'), []);
  });
});

describe('search providers', () => {
  const keys = () => mock.searchKeys;
  const tavily = (body, key = keys().tavily) =>
    fetch(`${mock.tavilyBaseUrl}/search`, {
      method: 'POST',
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
  const grounding = (body, key = keys()['microsoft-grounding']) =>
    fetch(`${mock.groundingBaseUrl}/v3/search/web`, {
      method: 'POST',
      headers: { 'x-apikey': key, 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
  const brave = (params, key = keys().brave) =>
    fetch(`${mock.braveBaseUrl}/res/v1/web/search?${new URLSearchParams(params)}`, { headers: { 'x-subscription-token': key, accept: 'application/json' } });
  const searxng = (params, headers = {}) => fetch(`${mock.searxngUrl}/search?${new URLSearchParams(params)}`, { headers });

  test('tavily: bearer key, include/exclude domains, max_results', async () => {
    const r = await tavily({ query: 'rust async', max_results: 5, exclude_domains: ['blog.example.com'] });
    assert.equal(r.status, 200);
    const j = await r.json();
    assert.equal(j.query, 'rust async');
    assert.equal(j.results.length, 4, 'the excluded domain is left out');
    assert.ok(j.results.every((h) => !h.url.includes('blog.example.com') && h.title.includes('rust async') && typeof h.score === 'number'));
    const only = await (await tavily({ query: 'tokio', include_domains: ['tokio.rs'], max_results: 2 })).json();
    assert.deepEqual(only.results.map((h) => h.url), ['https://tokio.rs/tokio/1', 'https://tokio.rs/tokio/2']);
    const bad = await tavily({ query: 'x' }, 'tvly-wrong');
    assert.equal(bad.status, 401);
    assert.match((await bad.json()).detail.error, /invalid API key/);
    assert.equal((await tavily({ query: ' ' })).status, 400);
    assert.equal((await tavily({ query: 'x', max_results: 21 })).status, 400);
  });

  test('microsoft grounding: x-apikey, site: operators, maxResults, region', async () => {
    const r = await grounding({ query: 'weather (site:a.example OR site:b.example) -site:b.example', maxResults: 10, contentFormat: 'passage', region: 'JP' });
    assert.equal(r.status, 200);
    const j = await r.json();
    assert.ok(j.webResults.length > 0 && j.webResults.every((h) => h.url.startsWith('https://a.example/weather/')));
    assert.ok(j.webResults[0].lastUpdatedAt && j.webResults[0].crawledAt && j.webResults[0].content.includes('weather'));
    assert.equal((await grounding({ query: 'x' }, 'wrong')).status, 401);
    assert.equal((await grounding({ query: 'x', contentFormat: 'pdf' })).status, 400);
    assert.equal((await grounding({ query: 'x', region: 'japan' })).status, 400);
  });

  test('brave: subscription token (422 when wrong, like the real API), count, decorations', async () => {
    const r = await brave({ q: 'zig site:ziglang.org', count: '3' });
    assert.equal(r.status, 200);
    const j = await r.json();
    assert.equal(j.web.results.length, 3);
    assert.ok(j.web.results.every((h) => h.url.startsWith('https://ziglang.org/')));
    assert.match(j.web.results[0].description, /<strong>zig<\/strong>/);
    assert.ok(j.web.results[0].page_age && j.web.results[0].age);
    const plain = await (await brave({ q: 'zig', text_decorations: 'false' })).json();
    assert.doesNotMatch(plain.web.results[0].description, /<strong>/);
    const bad = await brave({ q: 'x' }, 'BSAwrong');
    assert.equal(bad.status, 422);
    assert.equal((await bad.json()).error.code, 'SUBSCRIPTION_TOKEN_INVALID');
    const invalid = await brave({ q: 'x', count: '50' });
    assert.equal((await invalid.json()).error.code, 'VALIDATION');
  });

  test('searxng: JSON only when asked, site: honoured, -site: not, basic auth when sent or required', async () => {
    const r = await searxng({ q: 'zig site:ziglang.org -site:ziglang.org', format: 'json' });
    assert.equal(r.status, 200);
    const urls = (await r.json()).results.map((h) => h.url);
    assert.ok(urls.some((u) => u.startsWith('https://ziglang.org/')), 'the blocked domain is not filtered by the instance');
    assert.ok(urls.includes('https://stray.example.net/zig/1'), 'one engine ignored site:');
    assert.equal((await searxng({ q: 'x' })).status, 403, 'HTML only without format=json');
    const basic = (u, p) => ({ authorization: `Basic ${Buffer.from(`${u}:${p}`).toString('base64')}` });
    assert.equal((await searxng({ q: 'x', format: 'json' }, basic('gateway', 'nope'))).status, 401);
    await control('POST', '/config', { searxng_require_auth: true });
    assert.equal((await searxng({ q: 'x', format: 'json' })).status, 401);
    assert.equal((await searxng({ q: 'x', format: 'json' }, basic(keys().searxng_user, keys().searxng_password))).status, 200);
  });

  test('query log, scripted hits and errors, keys in the secrets list', async () => {
    await tavily({ query: 'logged', include_domains: ['docs.rs'] });
    await brave({ q: 'also logged -site:x.org', country: 'DE' });
    const log = await control('GET', '/search/requests');
    assert.deepEqual(log.map((e) => [e.provider, e.terms]), [['tavily', 'logged'], ['brave', 'also logged']]);
    assert.deepEqual(log[0].include_domains, ['docs.rs']);
    assert.deepEqual(log[1].exclude_domains, ['x.org']);
    assert.equal(log[1].country, 'DE');
    assert.equal((await control('GET', '/search/requests?provider=brave')).length, 1);

    await control('POST', '/search/results', { provider: 'brave', results: [{ url: 'https://scripted.example/a', title: 'Scripted', content: 'hello', page_age: '2024-01-01' }] });
    const scripted = await (await brave({ q: 'anything' })).json();
    assert.deepEqual(scripted.web.results.map((h) => [h.url, h.title, h.description]), [['https://scripted.example/a', 'Scripted', 'hello']]);
    assert.equal((await (await brave({ q: 'anything' })).json()).web.results.length, 5, 'once');

    await control('POST', '/script', { path: '/search/tavily/search', status: 429, body: { detail: { error: 'Rate limit exceeded' } } });
    assert.equal((await tavily({ query: 'x' })).status, 429);
    await control('POST', '/script', { path: '/search/brave/res/v1/web/search', status: 200, body: { web: { results: [] } }, delay_ms: 300 });
    const t0 = Date.now();
    assert.equal((await brave({ q: 'slow' })).status, 200);
    assert.ok(Date.now() - t0 >= 290, 'a slow answer');
    assert.ok((await control('GET', '/search/requests')).some((e) => e.scripted && e.provider === 'tavily'), 'scripted answers are logged too');

    const secrets = await control('GET', '/secrets');
    const { searxng_user: _, ...search } = keys();
    for (const s of Object.values(search)) {
      assert.ok(secrets.all.includes(s) && secrets.search_keys.includes(s));
    }
    assert.deepEqual(await control('GET', '/search/keys'), keys());
  });
});

// The floor: the most a Worker can do for free. It forwards the client's request (body
// streamed, not read) to the same mock upstream path the client's API lives at, and
// returns the upstream answer as it comes. Served by the same Miniflare as the gateway.
const PATHS = {
  '/v1/messages': '/copilot/v1/messages',
  '/v1/responses': '/copilot/responses',
  '/v1/chat/completions': '/copilot/chat/completions',
};

// With `?usage`, it also records usage in D1 after the answer, with the gateway's own
// statement: the benchmark's calibration of what that write costs under Miniflare (where
// D1 runs inside workerd; on Cloudflare it runs in D1, outside the Worker's CPU time).
const USAGE = `INSERT INTO usage (key_id, model, hour, requests, errors, input_tokens, output_tokens, cache_read_tokens, cache_creation_tokens)
  VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)
  ON CONFLICT (key_id, model, hour) DO UPDATE SET
    requests = requests + excluded.requests, errors = errors + excluded.errors,
    input_tokens = input_tokens + excluded.input_tokens, output_tokens = output_tokens + excluded.output_tokens,
    cache_read_tokens = cache_read_tokens + excluded.cache_read_tokens,
    cache_creation_tokens = cache_creation_tokens + excluded.cache_creation_tokens`;

export default {
  async fetch(request, env, ctx) {
    const url = new URL(request.url);
    const path = PATHS[url.pathname];
    if (!path) return new Response('not found', { status: 404 });
    if (url.searchParams.has('usage')) {
      const hour = new Date().toISOString().slice(0, 13);
      ctx.waitUntil(env.DB.prepare(USAGE).bind('bench', 'model', hour, 1, 0, 1000, 100, 0, 0).run());
    }
    return fetch(env.UPSTREAM + path, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: request.headers.get('authorization') ?? '' },
      body: request.body,
    });
  },
};

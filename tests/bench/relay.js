// The floor: the most a Worker can do for free. It forwards the client's request (body
// streamed, not read) to the same mock upstream path the client's API lives at, and
// returns the upstream answer as it comes. Served by the same Miniflare as the gateway.
const PATHS = {
  '/v1/messages': '/copilot/v1/messages',
  '/v1/responses': '/copilot/responses',
  '/v1/chat/completions': '/copilot/chat/completions',
};

export default {
  async fetch(request, env) {
    const url = new URL(request.url);
    const path = PATHS[url.pathname];
    if (!path) return new Response('not found', { status: 404 });
    return fetch(env.UPSTREAM + path, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: request.headers.get('authorization') ?? '' },
      body: request.body,
    });
  },
};

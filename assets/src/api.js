// The gateway's admin API, called with the session cookie (same origin, so the browser
// sends it and an Origin header by itself). The admin key itself is never kept here.

export class ApiError extends Error {
  constructor(status, message, type, retryAfter) {
    super(message);
    this.status = status;
    this.type = type;
    this.retryAfter = retryAfter;
  }
}

/** Called when the session is gone (a 401 from /api): the app shows the login page. */
let onSessionLost = () => {};
export function setSessionLostHandler(fn) {
  onSessionLost = fn;
}

export async function errorFrom(res) {
  let message = `${res.status} ${res.statusText || "error"}`;
  let type;
  try {
    const body = await res.json();
    const e = body?.error ?? body;
    if (typeof e?.message === "string") message = e.message;
    else if (typeof e === "string") message = e;
    type = e?.type;
  } catch {}
  const ra = Number(res.headers.get("retry-after"));
  return new ApiError(res.status, message, type, Number.isFinite(ra) && ra > 0 ? ra : undefined);
}

export async function request(method, path, body, { signal } = {}) {
  let res;
  try {
    res = await fetch(path, {
      method,
      credentials: "same-origin",
      headers: body === undefined ? { accept: "application/json" } : { accept: "application/json", "content-type": "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body),
      signal,
    });
  } catch (e) {
    if (e?.name === "AbortError") throw e;
    throw new ApiError(0, "The gateway could not be reached. Check your connection and try again.");
  }
  if (!res.ok) {
    const err = await errorFrom(res);
    if (res.status === 401 && path.startsWith("/api/")) onSessionLost(err);
    throw err;
  }
  if (res.status === 204) return null;
  const text = await res.text();
  if (!text) return null;
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

export const api = {
  get: (p, o) => request("GET", p, undefined, o),
  post: (p, b, o) => request("POST", p, b ?? {}, o),
  patch: (p, b) => request("PATCH", p, b),
  put: (p, b) => request("PUT", p, b),
  del: (p) => request("DELETE", p),
};

/** POST that answers with a stream (SSE); returns the Response for the caller to read. */
export async function postStream(path, body, { signal, headers = {} } = {}) {
  const res = await fetch(path, {
    method: "POST",
    credentials: "same-origin",
    headers: { "content-type": "application/json", accept: "text/event-stream", ...headers },
    body: JSON.stringify(body),
    signal,
  });
  if (!res.ok) {
    const err = await errorFrom(res);
    if (res.status === 401 && path.startsWith("/api/")) onSessionLost(err);
    throw err;
  }
  return res;
}

/** Yields each SSE event ({event, data}) of a fetch Response body. */
export async function* sseEvents(res) {
  const reader = res.body.getReader();
  const decoder = new TextDecoder();
  let buf = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buf += decoder.decode(value, { stream: true }).replace(/\r\n?/g, "\n");
    let i;
    while ((i = buf.indexOf("\n\n")) >= 0) {
      const block = buf.slice(0, i);
      buf = buf.slice(i + 2);
      let event = "message";
      const data = [];
      for (const line of block.split("\n")) {
        if (line.startsWith(":")) continue;
        const colon = line.indexOf(":");
        const field = colon < 0 ? line : line.slice(0, colon);
        const val = colon < 0 ? "" : line.slice(colon + 1).replace(/^ /, "");
        if (field === "event") event = val;
        else if (field === "data") data.push(val);
      }
      if (data.length) yield { event, data: data.join("\n") };
    }
  }
}

// ---- usage hours (UTC, `YYYY-MM-DDTHH`) ----

export const HOUR = 3600_000;
export const hourKey = (ms) => new Date(ms).toISOString().slice(0, 13);
export const hourMs = (key) => Date.parse(`${key}:00:00Z`);
export const currentHourMs = () => Math.floor(Date.now() / HOUR) * HOUR;

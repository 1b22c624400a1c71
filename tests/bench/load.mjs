// A small closed-loop load generator on node:http (keep-alive, `concurrency` requests in
// flight), timing each request's first body byte and its end.
import http from 'node:http';

export function agentFor(concurrency) {
  return new http.Agent({ keepAlive: true, maxSockets: concurrency, maxFreeSockets: concurrency });
}

/** One request; resolves {status, ttfb, total (ms), bytes, text?}. */
export function once(url, { path, headers, body, agent, keepText = false }) {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const req = http.request(
      url + path,
      { method: 'POST', agent, headers: { ...headers, 'content-type': 'application/json', 'content-length': body.length } },
      (res) => {
        let ttfb = null;
        let bytes = 0;
        const chunks = keepText ? [] : null;
        res.on('data', (c) => {
          if (ttfb === null) ttfb = performance.now() - t0;
          bytes += c.length;
          if (chunks) chunks.push(c);
        });
        res.on('end', () => {
          const total = performance.now() - t0;
          resolve({ status: res.statusCode, ttfb: ttfb ?? total, total, bytes, text: chunks && Buffer.concat(chunks).toString('utf8') });
        });
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

export function percentile(sorted, p) {
  if (!sorted.length) return NaN;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i];
}

/**
 * Runs `n` requests (or until `maxMs`, at least `minN`) with `concurrency` in flight,
 * after `warm` unrecorded ones.
 */
export async function run(url, req, { concurrency = 1, n = 200, minN = 20, maxMs = 2000, warm = 5, onStart, onEnd } = {}) {
  const agent = agentFor(concurrency);
  const r = { ...req, agent };
  for (let i = 0; i < warm; i++) {
    const w = await once(url, r);
    if (w.status !== 200) throw new Error(`warm-up answered ${w.status}`);
  }
  const results = [];
  let started = 0;
  let errors = 0;
  onStart?.();
  const t0 = performance.now();
  const worker = async () => {
    while (started < n && (started < minN || performance.now() - t0 < maxMs)) {
      started++;
      const res = await once(url, r);
      if (res.status !== 200) errors++;
      results.push(res);
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  const wall = performance.now() - t0;
  onEnd?.(results.length);
  agent.destroy();
  const total = results.map((x) => x.total).sort((a, b) => a - b);
  const ttfb = results.map((x) => x.ttfb).sort((a, b) => a - b);
  return {
    n: results.length,
    errors,
    rps: results.length / (wall / 1000),
    p50: percentile(total, 50),
    p99: percentile(total, 99),
    ttfb50: percentile(ttfb, 50),
    ttfb99: percentile(ttfb, 99),
    bytes: results.length ? Math.round(results.reduce((s, x) => s + x.bytes, 0) / results.length) : 0,
    wallMs: wall,
  };
}

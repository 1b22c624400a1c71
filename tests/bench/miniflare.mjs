// The gateway's release bundle (build/) and the relay floor under the Miniflare API: the
// same workerd and D1/KV simulation `wrangler dev` uses, without wrangler's local proxy.
import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { Log, LogLevel, Miniflare } from 'miniflare';

const root = path.resolve(import.meta.dirname, '../..');
export const ADMIN_KEY = 'bench-admin-key-0123456789abcdef';
const COMPAT = /compatibility_date\s*=\s*"([^"]+)"/.exec(readFileSync(path.join(root, 'wrangler.toml'), 'utf8'))[1];

/** Child processes named workerd (ours are the only ones started by this process). */
export function workerdPids() {
  const pids = [];
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const stat = readFileSync(`/proc/${d}/stat`, 'utf8');
      const comm = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (comm === 'workerd' && ppid === process.pid) pids.push(Number(d));
    } catch {}
  }
  return pids;
}

/** CPU seconds a process has used: the sum over its threads of the scheduler's on-CPU
 * time (ns precision; /proc/<pid>/stat only counts 10 ms ticks). */
export function cpuSeconds(pid) {
  let ns = 0;
  for (const t of readdirSync(`/proc/${pid}/task`)) {
    try {
      ns += Number(readFileSync(`/proc/${pid}/task/${t}/schedstat`, 'utf8').split(' ')[0]);
    } catch {} // a thread that just exited
  }
  return ns / 1e9;
}

async function start(options) {
  const before = new Set(workerdPids());
  // Warnings and errors (the Worker's console.error, workerd's own) are printed: a failed
  // request must say why.
  const mf = new Miniflare({ compatibilityDate: COMPAT, port: 0, host: '127.0.0.1', cf: false, log: new Log(LogLevel.WARN), ...options });
  const url = await mf.ready;
  const pid = workerdPids().find((p) => !before.has(p));
  return { mf, url: url.origin, pid };
}

/** The gateway (build/index.js + its wasm) with local D1 (the Worker migrates it) and KV. */
export async function startGateway(upstream, bundle = path.join(root, 'build'), extra = {}) {
  const g = await start({
    ...extra,
    modules: true,
    scriptPath: path.join(bundle, 'index.js'),
    modulesRules: [{ type: 'CompiledWasm', include: ['**/*.wasm'] }],
    d1Databases: { DB: 'bench-db' },
    kvNamespaces: { KV: 'bench-kv' },
    bindings: {
      ADMIN_KEY,
      GITHUB_BASE_URL: `${upstream}/github`,
      GITHUB_API_BASE_URL: `${upstream}/api`,
      COPILOT_API_BASE_URL: `${upstream}/copilot`,
    },
  });
  // No migrations here: the Worker applies its own on the first request (tables created
  // behind its back, unrecorded, would make it fail on them).
  return g;
}

/** The trivial relay Worker: the floor. */
export async function startRelay(upstream) {
  const r = await start({
    modules: true,
    scriptPath: path.join(import.meta.dirname, 'relay.js'),
    bindings: { UPSTREAM: upstream },
  });
  return r;
}

/** Connects the mock's GitHub account (device flow) and creates an API key. */
export async function setUp(base) {
  const admin = async (p, body) => {
    const r = await fetch(base + p, {
      method: 'POST',
      headers: { authorization: `Bearer ${ADMIN_KEY}`, 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await r.text();
    if (r.status >= 300) throw new Error(`${p}: ${r.status} ${text}`);
    return JSON.parse(text);
  };
  const device = await admin('/api/github/device');
  for (let i = 0; ; i++) {
    const poll = await admin('/api/github/device/poll', { device_code: device.device_code });
    if (poll.status === 'complete') break;
    if (i > 5) throw new Error(`device flow did not complete: ${JSON.stringify(poll)}`);
  }
  return (await admin('/api/keys', { name: 'bench' })).key;
}

// The benchmark's companion: where the gateway's CPU goes on one path.
//
//   node tests/bench/profile.mjs [--source messages] [--target responses] [--size agent]
//                                [--stream] [--n 400] [--concurrency 1] [--top 40]
//                                [--bundle DIR]   (another build/, e.g. main's, to compare)
//
// Serves the release bundle (build/, as `npm run bench` builds it) under the Miniflare API
// in front of the benchmark's mock, attaches V8's sampling profiler through workerd's
// inspector, sends `n` requests of one case, and prints the functions with the most
// self time (wasm functions by their Rust names: the bundle keeps its name section) and
// the JS/runtime share. It measures nothing the benchmark does not; it says where.
import http from 'node:http';
import WebSocket from 'ws';
import { startBenchMock } from './mock.mjs';
import { startGateway, setUp } from './miniflare.mjs';
import { run } from './load.mjs';
import { clientBodies, bodyText } from './inputs.mjs';
import { MODELS } from './answers.mjs';

const args = process.argv.slice(2);
const opt = (name, dflt) => (args.includes(`--${name}`) ? args[args.indexOf(`--${name}`) + 1] : dflt);
const source = opt('source', 'messages');
const target = opt('target', source);
const size = opt('size', 'agent');
const stream = args.includes('--stream');
const n = Number(opt('n', 400));
const concurrency = Number(opt('concurrency', 1));
const top = Number(opt('top', 40));
const bundle = opt('bundle', undefined);
const CLIENT_PATH = { messages: '/v1/messages', responses: '/v1/responses', chat: '/v1/chat/completions' };

const getJson = (url) =>
  new Promise((resolve, reject) =>
    http.get(url, (res) => {
      let s = '';
      res.on('data', (c) => (s += c));
      res.on('end', () => resolve(JSON.parse(s)));
    }).on('error', reject),
  );

function inspector(url) {
  const ws = new WebSocket(url);
  let id = 0;
  const waiting = new Map();
  ws.on('message', (m) => {
    const msg = JSON.parse(m);
    if (msg.id && waiting.has(msg.id)) {
      waiting.get(msg.id)(msg);
      waiting.delete(msg.id);
    }
  });
  const send = (method, params = {}) =>
    new Promise((resolve, reject) => {
      const i = ++id;
      waiting.set(i, (msg) => (msg.error ? reject(new Error(`${method}: ${msg.error.message}`)) : resolve(msg.result)));
      ws.send(JSON.stringify({ id: i, method, params }));
    });
  return new Promise((resolve, reject) => {
    ws.on('open', () => resolve({ send, close: () => ws.close() }));
    ws.on('error', reject);
  });
}

/** Self time per function (ms) from a V8 CPU profile, and the total sampled time. */
function selfTimes(profile) {
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const self = new Map();
  let total = 0;
  for (let i = 0; i < profile.samples.length; i++) {
    const node = byId.get(profile.samples[i]);
    const dt = (profile.timeDeltas[i] ?? 0) / 1000;
    total += dt;
    const f = node.callFrame;
    const name = f.functionName || `(${f.url ? f.url.split('/').pop() : 'anonymous'})`;
    const kind = f.url.startsWith('wasm://') ? 'wasm' : f.url ? 'js' : 'runtime';
    const key = `${kind}\t${name}`;
    self.set(key, (self.get(key) ?? 0) + dt);
  }
  return { self, total };
}

const mock = await startBenchMock({ deltas: 2000 });
const port = 9300 + Math.floor(Math.random() * 500);
const gw = await startGateway(mock.origin, bundle, { inspectorPort: port });
try {
  const key = await setUp(gw.url);
  const body = Buffer.from(bodyText(clientBodies()[source][size].body, MODELS[target], stream));
  const req = { path: CLIENT_PATH[source], headers: { authorization: `Bearer ${key}` }, body };
  await run(gw.url, req, { n: 50, maxMs: 1e9, concurrency }); // JIT warm-up
  const targets = await getJson(`http://127.0.0.1:${port}/json`);
  const core = targets.find((t) => /core:user/.test(t.id ?? t.title ?? '')) ?? targets[0];
  const ins = await inspector(core.webSocketDebuggerUrl);
  await ins.send('Profiler.enable');
  await ins.send('Profiler.setSamplingInterval', { interval: 50 });
  await ins.send('Profiler.start');
  const t0 = performance.now();
  const r = await run(gw.url, req, { n, minN: n, maxMs: 1e9, concurrency, warm: 0 });
  const wall = performance.now() - t0;
  const { profile } = await ins.send('Profiler.stop');
  ins.close();
  const { self, total } = selfTimes(profile);
  const IDLE = 'runtime\t(idle)';
  const busy = total - (self.get(IDLE) ?? 0);
  const overhead = (self.get('runtime\t(program)') ?? 0) + (self.get('runtime\t(garbage collector)') ?? 0);
  const kinds = {};
  for (const [k, v] of self) if (k !== IDLE) kinds[k.split('\t')[0]] = (kinds[k.split('\t')[0]] ?? 0) + v;
  console.log(`${source}→${target} ${size} ${stream ? 'stream' : 'json'}, ${n} requests at concurrency ${concurrency}, ${(wall / n).toFixed(2)} ms each (wall), ${r.errors ?? 0} errors`);
  console.log(`sampled in the isolate: ${(busy / n).toFixed(3)} ms per request busy (of which (program)/(gc) ${(overhead / n).toFixed(3)} ms)`);
  console.log(`by kind, ms per request: ${Object.entries(kinds).map(([k, v]) => `${k} ${(v / n).toFixed(3)}`).join(', ')}`);
  console.log('\n   ms/req   share  kind  function');
  for (const [k, v] of [...self].filter(([k]) => k !== IDLE).sort((a, b) => b[1] - a[1]).slice(0, top)) {
    const [kind, name] = k.split('\t');
    console.log(`${(v / n).toFixed(4).padStart(9)}  ${((100 * v) / busy).toFixed(1).padStart(5)}%  ${kind.padEnd(7)} ${name.slice(0, 140)}`);
  }
} finally {
  await gw.mf.dispose();
  await mock.close?.();
  process.exit(0);
}

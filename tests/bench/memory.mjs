// Memory per in-flight request: how much the workerd process grows when 16 requests with a
// 1 MB body are in flight instead of one, gateway against the relay floor.
//
//   node tests/bench/memory.mjs [--size 1m] [--n 64] [--bundle DIR]
//
// Serves the release bundle (build/) and the relay under the Miniflare API in front of the
// benchmark's mock, fresh for each case (wasm memory only grows, so an isolate that served
// one case would hold its peak into the next). For each case it warms the isolate up at
// concurrency 1, then samples the workerd process's resident memory (VmRSS, every 2 ms)
// while `n` requests run at concurrency 1 and then at 16: the peak at 16 minus the peak
// at 1, over 15, is what one more request in flight holds at its peak (body read, parsed,
// prepared, sent, answer relayed); the relay's figure is workerd's own.
import { readFileSync } from 'node:fs';
import { startBenchMock } from './mock.mjs';
import { startGateway, startRelay, setUp } from './miniflare.mjs';
import { run } from './load.mjs';
import { clientBodies, bodyText } from './inputs.mjs';
import { MODELS } from './answers.mjs';

const args = process.argv.slice(2);
const opt = (name, dflt) => (args.includes(`--${name}`) ? args[args.indexOf(`--${name}`) + 1] : dflt);
const size = opt('size', '1m');
const n = Number(opt('n', 64));
const bundle = opt('bundle', undefined);
const CLIENT_PATH = { messages: '/v1/messages', responses: '/v1/responses', chat: '/v1/chat/completions' };
const MB = 2 ** 20;

/** Resident memory of a process, bytes. */
const rss = (pid) => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))[1]) * 1024;

/** Peak resident memory while `work` runs. */
async function peakDuring(pid, work) {
  let peak = rss(pid);
  const timer = setInterval(() => (peak = Math.max(peak, rss(pid))), 2);
  try {
    await work();
  } finally {
    clearInterval(timer);
  }
  return Math.max(peak, rss(pid));
}

async function measure(url, pid, req) {
  await run(url, req, { n: 20, minN: 20, maxMs: 1e9, concurrency: 1, warm: 0 }); // JIT
  const base = rss(pid);
  const one = await peakDuring(pid, () => run(url, req, { n, minN: n, maxMs: 1e9, concurrency: 1, warm: 0 }));
  const many = await peakDuring(pid, () => run(url, req, { n, minN: n, maxMs: 1e9, concurrency: 16, warm: 0 }));
  return { base, one, many, perRequest: Math.max(0, many - one) / 15 };
}

const mock = await startBenchMock({ deltas: 2000 });
const fmt = (b) => (b / MB).toFixed(1);
try {
  const bodies = clientBodies();
  console.log(`memory, ${size} bodies, ${n} requests at concurrency 1 then 16, fresh workerd per case; MB of workerd RSS (base / peak at 1 / peak at 16) and MB per extra request in flight`);
  console.log('| path | mode | body MB | gateway base / c1 / c16 | gateway per request | relay per request |');
  console.log('| --- | --- | ---: | ---: | ---: | ---: |');
  for (const [source, target] of [['messages', 'messages'], ['responses', 'responses'], ['chat', 'chat'], ['messages', 'chat']]) {
    for (const stream of [false, true]) {
      const body = Buffer.from(bodyText(bodies[source][size].body, MODELS[target], stream));
      const gw = await startGateway(mock.origin, bundle);
      const key = await setUp(gw.url);
      const g = await measure(gw.url, gw.pid, { path: CLIENT_PATH[source], headers: { authorization: `Bearer ${key}` }, body });
      await gw.mf.dispose();
      const relay = await startRelay(mock.origin);
      const r = await measure(relay.url, relay.pid, { path: CLIENT_PATH[source], headers: {}, body });
      await relay.mf.dispose();
      const name = source === target ? `${source} native` : `${source}→${target}`;
      console.log(`| ${name} | ${stream ? 'stream' : 'json'} | ${fmt(body.length)} | ${fmt(g.base)} / ${fmt(g.one)} / ${fmt(g.many)} | ${fmt(g.perRequest)} | ${fmt(r.perRequest)} |`);
    }
  }
} finally {
  await mock.close?.();
  process.exit(0);
}

// `npm run bench`: what the gateway costs. See the README's Performance section.
//
//   npm run bench [-- --quick] [--no-build] [--only e2e,stream,translate,size,dev] [--out DIR]
//                 [--bundle DIR]   (measure another build/, e.g. an older commit's, instead of building)
//
// 1. builds the release bundle (sh .ci/build-worker) and serves a copy of it with the
//    Miniflare API (local D1 migrated, KV), next to the relay floor (relay.js) under the
//    same Miniflare, in front of a zero-latency mock upstream on 127.0.0.1 (mock.mjs);
// 2. whole requests on all nine paths × four body sizes, JSON and stream, at concurrency 1
//    and 16, against the relay and direct-to-mock, with workerd CPU time per request;
// 3. 20,000-delta streams end to end; 4. the translator bench natively and in wasm;
// 5. bundle size; 6. time until `npm run dev` answers.
// Writes tests/bench/results/results.json and results.md (committed: the latest figures).
import { execFileSync, spawn } from 'node:child_process';
import { cpSync, mkdirSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import os from 'node:os';
import net from 'node:net';
import path from 'node:path';
import { startBenchMock, CATALOG } from './mock.mjs';
import { startGateway, startRelay, setUp, cpuSeconds } from './miniflare.mjs';
import { run, once, agentFor, percentile } from './load.mjs';
import { clientBodies, bodyText } from './inputs.mjs';
import { answer, MODELS } from './answers.mjs';
import { renderMarkdown, renderReadme } from './report.mjs';

const root = path.resolve(import.meta.dirname, '../..');
const args = process.argv.slice(2);
const flag = (name) => args.includes(name);
const opt = (name, dflt) => (args.includes(name) ? args[args.indexOf(name) + 1] : dflt);
const QUICK = flag('--quick');
const ONLY = new Set(opt('--only', 'e2e,stream,translate,size,dev').split(','));
const OUT = path.resolve(root, opt('--out', 'tests/bench/results'));
const WORK = path.join(root, 'target/bench');
const APIS = ['messages', 'responses', 'chat'];
const CLIENT_PATH = { messages: '/v1/messages', responses: '/v1/responses', chat: '/v1/chat/completions' };
const MOCK_PATH = { messages: '/copilot/v1/messages', responses: '/copilot/responses', chat: '/copilot/chat/completions' };
const SIZES = ['small', 'agent', '500k', '1m'];
const DELTAS = 2000;
const STREAM_DELTAS = 20_000;

const t0 = Date.now();
const log = (...a) => console.error(`[bench ${((Date.now() - t0) / 1000).toFixed(0).padStart(4)}s]`, ...a);
const sh = (cmd, a, o = {}) => execFileSync(cmd, a, { cwd: root, encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], ...o });
const round = (x, d = 2) => (Number.isFinite(x) ? Number(x.toFixed(d)) : null);

function machine() {
  const v = (cmd, a) => {
    try {
      return sh(cmd, a, { stdio: ['ignore', 'pipe', 'ignore'] }).trim();
    } catch {
      return null;
    }
  };
  const pkg = (p) => JSON.parse(readFileSync(path.join(root, 'node_modules', p, 'package.json'), 'utf8')).version;
  return {
    cpu: os.cpus()[0]?.model ?? 'unknown',
    cores: os.cpus().length,
    memory_gib: round(os.totalmem() / 2 ** 30, 1),
    os: `${os.type()} ${os.release()}`,
    node: process.version,
    rustc: v('rustc', ['--version']),
    miniflare: pkg('miniflare'),
    workerd: pkg('@cloudflare/workerd-linux-64'),
    wrangler: pkg('wrangler'),
    commit: v('git', ['rev-parse', '--short', 'HEAD']),
    dirty: (v('git', ['status', '--porcelain', '--', 'src', 'Cargo.toml', 'Cargo.lock']) ?? '') !== '',
    date: new Date().toISOString(),
    loadavg: os.loadavg(),
    quick: QUICK,
  };
}

// ------------------------------------------------------------------ build + inputs

function build() {
  const given = opt('--bundle', null);
  if (!flag('--no-build') && !given) {
    log('building the release bundle (sh .ci/setup && sh .ci/build-worker)');
    sh('sh', ['.ci/setup'], { stdio: ['ignore', 'inherit', 'inherit'] });
    sh('sh', ['.ci/build-worker'], { stdio: ['ignore', 'inherit', 'inherit'], env: { ...process.env, SKIP_WORKER_BUILD: '0', WORKER_NO_OPT: '0' } });
  }
  // A copy, so the `npm run dev` step (which rebuilds build/ without wasm-opt) cannot change it.
  const bundle = path.join(WORK, 'bundle');
  rmSync(bundle, { recursive: true, force: true });
  cpSync(given ? path.resolve(root, given) : path.join(root, 'build'), bundle, { recursive: true });
  return bundle;
}

function writeInputs(bodies) {
  const dir = path.join(WORK, 'inputs');
  mkdirSync(path.join(dir, 'requests'), { recursive: true });
  mkdirSync(path.join(dir, 'streams'), { recursive: true });
  writeFileSync(path.join(dir, 'catalog.json'), JSON.stringify(CATALOG));
  for (const api of APIS) {
    for (const size of SIZES) writeFileSync(path.join(dir, 'requests', `${api}-${size}.json`), bodyText(bodies[api][size].body, '__MODEL__', true));
    writeFileSync(path.join(dir, 'streams', `${api}.sse`), answer(api, STREAM_DELTAS).frames.join(''));
  }
  return dir;
}

// ------------------------------------------------------------------ translator bench

function translatorBench(inputs) {
  const extra = QUICK ? ['--quick'] : [];
  log('translator bench, native (cargo bench --bench translate)');
  const native = JSON.parse(sh('cargo', ['bench', '--quiet', '--bench', 'translate', '--', inputs, ...extra]));
  log('translator bench, wasm32-wasip1 under node (V8)');
  if (!sh('rustup', ['target', 'list', '--installed']).split('\n').includes('wasm32-wasip1')) {
    sh('rustup', ['target', 'add', 'wasm32-wasip1'], { stdio: ['ignore', 'inherit', 'inherit'] });
  }
  const msgs = sh('cargo', ['build', '--release', '--target', 'wasm32-wasip1', '--bench', 'translate', '--message-format=json']);
  const wasmPath = msgs
    .split('\n')
    .map((l) => {
      try {
        return JSON.parse(l).executable;
      } catch {
        return null;
      }
    })
    .filter(Boolean)
    .pop();
  const wasm = JSON.parse(
    sh(process.execPath, ['--no-warnings', path.join(import.meta.dirname, 'wasi.mjs'), wasmPath, inputs, ...extra]),
  );
  return { native, wasm };
}

// ------------------------------------------------------------------ end to end

async function endToEnd(bundle, bodies, results) {
  const mock = await startBenchMock({ deltas: DELTAS });
  const gw = await startGateway(mock.origin, bundle);
  const relay = await startRelay(mock.origin);
  const key = await setUp(gw.url);
  log(`gateway ${gw.url} (workerd pid ${gw.pid}), relay ${relay.url} (pid ${relay.pid}), mock ${mock.origin}`);
  const auth = { authorization: `Bearer ${key}` };
  const budget = QUICK ? { 1: { n: 60, maxMs: 400 }, 16: { n: 200, maxMs: 500 } } : { 1: { n: 200, maxMs: 1500 }, 16: { n: 800, maxMs: 2000 } };

  /** One measurement; at concurrency 1 also the workerd CPU time per request. */
  async function measure(server, req, concurrency) {
    let cpu0 = 0;
    const pid = server === 'gateway' ? gw.pid : server === 'relay' ? relay.pid : null;
    const r = await run(req.url, req, {
      concurrency,
      ...budget[concurrency],
      warm: concurrency === 1 ? 5 : 16,
      onStart: () => (cpu0 = pid ? cpuSeconds(pid) : 0),
      onEnd: (n) => (cpu0 = pid ? ((cpuSeconds(pid) - cpu0) * 1000) / n : null),
    });
    if (r.errors) throw new Error(`${server} ${req.path}: ${r.errors} errors`);
    return { ...r, cpu_ms: concurrency === 1 ? cpu0 : null };
  }

  /** Checks one answer: complete, in the client's format. */
  function check(api, stream, text, what) {
    const ok = stream
      ? { messages: /event: message_stop/, responses: /event: response\.completed/, chat: /data: \[DONE\]/ }[api].test(text) &&
        !/event: error|"error":\{/.test(text)
      : (() => {
          const j = JSON.parse(text);
          return api === 'messages' ? j.type === 'message' && j.content.length >= 2 : api === 'responses' ? j.status === 'completed' : j.choices?.[0]?.message;
        })();
    if (!ok) throw new Error(`${what}: unexpected answer: ${text.slice(0, 400)}`);
  }

  for (const size of SIZES) {
    for (const source of APIS) {
      const b = bodies[source][size];
      for (const stream of [false, true]) {
        const mode = stream ? 'stream' : 'json';
        const floorBody = Buffer.from(bodyText(b.body, MODELS[source], stream));
        const direct = { url: mock.origin, path: MOCK_PATH[source], headers: auth, body: floorBody };
        const viaRelay = { url: relay.url, path: CLIENT_PATH[source], headers: auth, body: floorBody };
        check(source, stream, (await once(relay.url, { ...viaRelay, keepText: true })).text, `relay ${source}`);
        for (const concurrency of [1, 16]) {
          const floor = {
            direct: await measure('direct', direct, concurrency),
            relay: await measure('relay', viaRelay, concurrency),
          };
          for (const target of APIS) {
            const body = Buffer.from(bodyText(b.body, MODELS[target], stream));
            const req = { url: gw.url, path: CLIENT_PATH[source], headers: auth, body };
            if (concurrency === 1) {
              mock.resetStats();
              check(source, stream, (await once(gw.url, { ...req, keepText: true })).text, `gateway ${source}→${target} ${size} ${mode}`);
              const hit = mock.stats.requests[`POST ${MOCK_PATH[target]}`];
              if (hit !== 1) throw new Error(`${source}→${target}: expected one upstream call to ${MOCK_PATH[target]}, saw ${JSON.stringify(mock.stats.requests)}`);
            }
            const g = await measure('gateway', req, concurrency);
            results.e2e.push({
              source, target, size, mode, concurrency, bytes: body.length, from: b.from,
              gateway: g, relay: floor.relay, direct: floor.direct,
            });
            log(
              `${source}→${target} ${size} ${mode} c${concurrency}: gateway p50 ${g.p50.toFixed(2)} ms ttfb ${g.ttfb50.toFixed(2)} ${g.rps.toFixed(0)} req/s` +
                ` | relay p50 ${floor.relay.p50.toFixed(2)} ttfb ${floor.relay.ttfb50.toFixed(2)} ${floor.relay.rps.toFixed(0)} req/s` +
                (concurrency === 1 ? ` | cpu ${g.cpu_ms.toFixed(2)} vs ${floor.relay.cpu_ms.toFixed(2)} ms` : ''),
            );
          }
        }
      }
    }
  }
  // Time to first byte, native against translated, request by request in turn (the
  // three paths of a client API rotated each round), so the machine's changing load falls
  // on all of them alike; the separate runs above drift by more than the 10 % compared.
  const rounds = QUICK ? 60 : 200;
  const agent = agentFor(1);
  for (const size of SIZES) {
    for (const source of APIS) {
      const paths = APIS.map((target) => ({
        target,
        req: { path: CLIENT_PATH[source], headers: auth, agent, body: Buffer.from(bodyText(bodies[source][size].body, MODELS[target], true)) },
      }));
      const ttfb = Object.fromEntries(APIS.map((t) => [t, []]));
      for (let i = 0; i < 5; i++) for (const { req } of paths) await once(gw.url, req);
      for (let i = 0; i < rounds; i++) {
        for (let j = 0; j < paths.length; j++) {
          const { target, req } = paths[(i + j) % paths.length];
          const r = await once(gw.url, req);
          if (r.status !== 200) throw new Error(`${source}→${target} ${size}: ${r.status}`);
          ttfb[target].push(r.ttfb);
        }
      }
      const p50 = Object.fromEntries(APIS.map((t) => [t, percentile(ttfb[t].sort((a, b) => a - b), 50)]));
      results.ttfb.push({ source, size, n: rounds, p50 });
      log(`ttfb ${source} ${size}, interleaved: ${APIS.map((t) => `${t} ${p50[t].toFixed(2)}`).join(', ')} ms`);
    }
  }
  agent.destroy();
  await gw.mf.dispose();
  await relay.mf.dispose();
  await mock.close();
}

async function streamThroughput(bundle, bodies, results) {
  const mock = await startBenchMock({ deltas: STREAM_DELTAS });
  const gw = await startGateway(mock.origin, bundle);
  const relay = await startRelay(mock.origin);
  const key = await setUp(gw.url);
  const auth = { authorization: `Bearer ${key}` };
  const n = QUICK ? 3 : 8;
  const one = async (server, url, p, body, pid) => {
    const agent = agentFor(1);
    const req = { path: p, headers: auth, body, agent };
    await once(url, req); // warm-up
    const cpu0 = pid ? cpuSeconds(pid) : 0;
    const runs = [];
    for (let i = 0; i < n; i++) runs.push(await once(url, req));
    const cpu = pid ? ((cpuSeconds(pid) - cpu0) * 1000) / n : null;
    agent.destroy();
    runs.sort((a, b) => a.total - b.total);
    const med = runs[Math.floor(runs.length / 2)];
    return {
      ms: round(med.total), ttfb_ms: round(med.ttfb), client_bytes: med.bytes,
      mb_per_s: round(med.bytes / med.total / 1000, 1), deltas_per_s: Math.round(STREAM_DELTAS / (med.total / 1000)), cpu_ms: round(cpu),
    };
  };
  for (const source of APIS) {
    const floorBody = Buffer.from(bodyText(bodies[source].small.body, MODELS[source], true));
    const floor = {
      direct: await one('direct', mock.origin, MOCK_PATH[source], floorBody, null),
      relay: await one('relay', relay.url, CLIENT_PATH[source], floorBody, relay.pid),
    };
    for (const target of APIS) {
      const body = Buffer.from(bodyText(bodies[source].small.body, MODELS[target], true));
      const g = await one('gateway', gw.url, CLIENT_PATH[source], body, gw.pid);
      results.stream.push({ source, target, deltas: STREAM_DELTAS, gateway: g, ...floor });
      log(`20k stream ${source}→${target}: ${g.ms} ms, ${g.mb_per_s} MB/s, cpu ${g.cpu_ms} ms | relay ${floor.relay.ms} ms ${floor.relay.mb_per_s} MB/s`);
    }
  }
  await gw.mf.dispose();
  await relay.mf.dispose();
  await mock.close();
}

// ------------------------------------------------------------------ size, dev start

function size(bundle) {
  const wasm = readFileSync(path.join(bundle, 'index_bg.wasm'));
  const js = readFileSync(path.join(bundle, 'index.js'));
  return { wasm_bytes: wasm.length, wasm_gzip_bytes: gzipSync(wasm, { level: 9 }).length, js_bytes: js.length, js_gzip_bytes: gzipSync(js, { level: 9 }).length };
}

function freePort() {
  return new Promise((resolve) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

/** Seconds from `npm run dev` to the first HTTP answer (everything already installed and built once). */
async function devStart(bundle) {
  const port = await freePort();
  const started = Date.now();
  const child = spawn('npm', ['run', 'dev', '--', '--port', String(port)], {
    cwd: root, detached: true, stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, WRANGLER_SEND_METRICS: 'false', CLOUDFLARE_CF_FETCH_ENABLED: 'false', CI: '1' },
  });
  let out = '';
  child.stdout.on('data', (d) => (out += d));
  child.stderr.on('data', (d) => (out += d));
  try {
    for (;;) {
      if (child.exitCode !== null) throw new Error(`npm run dev exited:\n${out}`);
      if (Date.now() - started > 180_000) throw new Error(`npm run dev did not answer in 180 s:\n${out}`);
      try {
        const r = await fetch(`http://127.0.0.1:${port}/v1/models`);
        await r.arrayBuffer();
        return round((Date.now() - started) / 1000, 1);
      } catch {}
      await new Promise((r) => setTimeout(r, 100));
    }
  } finally {
    try {
      process.kill(-child.pid, 'SIGTERM');
    } catch {}
    await new Promise((r) => (child.exitCode !== null ? r() : child.once('exit', r)));
    // `npm run dev` rebuilt build/ without wasm-opt: put the release bundle back.
    cpSync(bundle, path.join(root, 'build'), { recursive: true });
  }
}

// ------------------------------------------------------------------ main

const results = { machine: machine(), e2e: [], ttfb: [], stream: [], translate: null, size: null, dev_start_s: null, deltas: DELTAS };
const bundle = build();
const bodies = clientBodies();
results.inputs = Object.fromEntries(APIS.map((a) => [a, Object.fromEntries(SIZES.map((s) => [s, { from: bodies[a][s].from, bytes: JSON.stringify(bodies[a][s].body).length }]))]));
if (ONLY.has('size')) results.size = size(bundle);
if (ONLY.has('translate')) results.translate = translatorBench(writeInputs(bodies));
if (ONLY.has('e2e')) await endToEnd(bundle, bodies, results);
if (ONLY.has('stream')) await streamThroughput(bundle, bodies, results);
if (ONLY.has('dev')) {
  log('time until `npm run dev` answers');
  results.dev_start_s = await devStart(bundle);
}
results.duration_s = Math.round((Date.now() - t0) / 1000);
results.machine.loadavg_end = os.loadavg();
mkdirSync(OUT, { recursive: true });
writeFileSync(path.join(OUT, 'results.json'), `${JSON.stringify(results, null, 1)}\n`);
const md = renderMarkdown(results);
writeFileSync(path.join(OUT, 'results.md'), md);
process.stdout.write(md);
// A full run into bench/ also refreshes the README's Performance section (between markers).
if (!QUICK && ONLY.size === 5 && OUT === path.join(root, 'tests/bench/results')) {
  const readme = path.join(root, 'README.md');
  const text = readFileSync(readme, 'utf8');
  const start = '<!-- bench:start -->';
  const end = '<!-- bench:end -->';
  if (text.includes(start) && text.includes(end)) {
    const before = text.slice(0, text.indexOf(start) + start.length);
    const after = text.slice(text.indexOf(end));
    writeFileSync(readme, `${before}\n${renderReadme(results)}${after}`);
    log('README.md Performance section updated');
  }
}
log(`done in ${results.duration_s} s: ${path.relative(root, OUT)}/results.md and results.json`);
process.exit(0);

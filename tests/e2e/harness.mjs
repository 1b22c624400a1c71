// Starts the real gateway under `wrangler dev` (local D1/KV in a throwaway dir) in front
// of the mock GitHub/Copilot upstream, and records every response it gives so a suite
// can check that no upstream secret ever leaks.
import { spawn, execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import net from "node:net";
import path from "node:path";
import { Agent, setGlobalDispatcher } from "undici";
import { startMock } from "../mock/upstream.mjs";

// No keep-alive between the tests and the gateway. A test often holds the event loop in a
// synchronous `wrangler d1 execute` for seconds; an idle pooled socket the server closed
// meanwhile (or closes just as the next request goes out) fails that request with
// "fetch failed (UND_ERR_SOCKET)". A fresh local connection per request costs ~0.1 ms.
setGlobalDispatcher(new Agent({ pipelining: 0 }));

const root = path.resolve(import.meta.dirname, "../..");
const wrangler = path.join(root, "node_modules/.bin/wrangler");
export const ADMIN_KEY = "e2e-admin-key-0123456789abcdef";

const env = {
  ...process.env,
  WRANGLER_SEND_METRICS: "false",
  CLOUDFLARE_CF_FETCH_ENABLED: "false",
  SKIP_WORKER_BUILD: "1", // `npm test` builds once before the suites
  CI: "1",
};

function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer().listen(0, "127.0.0.1", () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
    s.on("error", reject);
  });
}

/**
 * @param {{ vars?: Record<string,string>, adminKey?: string|null, tokenKey?: string|null, copilotBaseOverride?: boolean,
 *   schema?: "migrated" | "empty" | ((sql: (text: string) => any[]) => void) }} opts
 *   schema: the local D1 the Worker starts on: migrated with wrangler (the default), empty
 *   (the Worker brings its own schema), or prepared by a function given a SQL runner.
 */
export async function startGateway(opts = {}) {
  const mock = await startMock();
  const state = mkdtempSync(path.join(tmpdir(), "cgw-e2e-"));
  try {
    return await start(opts, mock, state);
  } catch (e) {
    // Nothing may outlive a failed start: an open mock server would keep the test
    // process (and CI) waiting forever.
    await mock.close();
    rmSync(state, { recursive: true, force: true });
    throw e;
  }
}

/** Runs SQL on a local D1 state directory (as `wrangler d1 execute` does) and returns the rows. */
export function localSql(state, sql) {
  // Text that starts like a flag (a migration's `-- comment`) goes through a file.
  let source = ["--command", sql];
  if (sql.trimStart().startsWith("-")) {
    const file = path.join(state, `sql-${process.hrtime.bigint()}.sql`);
    writeFileSync(file, sql);
    source = ["--file", file];
  }
  const out = execFileSync(wrangler, ["d1", "execute", "DB", "--local", "--persist-to", state, "--json", ...source], { cwd: root, env, stdio: "pipe" });
  return JSON.parse(out.toString()).flatMap((r) => r.results ?? []);
}

/** Applies the D1 migrations; once more if workerd's local D1 fails transiently under load. */
function migrate(state) {
  const args = ["d1", "migrations", "apply", "DB", "--local", "--persist-to", state];
  try {
    execFileSync(wrangler, args, { cwd: root, env, stdio: "pipe" });
  } catch {
    execFileSync(wrangler, args, { cwd: root, env, stdio: "pipe" });
  }
}

export const TOKEN_ENCRYPTION_KEY = "e2e-token-encryption-key-0123456789";

async function start(opts, mock, state) {
  if (!existsSync(path.join(root, "build/index.js"))) {
    execFileSync("sh", [".ci/build-worker"], { cwd: root, stdio: "inherit", env: { ...env, SKIP_WORKER_BUILD: "0" } });
  }
  const schema = opts.schema ?? "migrated";
  if (schema === "migrated") migrate(state);
  else if (typeof schema === "function") schema((sql) => localSql(state, sql));
  let adminKey = opts.adminKey === undefined ? ADMIN_KEY : opts.adminKey;
  let tokenKey = opts.tokenKey === undefined ? TOKEN_ENCRYPTION_KEY : opts.tokenKey;
  const varsFor = (adminKey, tokenKey, extra) => ({
    GITHUB_BASE_URL: mock.githubBaseUrl,
    GITHUB_API_BASE_URL: mock.githubApiBaseUrl,
    ...(opts.copilotBaseOverride === false ? {} : { COPILOT_API_BASE_URL: mock.copilotBaseUrl }),
    // Web-search providers (SearXNG's URL is an admin setting: mock.searxngUrl).
    TAVILY_BASE_URL: mock.tavilyBaseUrl,
    MICROSOFT_GROUNDING_BASE_URL: mock.groundingBaseUrl,
    BRAVE_SEARCH_BASE_URL: mock.braveBaseUrl,
    ...(adminKey === null ? {} : { ADMIN_KEY: adminKey }),
    ...(tokenKey === null ? {} : { TOKEN_ENCRYPTION_KEY: tokenKey }),
    ...extra,
  });
  // An explicit (empty) env file stops wrangler from reading the developer's .dev.vars.
  const envFile = path.join(state, "e2e.env");
  writeFileSync(envFile, "");

  let child, killGroup, base, log = "", earlierLogs = "";
  // Every ADMIN_KEY this gateway ran with, for the leak check.
  const adminKeys = new Set(adminKey ? [adminKey] : []);
  const tokenKeys = new Set(tokenKey ? [tokenKey] : []);

  async function launch(vars, preferredPort) {
    const t0 = Date.now();
    // A free port can be taken by another process between probing and binding; a start
    // that dies that way is retried once on fresh ports.
    for (let attempt = 1; ; attempt++) {
      const port = attempt === 1 && preferredPort ? preferredPort : await freePort();
      const inspector = await freePort();
      const args = [
        "dev", "--local", "--env-file", envFile,
        "--ip", "127.0.0.1", "--port", String(port), "--inspector-port", String(inspector), "--persist-to", state,
        "--log-level", "warn", "--show-interactive-dev-session=false",
        ...Object.entries(vars).flatMap(([k, v]) => ["--var", `${k}:${v}`]),
      ];
      log = "";
      child = spawn(wrangler, args, { cwd: root, env, detached: true, stdio: ["ignore", "pipe", "pipe"] });
      // Never leave wrangler/workerd behind, even if this process dies without stop().
      const group = child.pid;
      killGroup = () => { try { process.kill(-group, "SIGKILL"); } catch {} };
      process.once("exit", killGroup);
      child.stdout.on("data", (d) => (log += d));
      child.stderr.on("data", (d) => (log += d));
      base = `http://127.0.0.1:${port}`;
      let ready = false;
      for (;;) {
        if (child.exitCode !== null) break;
        if (Date.now() - t0 > 90_000) { killGroup(); throw new Error(`wrangler dev not ready in 90 s:\n${log}`); }
        try {
          // A route that needs no storage: the first real requests find the schema as set up.
          const r = await fetch(`${base}/v1/__ready`);
          await r.arrayBuffer();
          if (r.status === 404) { ready = true; break; }
        } catch {}
        await new Promise((r) => setTimeout(r, 100));
      }
      if (ready) return Date.now() - t0;
      killGroup();
      process.removeListener("exit", killGroup);
      if (attempt >= 2) throw new Error(`wrangler dev exited:\n${log}`);
    }
  }

  async function halt() {
    try { process.kill(-child.pid, "SIGTERM"); } catch {}
    await new Promise((r) => (child.exitCode !== null ? r() : child.once("exit", r)));
    process.removeListener("exit", killGroup);
    earlierLogs += log;
  }

  const startupMs = await launch(varsFor(adminKey, tokenKey, opts.vars));

  const recorded = [];
  /** fetch that records status, headers and full body text of every gateway response. */
  async function recordingFetch(input, init) {
    let res;
    try {
      res = await fetch(input, init);
    } catch (e) {
      // A dropped connection says nothing by itself: the gateway's log says why.
      e.message += ` (${e.cause?.code ?? e.cause?.message ?? "no cause"})\n--- gateway log (last 3000 chars) ---\n${(earlierLogs + log).slice(-3000)}`;
      throw e;
    }
    const copy = res.clone();
    const entry = {
      url: String(input instanceof Request ? input.url : input),
      method: (init?.method ?? (input instanceof Request ? input.method : "GET")).toUpperCase(),
      status: res.status,
      headers: [...res.headers],
      body: "",
    };
    recorded.push(entry);
    entry.done = copy.text().then((t) => { entry.body = t; }, () => {});
    return res;
  }

  const gw = {
    base, adminKey, mock, startupMs, recorded,
    log: () => earlierLogs + log,
    /**
     * Restarts the Worker on the same local D1/KV (and, if free, the same port), as a
     * redeploy with changed secrets would: `{ adminKey, tokenKey, vars }` replace the
     * first start's values where given.
     */
    async restart(change = {}) {
      await halt();
      if (change.adminKey !== undefined) adminKey = change.adminKey;
      if (adminKey) adminKeys.add(adminKey);
      if (change.tokenKey !== undefined) tokenKey = change.tokenKey;
      if (tokenKey) tokenKeys.add(tokenKey);
      await launch(varsFor(adminKey, tokenKey, { ...opts.vars, ...change.vars }), Number(new URL(base).port));
      gw.base = base;
      gw.adminKey = adminKey;
    },
    fetch: recordingFetch,
    /** Runs SQL on the gateway's local D1 (as `wrangler d1 execute` would) and returns the rows. */
    d1(sql) {
      return localSql(state, sql);
    },
    /** Admin API call with ADMIN_KEY; returns { status, body (parsed JSON or text), headers }. */
    async admin(method, p, body, key = adminKey) {
      const res = await recordingFetch(base + p, {
        method,
        headers: { authorization: `Bearer ${key}`, ...(body === undefined ? {} : { "content-type": "application/json" }) },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      const text = await res.text();
      let parsed = text;
      try { parsed = JSON.parse(text); } catch {}
      return { status: res.status, body: parsed, headers: res.headers };
    },
    /** Connects a GitHub account through the device flow, as the admin app does. */
    async connectAccount() {
      const start = await gw.admin("POST", "/api/github/device");
      if (start.status !== 200) throw new Error(`device flow: ${start.status} ${JSON.stringify(start.body)}`);
      for (let i = 0; i < 10; i++) {
        const poll = await gw.admin("POST", "/api/github/device/poll", { device_code: start.body.device_code });
        if (poll.body.status === "complete") return poll.body.account;
        if (poll.body.status === "error") throw new Error(`device flow failed: ${JSON.stringify(poll.body)}`);
      }
      throw new Error("device flow never completed");
    },
    async createKey(name = "e2e") {
      const r = await gw.admin("POST", "/api/keys", { name });
      if (r.status !== 201) throw new Error(`create key: ${r.status} ${JSON.stringify(r.body)}`);
      return r.body;
    },
    /** Every secret the mock issued, checked against everything the gateway said and logged. */
    /**
     * Every secret in play, checked against everything the gateway answered and logged: the
     * mock's GitHub and Copilot tokens and search-provider keys, ADMIN_KEY, and every API
     * key handed out.
     */
    async assertNoSecretsLeaked() {
      await Promise.all(recorded.map((e) => e.done));
      const secrets = await (await fetch(`${mock.origin}/__mock/secrets`)).json();
      const upstream = (Array.isArray(secrets) ? secrets : Object.values(secrets).flat()).filter((s) => typeof s === "string" && s.length >= 8);
      if (upstream.length === 0) throw new Error("the mock reported no secrets: the leak check would prove nothing");
      // API keys appear once, in the answer that created (or rotated) them.
      const apiKeys = new Set();
      for (const e of recorded) {
        for (const m of e.body.matchAll(/cgw_[0-9a-f]{48}/g)) apiKeys.add(m[0]);
      }
      const ours = [...adminKeys, ...tokenKeys, ...apiKeys];
      for (const e of recorded) {
        const path = new URL(e.url).pathname;
        const haystack = e.body + JSON.stringify(e.headers);
        // The one deliberate exception: the admin's export carries account tokens (marked
        // sensitive) so a deployment can be moved.
        if (path !== "/api/export") {
          for (const s of upstream) {
            if (haystack.includes(s)) throw new Error(`upstream secret leaked in response of ${e.url}: ${s.slice(0, 6)}…`);
          }
        }
        const showsNewKey = e.status < 300 && e.method === "POST" && (path === "/api/keys" || path.endsWith("/rotate"));
        for (const s of ours) {
          if (haystack.includes(s) && !(showsNewKey && apiKeys.has(s))) {
            throw new Error(`key leaked in response of ${e.url}: ${s.slice(0, 8)}…`);
          }
        }
      }
      for (const s of [...upstream, ...ours]) {
        if (gw.log().includes(s)) throw new Error(`secret leaked in the gateway log: ${s.slice(0, 6)}…`);
      }
      return { responses: recorded.length, secrets: upstream.length + ours.length };
    },
    /** A suite's end: the leak check over everything it did, then stop (whatever the check says). */
    async finish() {
      try {
        return await gw.assertNoSecretsLeaked();
      } finally {
        await gw.stop();
      }
    },
    async stop() {
      await halt();
      await mock.close();
      rmSync(state, { recursive: true, force: true });
    },
  };
  return gw;
}

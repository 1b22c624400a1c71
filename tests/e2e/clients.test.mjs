// The real clients, end to end: Claude Code (`claude -p`, and interactively for `/model`),
// Codex CLI (`codex exec`), opencode (`opencode run`), Gemini CLI (`gemini -p`, on the Gemini
// API) and the Vercel AI SDK (`generateText` / `streamText`), pinned in package.json (or, with CGW_CLIENTS_DIR, the releases that
// `npm run check-clients` installed), pointed at the gateway in front of the mock Copilot,
// each doing a task that takes one tool call. The prompt `MOCK_TOOL <path>` makes the mock
// answer with a call to the client's own file-writing tool (Claude Code's Write, Codex's
// exec_command, opencode's write, Gemini CLI's write_file, the AI SDK script's Write), the client runs it, and the
// mock answers the tool result with `Tool result: …`.
//
// Each run is offline and isolated: a temporary HOME / CODEX_HOME and working directory, a
// minimal environment (nothing of the developer's leaks in), telemetry, update checks and
// plugin syncing off, a 30 s limit, and every process it started killed afterwards. A small
// proxy between the agent and the gateway records what the agent asked the gateway, and its
// answers join the harness's secret-leak check.
import { describe, test, before, after, beforeEach, afterEach } from "node:test";
import assert from "node:assert/strict";
import { spawn, execFileSync } from "node:child_process";
import { mkdtempSync, mkdirSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync, existsSync } from "node:fs";
import { randomUUID } from "node:crypto";
import { tmpdir } from "node:os";
import http from "node:http";
import zlib from "node:zlib";
import path from "node:path";
import { startGateway } from "./harness.mjs";
import { MOCK_FILE_CONTENT } from "../mock/reply.mjs";

const root = path.resolve(import.meta.dirname, "../..");
// Where the clients are installed: this project, or (for `npm run check-clients`) a scratch
// directory holding their newest releases in its node_modules.
const clientsRoot = path.resolve(process.env.CGW_CLIENTS_DIR ?? root);
/** The Node the AI SDK needs (>= 22): the `node` package from npm, else this one. */
function newerNode() {
  for (const dir of [clientsRoot, root]) {
    const bin = path.join(dir, "node_modules/node/bin/node");
    if (existsSync(bin)) return bin;
  }
  return process.execPath;
}
const RUN_TIMEOUT_MS = 30_000;
const TEST_TIMEOUT = { timeout: 60_000 };

let gw, key, proxy;
const running = new Set(); // runs in flight, killed in after() if a test times out

before(async () => {
  gw = await startGateway();
  await gw.connectAccount();
  key = (await gw.createKey("agents")).key;
  proxy = await startRecordingProxy(gw);
});
after(async () => {
  for (const r of running) r.kill();
  await proxy?.close();
  if (!gw) return;
  try {
    assert.deepEqual(proxy?.problems ?? [], [], "every answer to the agents was readable for the leak check");
    await gw.assertNoSecretsLeaked();
  } finally {
    await gw.stop();
  }
});
// CGW_RECORD=<dir>: every request an agent made is written there in the format of
// tests/fixtures/ (credentials redacted, temporary paths as /home/user/...).
let recordN = 0;
afterEach(() => {
  const dir = process.env.CGW_RECORD;
  if (!dir) return;
  for (const e of proxy.seen.filter((e) => e.method === "POST")) {
    const url = new URL(e.url, "http://x");
    const headers = { ...e.headers };
    if (headers.authorization) headers.authorization = "Bearer <redacted>";
    if (headers["x-api-key"]) headers["x-api-key"] = "<redacted>";
    let body;
    try {
      body = JSON.parse(e.request.replace(/\/tmp\/cgw-[A-Za-z0-9_-]+\//g, "/home/user/"));
    } catch {
      body = e.request;
    }
    const fixture = { method: e.method, path: url.pathname, query: url.search.slice(1), headers, body };
    writeFileSync(path.join(dir, `${String(recordN++).padStart(2, "0")}${url.pathname.replaceAll("/", ".")}.json`), JSON.stringify(fixture, null, 1) + "\n");
  }
});
beforeEach(async () => {
  await fetch(`${gw.mock.origin}/__mock/requests`, { method: "DELETE" });
  proxy.seen.length = 0;
});

const mockRequests = async (p) => (await fetch(`${gw.mock.origin}/__mock/requests?path=${encodeURIComponent(p)}`)).json();

// ---------------------------------------------------------------------------------------
// Recording proxy: agent → proxy → gateway, streamed through untouched.

function startRecordingProxy(gw) {
  const target = new URL(gw.base);
  const seen = [];
  const problems = []; // answers the leak check could not read
  const server = http.createServer((req, res) => {
    const entry = { method: req.method, url: req.url, headers: req.headers, status: null, body: "", request: "" };
    seen.push(entry);
    const sent = [];
    req.on("data", (d) => sent.push(d));
    req.on("end", () => (entry.request = Buffer.concat(sent).toString()));
    // Joins the harness's record, so the leak check covers what the agents were told.
    const recorded = { url: gw.base + req.url, method: req.method, status: 0, headers: [], body: "" };
    gw.recorded.push(recorded);
    let done;
    recorded.done = new Promise((r) => (done = r));
    const up = http.request(
      { host: target.hostname, port: target.port, method: req.method, path: req.url, headers: req.headers },
      (r) => {
        entry.status = recorded.status = r.statusCode;
        recorded.headers = Object.entries(r.headers);
        res.writeHead(r.statusCode, r.headers);
        // Written through by hand, not piped: an agent may hang up once it has read the
        // terminal event, and a pipe would then stall the rest of the answer unread.
        const chunks = [];
        r.on("data", (d) => {
          chunks.push(d);
          if (!res.destroyed) res.write(d);
        });
        r.on("end", () => {
          try {
            entry.body = recorded.body = decode(Buffer.concat(chunks), r.headers["content-encoding"]);
          } catch (e) {
            problems.push(`${req.method} ${req.url}: ${e.message}`);
          } finally {
            done();
          }
          res.end();
        });
        r.on("error", () => { done(); res.destroy(); });
        r.on("close", done);
      },
    );
    up.on("error", (e) => {
      entry.status = recorded.status = 502;
      entry.body = String(e);
      done();
      res.destroy();
    });
    req.pipe(up);
  });
  return new Promise((resolve) => {
    server.listen(0, "127.0.0.1", () => {
      resolve({
        base: `http://127.0.0.1:${server.address().port}`,
        seen,
        problems,
        close: () => new Promise((r) => { server.closeAllConnections(); server.close(r); }),
      });
    });
  });
}

/** A response body as text; agents ask for compressed answers and wrangler obliges. */
function decode(buf, encoding = "identity") {
  if (buf.length === 0 || encoding === "identity") return buf.toString();
  if (encoding === "gzip") return zlib.gunzipSync(buf).toString();
  if (encoding === "br") return zlib.brotliDecompressSync(buf).toString();
  if (encoding === "deflate") return zlib.inflateSync(buf).toString();
  throw new Error(`cannot decode a ${encoding} answer`);
}

/** What the agent asked the gateway, one line each (for assertion messages). */
const clientLog = () =>
  proxy.seen.map((e) => `${e.method} ${e.url} → ${e.status}${e.status >= 400 ? ` ${e.body.slice(0, 400)}` : ""}`).join("\n");

// ---------------------------------------------------------------------------------------
// Running an agent.

/** Every process whose environment carries this run's marker (Linux /proc). */
function processesOf(marker) {
  const needle = `CGW_E2E_AGENT_RUN=${marker}`;
  const pids = [];
  for (const name of readdirSync("/proc")) {
    if (!/^\d+$/.test(name) || Number(name) === process.pid) continue;
    try {
      if (readFileSync(`/proc/${name}/environ`, "latin1").split("\0").includes(needle)) pids.push(Number(name));
    } catch {}
  }
  return pids;
}

/**
 * Runs a CLI in its own process group with a minimal environment; resolves when it exits
 * (or is killed at the deadline). Anything it left behind (found by an environment marker,
 * since shells may start their own sessions) is killed and reported as `leftovers`.
 */
function runAgent(cmd, args, { cwd, env, timeoutMs = RUN_TIMEOUT_MS }) {
  const marker = randomUUID();
  const t0 = Date.now();
  const child = spawn(cmd, args, {
    cwd,
    env: {
      PATH: process.env.PATH,
      LANG: "C.UTF-8",
      TERM: "dumb",
      NO_COLOR: "1",
      CGW_E2E_AGENT_RUN: marker,
      ...env,
    },
    detached: true,
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stdout = "", stderr = "", timedOut = false;
  child.stdout.on("data", (d) => (stdout += d));
  child.stderr.on("data", (d) => (stderr += d));
  const killAll = () => {
    try { process.kill(-child.pid, "SIGKILL"); } catch {}
    const left = processesOf(marker);
    for (const pid of left) try { process.kill(pid, "SIGKILL"); } catch {}
    return left;
  };
  const handle = { kill: killAll };
  running.add(handle);
  process.once("exit", killAll);
  const timer = setTimeout(() => { timedOut = true; killAll(); }, timeoutMs);
  return new Promise((resolve, reject) => {
    child.once("error", (e) => { clearTimeout(timer); running.delete(handle); reject(e); });
    child.once("close", (code, signal) => {
      clearTimeout(timer);
      const leftovers = killAll();
      running.delete(handle);
      process.removeListener("exit", killAll);
      resolve({ code, signal, stdout, stderr, timedOut, leftovers, ms: Date.now() - t0 });
    });
  });
}

function workspace(label) {
  const dir = mkdtempSync(path.join(tmpdir(), `cgw-${label}-`));
  const ws = { dir, home: path.join(dir, "home"), cwd: path.join(dir, "work") };
  mkdirSync(ws.home);
  mkdirSync(ws.cwd);
  ws.target = path.join(ws.cwd, "hello.txt");
  ws.cleanup = () => rmSync(dir, { recursive: true, force: true });
  return ws;
}

const isRoot = process.getuid?.() === 0;

/** `claude`: the native binary the postinstall put in place, else the package's own launcher. */
function claudeCommand() {
  const pkg = path.join(clientsRoot, "node_modules/@anthropic-ai/claude-code");
  const exe = path.join(pkg, "bin/claude.exe");
  // Without the postinstall (--ignore-scripts) bin/claude.exe is a 500-byte placeholder.
  if (statSync(exe).size > 1_000_000) return [exe, []];
  return [process.execPath, [path.join(pkg, "cli-wrapper.cjs")]];
}

/** Claude Code in print mode, as the README tells users to point it at the gateway. */
async function runClaude(model, ws, { prompt = `MOCK_TOOL ${ws.target}`, env = {} } = {}) {
  const [cmd, pre] = claudeCommand();
  return runAgent(cmd, [...pre, "-p", prompt, "--model", model, "--dangerously-skip-permissions"], {
    cwd: ws.cwd,
    env: {
      ...env,
      HOME: ws.home,
      ANTHROPIC_BASE_URL: proxy.base, // no /v1
      ANTHROPIC_AUTH_TOKEN: key,
      CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: "1",
      DISABLE_TELEMETRY: "1",
      DISABLE_AUTOUPDATER: "1",
      DISABLE_ERROR_REPORTING: "1",
      // As root, --dangerously-skip-permissions is refused outside a declared sandbox.
      ...(isRoot ? { IS_SANDBOX: "1" } : {}),
    },
  });
}

const codexBin = () => [process.execPath, [path.join(clientsRoot, "node_modules/@openai/codex/bin/codex.js")]];

/** Codex CLI's config.toml: the README's provider, plus everything that reaches outside hosts off. */
function codexConfig(model, extra = "") {
  return `model = "${model}"
model_provider = "copilot_gateway"
${extra}
[model_providers.copilot_gateway]
name = "Copilot Gateway"
base_url = "${proxy.base}/v1"
env_key = "COPILOT_GATEWAY_API_KEY"
wire_api = "responses"
# A failure must show, not be retried away.
request_max_retries = 0
stream_max_retries = 0

[analytics]
enabled = false

# Plugins sync from github.com and apps from chatgpt.com; neither is reachable or wanted.
[features]
plugins = false
apps = false
`;
}

/** `codex exec`, with a temporary CODEX_HOME holding `config`. */
async function runCodex(model, ws, { config = codexConfig(model), prompt = `MOCK_TOOL ${ws.target}` } = {}) {
  const codexHome = path.join(ws.dir, "codex");
  mkdirSync(codexHome, { recursive: true });
  writeFileSync(path.join(codexHome, "config.toml"), config);
  const [cmd, pre] = codexBin();
  return runAgent(cmd, [...pre, "exec", "--skip-git-repo-check", "--dangerously-bypass-approvals-and-sandbox", prompt], {
    cwd: ws.cwd,
    env: { HOME: ws.home, CODEX_HOME: codexHome, COPILOT_GATEWAY_API_KEY: key },
  });
}

const opencodeBin = () => path.join(clientsRoot, "node_modules/opencode-ai/bin/opencode.exe");

/**
 * opencode's config: one provider pointed at the gateway through the AI SDK package opencode
 * bundles for it (`@ai-sdk/anthropic` speaks Messages, `@ai-sdk/openai` Responses), as its
 * docs tell users to add a custom provider. Permissions allow everything (no prompts).
 */
function opencodeConfig(npm, model) {
  return {
    $schema: "https://opencode.ai/config.json",
    autoupdate: false,
    share: "disabled",
    permission: "allow",
    model: `gateway/${model}`,
    provider: {
      gateway: {
        npm,
        name: "Copilot Gateway",
        options: { baseURL: `${proxy.base}/v1`, apiKey: key },
        models: { [model]: { name: model, tool_call: true } },
      },
    },
  };
}

/** `opencode run`, offline: models.dev, plugins, LSP downloads and updates off. */
async function runOpencode(npm, model, ws, { prompt = `MOCK_TOOL ${ws.target}` } = {}) {
  return runAgent(opencodeBin(), ["run", "--model", `gateway/${model}`, prompt], {
    cwd: ws.cwd,
    env: {
      HOME: ws.home,
      XDG_CONFIG_HOME: path.join(ws.home, ".config"),
      XDG_DATA_HOME: path.join(ws.home, ".local/share"),
      XDG_CACHE_HOME: path.join(ws.home, ".cache"),
      XDG_STATE_HOME: path.join(ws.home, ".local/state"),
      OPENCODE_CONFIG_CONTENT: JSON.stringify(opencodeConfig(npm, model)),
      OPENCODE_DISABLE_MODELS_FETCH: "1",
      OPENCODE_DISABLE_DEFAULT_PLUGINS: "1",
      OPENCODE_DISABLE_AUTOUPDATE: "1",
      OPENCODE_DISABLE_LSP_DOWNLOAD: "1",
      OPENCODE_DISABLE_SHARE: "1",
      OPENCODE_DISABLE_CLAUDE_CODE: "1",
      OPENCODE_DISABLE_EXTERNAL_SKILLS: "1",
    },
  });
}

/**
 * Gemini CLI non-interactively (`gemini -p`), as the README tells users to point it at the
 * gateway: GEMINI_API_KEY, GOOGLE_GEMINI_BASE_URL (no /v1beta) and the API-key auth type.
 */
async function runGemini(model, ws, { prompt = `MOCK_TOOL ${ws.target}` } = {}) {
  mkdirSync(path.join(ws.home, ".gemini"));
  const settings = {
    security: { auth: { selectedType: "gemini-api-key" } },
    privacy: { usageStatisticsEnabled: false },
    general: { enableAutoUpdate: false, enableAutoUpdateNotification: false },
  };
  writeFileSync(path.join(ws.home, ".gemini/settings.json"), JSON.stringify(settings));
  const cli = path.join(clientsRoot, "node_modules/@google/gemini-cli/bundle/gemini.js");
  return runAgent(newerNode(), [cli, "-p", prompt, "-m", model, "--yolo"], {
    cwd: ws.cwd,
    env: { HOME: ws.home, GEMINI_API_KEY: key, GOOGLE_GEMINI_BASE_URL: proxy.base, GEMINI_CLI_TRUST_WORKSPACE: "true" },
  });
}

/** The AI SDK runner (tests/e2e/clients/ai-sdk.mjs) on the Node it needs. */
async function runAiSdk(provider, model, ws, { stream = false } = {}) {
  // Run from where the SDK is installed, so its imports resolve there.
  let script = path.join(import.meta.dirname, "clients/ai-sdk.mjs");
  if (clientsRoot !== root) {
    const copy = path.join(clientsRoot, "ai-sdk.mjs");
    writeFileSync(copy, readFileSync(script));
    script = copy;
  }
  // Both providers take the base URL with `/v1`.
  const c = { provider, model, baseURL: `${proxy.base}/v1`, apiKey: key, prompt: `MOCK_TOOL ${ws.target}`, stream };
  return runAgent(newerNode(), [script, JSON.stringify(c)], { cwd: ws.cwd, env: { HOME: ws.home } });
}

// ---------------------------------------------------------------------------------------
// Shared checks.

function describeRun(run) {
  return [
    `exit ${run.code}${run.signal ? ` (${run.signal})` : ""}${run.timedOut ? " after the timeout" : ""} in ${run.ms} ms`,
    `stdout:\n${run.stdout.slice(-2000)}`,
    `stderr:\n${run.stderr.slice(-3000)}`,
    `the agent asked the gateway:\n${clientLog()}`,
  ].join("\n");
}

/** The agent finished the task: exit 0, final text printed, the file written, nothing left running. */
function assertTaskDone(run, ws) {
  const why = describeRun(run);
  assert.equal(run.timedOut, false, `the agent did not finish in ${RUN_TIMEOUT_MS} ms\n${why}`);
  assert.equal(run.code, 0, `the agent failed\n${why}`);
  assert.match(run.stdout, /^Tool result: /m, `the mock's final answer is the agent's output\n${why}`);
  assert.ok(existsSync(ws.target), `the tool call did not create ${ws.target}\n${why}`);
  assert.equal(readFileSync(ws.target, "utf8"), MOCK_FILE_CONTENT);
  assert.deepEqual(run.leftovers, [], "the agent left processes running");
  const failed = proxy.seen.filter((e) => !(e.status >= 200 && e.status < 300));
  assert.deepEqual(failed, [], `every gateway answer was a success\n${clientLog()}`);
}

/** Claude Code spoke only Messages to the gateway, streaming, two turns. */
function assertClaudeTraffic() {
  const gen = proxy.seen.filter((e) => e.method === "POST");
  assert.deepEqual(
    gen.map((e) => `${e.method} ${e.url}`),
    ["POST /v1/messages?beta=true", "POST /v1/messages?beta=true"],
    clientLog(),
  );
  for (const e of gen) assert.equal(e.headers.authorization, `Bearer ${key}`);
  assert.match(gen[0].headers["anthropic-beta"] ?? "", /claude-code-20250219/);
}

/** Codex spoke only Responses to the gateway, two turns. */
function assertCodexTraffic() {
  const gen = proxy.seen.filter((e) => e.method === "POST");
  assert.deepEqual(gen.map((e) => `${e.method} ${e.url}`), ["POST /v1/responses", "POST /v1/responses"], clientLog());
  for (const e of gen) assert.equal(e.headers.authorization, `Bearer ${key}`);
}

/** Copilot's /v1/messages got the turn with Claude-style tools, then the tool_result turn. */
async function assertMessagesUpstream(toolName, model = "claude-sonnet-5") {
  // The task's turns (opencode also asks the model for a title, without tools).
  const sent = (await mockRequests("/copilot/v1/messages")).filter((s) => s.body.tools?.some((t) => t.name === toolName));
  assert.equal(sent.length, 2, `two turns reach Copilot's /v1/messages: ${sent.map((s) => s.status).join(", ")}`);
  const [first, second] = sent;
  assert.equal(first.model, model);
  assert.equal(first.body.stream, true);
  assert.ok(first.body.tools.some((t) => t.name === toolName), `${toolName} is offered`);
  assert.equal(first.reply.tool_call?.name, toolName);
  assert.equal(first.flags.x_initiator, "user");
  // Claude Code 2.1.33x may end a turn with a `system` message (Claude 4.8+ take them).
  const last = second.body.messages.findLast((m) => m.role !== "system");
  assert.equal(last.role, "user");
  const result = last.content.find((c) => c.type === "tool_result");
  assert.ok(result, `the second turn carries a tool_result: ${JSON.stringify(last).slice(0, 500)}`);
  assert.equal(result.tool_use_id, first.reply.tool_call.id);
  assert.equal(second.flags.x_initiator, "agent", "a tool-result turn is not billed as a user request");
  assert.match(second.reply.text, /^Tool result: /);
}

/** Copilot's /responses got the turn with function tools, then the function_call_output turn. */
async function assertResponsesUpstream(toolName, model = "gpt-5.1-codex", { stream = true } = {}) {
  const sent = (await mockRequests("/copilot/responses")).filter((s) => s.body.tools?.some((t) => t.name === toolName));
  assert.equal(sent.length, 2, `two turns reach Copilot's /responses: ${sent.map((s) => s.status).join(", ")}`);
  const [first, second] = sent;
  assert.equal(first.model, model);
  assert.equal(first.body.stream, stream);
  assert.ok(first.body.tools.some((t) => t.type === "function" && t.name === toolName), `${toolName} is offered`);
  assert.equal(first.reply.tool_call?.name, toolName);
  assert.equal(first.flags.x_initiator, "user");
  const input = second.body.input;
  const output = input.find((i) => i.type === "function_call_output");
  assert.ok(output, `the second turn carries a function_call_output: ${JSON.stringify(input.map((i) => i.type ?? i.role))}`);
  assert.equal(output.call_id, first.reply.tool_call.call_id);
  assert.ok(input.some((i) => i.type === "function_call" && i.call_id === output.call_id), "and the call it answers");
  assert.equal(second.flags.x_initiator, "agent", "a tool-result turn is not billed as a user request");
  assert.match(second.reply.text, /^Tool result: /);
}

async function inWorkspace(label, fn) {
  const ws = workspace(label);
  try {
    await fn(ws);
  } finally {
    ws.cleanup();
  }
}

// ---------------------------------------------------------------------------------------

describe("agents on their native API", () => {
  test("Claude Code on a Claude model: Write through /v1/messages", TEST_TIMEOUT, () =>
    inWorkspace("claude", async (ws) => {
      const run = await runClaude("claude-sonnet-5", ws);
      assertTaskDone(run, ws);
      assert.match(run.stdout, /^Tool result: File created successfully at: /m);
      assertClaudeTraffic();
      await assertMessagesUpstream("Write");
    }));

  test("Codex on a Responses-only model: exec_command through /responses", TEST_TIMEOUT, () =>
    inWorkspace("codex", async (ws) => {
      const run = await runCodex("gpt-5.1-codex", ws);
      assertTaskDone(run, ws);
      assert.match(run.stdout, /^Tool result: .*\n(.*\n)*Process exited with code 0/m);
      assertCodexTraffic();
      await assertResponsesUpstream("exec_command");
    }));
});

// Codex has no metadata for Copilot's model ids and falls back to a tool set without
// apply_patch. For the models it knows (its bundled catalog: gpt-5.5, …) it adds its
// freeform `apply_patch` tool, `{"type":"custom", "format":{"type":"grammar",…}}`, which
// Copilot's /responses rejects: the gateway must turn it into a function tool (and the
// call back into a custom_tool_call). Here gpt-5.1-codex gets such a model's metadata.
describe("agents on their native API, with the tools Codex gives the models it knows", () => {
  test("Codex with its freeform apply_patch tool on a Responses-only model", TEST_TIMEOUT, () =>
    inWorkspace("codex-patch", async (ws) => {
      const bundled = JSON.parse(
        execFileSync(codexBin()[0], [...codexBin()[1], "debug", "models", "--bundled"], {
          cwd: ws.cwd,
          env: { PATH: process.env.PATH, HOME: ws.home, CODEX_HOME: ws.home },
          stdio: ["ignore", "pipe", "pipe"],
          timeout: RUN_TIMEOUT_MS,
        }),
      );
      // gpt-5.5: a plain tool set (no code mode, no Responses-lite) with the freeform apply_patch.
      const known =
        bundled.models.find((m) => m.slug === "gpt-5.5") ??
        bundled.models.find((m) => m.apply_patch_tool_type === "freeform" && !m.tool_mode && !m.use_responses_lite);
      assert.ok(known, "Codex's bundled catalog has a model with the freeform apply_patch tool");
      const meta = {
        ...known,
        slug: "gpt-5.1-codex",
        display_name: "gpt-5.1-codex",
        upgrade: null,
        prefer_websockets: false,
        // Only apply_patch is under test here; the hosted tool_search tool is left out.
        supports_search_tool: false,
      };
      const catalog = path.join(ws.dir, "models.json");
      writeFileSync(catalog, JSON.stringify({ models: [meta] }));
      const run = await runCodex("gpt-5.1-codex", ws, {
        config: codexConfig("gpt-5.1-codex", `model_catalog_json = ${JSON.stringify(catalog)}\n`),
      });
      const [first] = await mockRequests("/copilot/responses");
      assert.ok(
        first?.body?.tools?.some((t) => t.name === "apply_patch"),
        `Codex offers apply_patch (else this case tests nothing)\n${describeRun(run)}`,
      );
      assertTaskDone(run, ws);
      assertCodexTraffic();
      await assertResponsesUpstream("exec_command");
      const patch = first.body.tools.find((t) => t.name === "apply_patch");
      assert.equal(patch.type, "function", "Copilot gets apply_patch as a function tool");
    }));
});

// These need the Messages↔Responses translators: until they are switched on, the gateway
// answers 400 "… cannot yet translate …" (unsupported_api_for_model).
describe("agents on a model served only by the other API (translated)", () => {
  test("Claude Code on gpt-5.1-codex: /v1/messages translated to Copilot's /responses", TEST_TIMEOUT, () =>
    inWorkspace("claude-tr", async (ws) => {
      const run = await runClaude("gpt-5.1-codex", ws);
      assertTaskDone(run, ws);
      assert.match(run.stdout, /^Tool result: File created successfully at: /m);
      assertClaudeTraffic();
      await assertResponsesUpstream("Write");
      assert.deepEqual(await mockRequests("/copilot/v1/messages"), []);
    }));

  test("Codex on claude-sonnet-5: /v1/responses translated to Copilot's /v1/messages", TEST_TIMEOUT, () =>
    inWorkspace("codex-tr", async (ws) => {
      const run = await runCodex("claude-sonnet-5", ws);
      assertTaskDone(run, ws);
      assertCodexTraffic();
      await assertMessagesUpstream("exec_command");
      assert.deepEqual(await mockRequests("/copilot/responses"), []);
    }));
});

// Web search: the agents' own search tools, with the gateway running the searches on the
// (mock) Tavily. `MOCK_SEARCH <query>` makes the mock model search.
describe("agents searching the web through the gateway", () => {
  const tavilyQueries = async () =>
    (await mockRequests("/search/tavily/search")).map((r) => r.body?.query);
  const useTavily = () =>
    gw.admin("PUT", "/api/search-config", { provider: "tavily", credentials: { tavily: gw.mock.state.searchKeys.tavily } });

  test("Claude Code's WebSearch: its search request runs on the gateway's provider", TEST_TIMEOUT, () =>
    inWorkspace("claude-search", async (ws) => {
      assert.equal((await useTavily()).status, 200);
      const run = await runClaude("claude-sonnet-5", ws, { prompt: "MOCK_SEARCH cloudflare workers limits" });
      const why = describeRun(run);
      assert.equal(run.code, 0, `the agent failed\n${why}`);
      assert.deepEqual(await tavilyQueries(), ["cloudflare workers limits"], `the provider got Claude Code's query\n${why}`);
      // WebSearch is a deferred tool: the model loaded it with ToolSearch (a tool_reference
      // in the tool result, on the native path), then called it; Claude Code's own search
      // request carried the server tool, which Copilot got as a function tool, and the
      // results came back to it.
      const sent = await mockRequests("/copilot/v1/messages");
      assert.equal(sent[0].reply.tool_call?.name, "ToolSearch", why);
      assert.ok(sent[0].body.tools.some((t) => t.name === "DeferredToolPlaceholder" && t.defer_loading), "deferred tools reach Copilot as sent");
      assert.equal(sent[1].reply.tool_call?.name, "WebSearch", why);
      assert.ok(JSON.stringify(sent[1].body.messages).includes('"type":"tool_reference"'), why);
      const search = sent.find((s) => s.body.tools?.some((t) => t.name === "web_search"));
      assert.ok(search, `Claude Code asked for a web search\n${why}`);
      assert.ok(!JSON.stringify(search.body.tools).includes("web_search_2025"), "the server tool never reaches Copilot");
      assert.ok(sent.some((s) => JSON.stringify(s.body).includes("docs.example.org/cloudflare-workers-limits/1")), "the results reached the model");
      assert.match(run.stdout, /^Tool result: /m, why);
      const failed = proxy.seen.filter((e) => !(e.status >= 200 && e.status < 300));
      assert.deepEqual(failed, [], `every gateway answer was a success\n${clientLog()}`);
    }));

  test("Codex's web_search: a web_search_call and an answer from one request", TEST_TIMEOUT, () =>
    inWorkspace("codex-search", async (ws) => {
      assert.equal((await useTavily()).status, 200);
      const run = await runCodex("gpt-5.1-codex", ws, {
        config: codexConfig("gpt-5.1-codex", 'web_search = "live"\n'),
        prompt: "MOCK_SEARCH cloudflare workers limits",
      });
      const why = describeRun(run);
      assert.equal(run.code, 0, `the agent failed\n${why}`);
      assert.deepEqual(await tavilyQueries(), ["cloudflare workers limits"], `the provider got Codex's query\n${why}`);
      const sent = await mockRequests("/copilot/responses");
      assert.equal(sent.length, 2, `the model searched, then answered\n${why}`);
      assert.ok(sent[0].body.tools.some((t) => t.type === "function" && t.name === "web_search"), "Copilot got a web_search function");
      assert.equal(sent[0].reply.tool_call?.name, "web_search");
      assert.ok(sent[1].body.input.some((i) => i.type === "function_call_output" && i.output.includes("docs.example.org")));
      assert.match(run.stdout, /^Tool result: /m, why);
      // One POST: the loop runs inside it.
      const posts = proxy.seen.filter((e) => e.method === "POST");
      assert.deepEqual(posts.map((e) => e.url), ["/v1/responses"], clientLog());
    }));
});

// ---------------------------------------------------------------------------------------
// Claude Code 2.1.33x: 1M context, and what it now sends, on every path.

describe("Claude Code's 1M context", () => {
  // Claude Code strips `[1m]` from the id it sends and sends no context-1m beta to a
  // gateway: the gateway offers `<id>[1m]` for models whose own id names a 1M window.
  test("discovers claude-opus-4.8-1m[1m] in /v1/models; a turn with it runs on Copilot's 1M model within its limits", TEST_TIMEOUT, () =>
    inWorkspace("claude-1m", async (ws) => {
      const run = await runClaude("claude-opus-4.8-1m[1m]", ws, { env: { CLAUDE_CODE_ENABLE_GATEWAY_MODEL_DISCOVERY: "1" } });
      assertTaskDone(run, ws);
      // Discovery: the gateway's list, as Claude Code cached it, offers the 1M variants.
      const cache = JSON.parse(readFileSync(path.join(ws.home, ".claude/cache/gateway-models.json"), "utf8"));
      const ids = cache.models.map((m) => m.id);
      for (const id of ["claude-opus-4.8", "claude-opus-4.8-1m", "claude-opus-4.8-1m[1m]", "claude-opus-5", "claude-opus-5[1m]"]) {
        assert.ok(ids.includes(id), `${id} in ${ids.join(", ")}`);
      }
      assert.ok(!ids.includes("claude-opus-4.8[1m]") && !ids.includes("claude-sonnet-5[1m]"), "no [1m] on a 200k model");
      assert.equal(cache.models.find((m) => m.id === "claude-opus-4.8-1m[1m]").display_name, "Claude Opus 4.8 (1M context)");
      // What Claude Code sent: the id without its tag.
      const posts = proxy.seen.filter((e) => e.method === "POST");
      assert.equal(JSON.parse(posts[0].request).model, "claude-opus-4.8-1m");
      // Copilot's 1M model served every turn, with max_tokens within its own limit.
      await assertMessagesUpstream("Write", "claude-opus-4.8-1m");
      for (const s of await mockRequests("/copilot/v1/messages")) {
        assert.doesNotMatch(s.flags.anthropic_beta ?? "", /context-1m/);
        assert.ok(s.body.max_tokens <= 64000, `max_tokens ${s.body.max_tokens} fits the 1M model's limit`);
      }
    }));

  test("the context-1m beta (older Claude Code, the Anthropic SDK) on a model with a -1m variant", TEST_TIMEOUT, async () => {
    const big = "x".repeat(800_000); // ~200k tokens: over claude-opus-4.8's 168k prompt limit
    const ask = (betas) =>
      fetch(`${proxy.base}/v1/messages`, {
        method: "POST",
        headers: { "content-type": "application/json", "x-api-key": key, "anthropic-version": "2023-06-01", ...(betas ? { "anthropic-beta": betas } : {}) },
        body: JSON.stringify({ model: "claude-opus-4-8", max_tokens: 64, messages: [{ role: "user", content: `hi ${big}` }] }),
      });
    const long = await ask("context-1m-2025-08-07");
    assert.equal(long.status, 200, await long.clone().text());
    assert.equal((await long.json()).model, "claude-opus-4.8-1m");
    const short = await ask(null);
    // Without it, claude-opus-4.8 and its own prompt limit.
    assert.equal(short.status, 400);
    assert.match((await short.json()).error.message, /exceeds the limit of 168000/);
  });
});

describe("Claude Code 2.1.33x requests on every path", () => {
  /** What Claude Code sent: adaptive thinking with `display`, deferred tools, system turns. */
  function assertNewFields() {
    const body = JSON.parse(proxy.seen.find((e) => e.method === "POST").request);
    assert.equal(body.thinking?.display, "omitted", JSON.stringify(body.thinking));
    assert.ok(body.tools.some((t) => t.defer_loading === true), "a deferred tool");
    assert.ok(body.messages.some((m) => m.role === "system"), "a system turn inside messages");
  }

  test("on gemini-3.6-flash: /v1/messages translated to Copilot's /chat/completions", TEST_TIMEOUT, () =>
    inWorkspace("claude-chat", async (ws) => {
      const run = await runClaude("gemini-3.6-flash", ws);
      assertTaskDone(run, ws);
      assertClaudeTraffic();
      assertNewFields();
      const sent = await mockRequests("/copilot/chat/completions");
      assert.equal(sent.length, 2, sent.map((s) => s.status).join(", "));
      assert.equal(sent[0].model, "gemini-3.6-flash");
      // Every tool offered in full (no deferred loading on Chat); system turns as system messages.
      assert.ok(sent[0].body.tools.some((t) => t.function.name === "DeferredToolPlaceholder"));
      assert.ok(!JSON.stringify(sent[0].body.tools).includes("defer_loading"));
      assert.ok(sent[0].body.messages.filter((m) => m.role === "system").length >= 2, "the system prompt and the system turn");
      assert.equal(sent[0].reply.tool_call?.name, "Write");
    }));

  test("on gpt-6-astra (catalog lists /responses and ws:/responses): translated to Copilot's HTTP /responses", TEST_TIMEOUT, () =>
    inWorkspace("claude-astra", async (ws) => {
      const run = await runClaude("gpt-6-astra", ws);
      assertTaskDone(run, ws);
      assertNewFields();
      await assertResponsesUpstream("Write", "gpt-6-astra");
      const [first] = await mockRequests("/copilot/responses");
      // display: "omitted" asks for no readable thinking: reasoning without a summary.
      assert.equal(first.body.reasoning?.summary, undefined, JSON.stringify(first.body.reasoning));
      assert.ok(first.body.input.some((i) => i.role === "developer"), "the system turn as a developer message");
      assert.ok(!JSON.stringify(first.body.tools).includes("defer_loading"));
    }));

  for (const model of ["claude-haiku-4.5", "claude-sonnet-4"]) {
    test(`on ${model} (natively, a Claude before 4.8: no system turns)`, TEST_TIMEOUT, () =>
      inWorkspace("claude-old", async (ws) => {
        const run = await runClaude(model, ws);
        assertTaskDone(run, ws);
        assertClaudeTraffic();
        await assertMessagesUpstream("Write", model);
      }));
  }
});

describe("Codex on a model listed with ws:/responses", () => {
  test("gpt-6-astra through Copilot's HTTP /responses", TEST_TIMEOUT, () =>
    inWorkspace("codex-astra", async (ws) => {
      // Codex 0.171 drives its bundled gpt-6 models in a code-only mode whose input items
      // (`additional_tools`) Copilot does not take; the plain tool set of gpt-5.5 is used.
      const bundled = JSON.parse(
        execFileSync(codexBin()[0], [...codexBin()[1], "debug", "models", "--bundled"], {
          cwd: ws.cwd,
          env: { PATH: process.env.PATH, HOME: ws.home, CODEX_HOME: ws.home },
          stdio: ["ignore", "pipe", "pipe"],
          timeout: RUN_TIMEOUT_MS,
        }),
      );
      const plain = bundled.models.find((m) => m.slug === "gpt-5.5") ?? bundled.models.find((m) => !m.tool_mode && !m.use_responses_lite);
      const catalog = path.join(ws.dir, "models.json");
      writeFileSync(catalog, JSON.stringify({ models: [{ ...plain, slug: "gpt-6-astra", display_name: "gpt-6-astra", upgrade: null, prefer_websockets: false, supports_search_tool: false }] }));
      const run = await runCodex("gpt-6-astra", ws, { config: codexConfig("gpt-6-astra", `model_catalog_json = ${JSON.stringify(catalog)}\n`) });
      assertTaskDone(run, ws);
      assertCodexTraffic();
      await assertResponsesUpstream("exec_command", "gpt-6-astra");
    }));
});

// ---------------------------------------------------------------------------------------
// opencode (`opencode run`) and the Vercel AI SDK (`generateText` with a tool).

describe("opencode", () => {
  /** opencode spoke one API to the gateway, twice (the turn and the tool result). */
  function assertOpencodeTraffic(url) {
    const gen = proxy.seen.filter((e) => e.method === "POST");
    assert.deepEqual([...new Set(gen.map((e) => e.url))], [url], clientLog());
    assert.ok(gen.length >= 2, clientLog());
  }

  test("with @ai-sdk/anthropic on claude-sonnet-5: native /v1/messages", TEST_TIMEOUT, () =>
    inWorkspace("opencode", async (ws) => {
      const run = await runOpencode("@ai-sdk/anthropic", "claude-sonnet-5", ws);
      assertTaskDone(run, ws);
      assertOpencodeTraffic("/v1/messages");
      await assertMessagesUpstream("write");
    }));

  test("with @ai-sdk/openai (Responses) on claude-sonnet-5: translated to Copilot's /v1/messages", TEST_TIMEOUT, () =>
    inWorkspace("opencode-tr", async (ws) => {
      const run = await runOpencode("@ai-sdk/openai", "claude-sonnet-5", ws);
      assertTaskDone(run, ws);
      assertOpencodeTraffic("/v1/responses");
      await assertMessagesUpstream("write");
      assert.deepEqual(await mockRequests("/copilot/responses"), []);
    }));
});

describe("Gemini CLI", () => {
  /** Gemini CLI spoke only the Gemini API, streaming with alt=sse, two turns, its key as x-goog-api-key. */
  function assertGeminiTraffic(model) {
    const gen = proxy.seen.filter((e) => e.method === "POST");
    const url = `/v1beta/models/${model}:streamGenerateContent?alt=sse`;
    assert.deepEqual(gen.map((e) => e.url), [url, url], clientLog());
    for (const e of gen) assert.equal(e.headers["x-goog-api-key"], key);
  }

  test("on claude-sonnet-5: write_file through the Gemini API, translated to Copilot's /v1/messages", TEST_TIMEOUT, () =>
    inWorkspace("gemini", async (ws) => {
      const run = await runGemini("claude-sonnet-5", ws);
      assertTaskDone(run, ws);
      assertGeminiTraffic("claude-sonnet-5");
      await assertMessagesUpstream("write_file");
    }));

  test("on gpt-5.1-codex: translated to Copilot's /responses", TEST_TIMEOUT, () =>
    inWorkspace("gemini-gpt", async (ws) => {
      const run = await runGemini("gpt-5.1-codex", ws);
      assertTaskDone(run, ws);
      assertGeminiTraffic("gpt-5.1-codex");
      await assertResponsesUpstream("write_file");
    }));

  test("on gemini-3.6-flash: translated to Copilot's /chat/completions", TEST_TIMEOUT, () =>
    inWorkspace("gemini-flash", async (ws) => {
      const run = await runGemini("gemini-3.6-flash", ws);
      assertTaskDone(run, ws);
      assertGeminiTraffic("gemini-3.6-flash");
      const sent = (await mockRequests("/copilot/chat/completions")).filter((s) => s.body.tools?.some((t) => t.function?.name === "write_file"));
      assert.equal(sent.length, 2, clientLog());
      assert.equal(sent[0].reply.tool_call?.name ?? sent[0].reply.tool_call?.function?.name, "write_file");
      assert.match(sent[1].reply.text, /^Tool result: /);
    }));
});

describe("Vercel AI SDK", () => {
  /** The tool ran, its result went back, and the model's answer to it is the text. */
  function assertToolRoundTrip(run, ws) {
    const why = describeRun(run);
    assert.equal(run.code, 0, why);
    const out = JSON.parse(run.stdout.trim().split("\n").at(-1));
    assert.equal(out.steps[0].toolCalls[0]?.toolName, "Write", why);
    assert.equal(out.steps[0].finishReason, "tool-calls");
    assert.match(out.text, /^Tool result: File created successfully at: /, why);
    assert.equal(readFileSync(ws.target, "utf8"), MOCK_FILE_CONTENT);
    const failed = proxy.seen.filter((e) => !(e.status >= 200 && e.status < 300));
    assert.deepEqual(failed, [], `every gateway answer was a success\n${clientLog()}`);
    return out;
  }

  test("@ai-sdk/anthropic on claude-sonnet-5: native /v1/messages, streaming", TEST_TIMEOUT, () =>
    inWorkspace("ai-sdk", async (ws) => {
      const run = await runAiSdk("anthropic", "claude-sonnet-5", ws, { stream: true });
      assertToolRoundTrip(run, ws);
      assert.deepEqual([...new Set(proxy.seen.map((e) => e.url))], ["/v1/messages"]);
      await assertMessagesUpstream("Write");
    }));

  test("@ai-sdk/openai (Responses) on claude-sonnet-5: translated to Copilot's /v1/messages", TEST_TIMEOUT, () =>
    inWorkspace("ai-sdk-tr", async (ws) => {
      const run = await runAiSdk("openai", "claude-sonnet-5", ws);
      assertToolRoundTrip(run, ws);
      assert.deepEqual([...new Set(proxy.seen.map((e) => e.url))], ["/v1/responses"]);
      await assertMessagesUpstream("Write");
    }));

  test("@ai-sdk/anthropic on gpt-5.1-codex: translated to Copilot's /responses", TEST_TIMEOUT, () =>
    inWorkspace("ai-sdk-tr2", async (ws) => {
      const run = await runAiSdk("anthropic", "gpt-5.1-codex", ws);
      assertToolRoundTrip(run, ws);
      await assertResponsesUpstream("Write", "gpt-5.1-codex");
    }));
});

// ---------------------------------------------------------------------------------------
// Claude Code's one-token model check, as a user triggers it: `/model <id>` in the
// interactive session (a pseudo-terminal from `script`), which sends `max_tokens: 1`.

describe("Claude Code's /model check", () => {
  /** Interactive Claude Code in a pseudo-terminal; `type` writes keys to it. */
  function interactiveClaude(model, ws) {
    const [cmd, pre] = claudeCommand();
    // Onboarding and the folder-trust dialog are already done.
    writeFileSync(
      path.join(ws.home, ".claude.json"),
      JSON.stringify({ hasCompletedOnboarding: true, theme: "dark", projects: { [ws.cwd]: { hasTrustDialogAccepted: true, hasCompletedProjectOnboarding: true } } }),
    );
    const line = [cmd, ...pre, "--model", model].map((a) => `'${a.replaceAll("'", "'\\''")}'`).join(" ");
    const marker = randomUUID();
    const child = spawn("script", ["-qfec", line, "/dev/null"], {
      cwd: ws.cwd,
      env: {
        PATH: process.env.PATH,
        LANG: "C.UTF-8",
        TERM: "xterm-256color",
        CGW_E2E_AGENT_RUN: marker,
        HOME: ws.home,
        ANTHROPIC_BASE_URL: proxy.base,
        ANTHROPIC_AUTH_TOKEN: key,
        CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: "1",
        DISABLE_TELEMETRY: "1",
        DISABLE_AUTOUPDATER: "1",
        DISABLE_ERROR_REPORTING: "1",
        ...(isRoot ? { IS_SANDBOX: "1" } : {}),
      },
      detached: true,
      stdio: ["pipe", "pipe", "pipe"],
    });
    let screen = "";
    child.stdout.on("data", (d) => (screen += d));
    child.stderr.on("data", (d) => (screen += d));
    const kill = () => {
      try { process.kill(-child.pid, "SIGKILL"); } catch {}
      for (const pid of processesOf(marker)) try { process.kill(pid, "SIGKILL"); } catch {}
    };
    const handle = { kill };
    running.add(handle);
    return {
      type: (keys) => child.stdin.write(keys),
      screen: () => screen,
      stop: () => { kill(); running.delete(handle); },
    };
  }

  const until = async (what, ms) => {
    for (const t0 = Date.now(); Date.now() - t0 < ms; await new Promise((r) => setTimeout(r, 200))) if (what()) return true;
    return false;
  };
  const probes = () => proxy.seen.filter((e) => e.method === "POST" && e.request && JSON.parse(e.request).max_tokens === 1);

  for (const [model, target] of [["gpt-6-astra", "/copilot/responses"], ["claude-opus-4.8", "/copilot/v1/messages"], ["gemini-3.6-flash", "/copilot/chat/completions"]]) {
    test(`/model ${model}: the one-token check succeeds (through ${target})`, TEST_TIMEOUT, () =>
      inWorkspace("claude-model", async (ws) => {
        const claude = interactiveClaude("claude-sonnet-5", ws);
        try {
          // The prompt is up once the session has drawn its input box.
          await until(() => /for shortcuts|Try "|>\s*$/m.test(claude.screen()), 15_000);
          claude.type(`/model ${model}`);
          await new Promise((r) => setTimeout(r, 300));
          claude.type("\r");
          const seen = await until(() => probes().length > 0 && probes().every((p) => p.status !== null), 20_000);
          const tail = claude.screen().replace(/\x1b\[[0-9;?]*[A-Za-z]/g, "").slice(-1500);
          assert.ok(seen, `Claude Code sent no one-token check\n${clientLog()}\nscreen:\n${tail}`);
          const [probe] = probes();
          assert.equal(JSON.parse(probe.request).model, model);
          assert.equal(probe.status, 200, clientLog());
          const sent = (await mockRequests(target)).filter((s) => s.model === model);
          assert.equal(sent.length, 1, `the check reached Copilot's ${target}`);
          assert.equal(sent[0].status, 200);
          if (target === "/copilot/responses") assert.ok(sent[0].body.max_output_tokens >= 16);
        } finally {
          claude.stop();
        }
      }));
  }
});

// Codex beyond a plain turn: MCP tools (which it groups under a namespace), Responses Lite
// (its tools in `additional_tools` items, under a namespace with an empty description), and
// remote compaction (Codex asks for it when it takes the provider for OpenAI: a provider
// named "OpenAI"; it then sends `compaction_trigger` and resends the `compaction` item).
describe("Codex's namespaces and remote compaction", () => {
  const probe = path.join(root, "tests/e2e/mcp-probe.mjs");
  const withProbe = (model, log) =>
    `${codexConfig(model)}
[mcp_servers.probe]
command = ${JSON.stringify(process.execPath)}
args = [${JSON.stringify(probe)}, ${JSON.stringify(log)}]
`;

  for (const [model, upstreamPath] of [["gpt-5.1-codex", "/copilot/responses"], ["claude-sonnet-5", "/copilot/v1/messages"]]) {
    test(`Codex calls an MCP server's tool (namespace mcp__probe) on ${model}`, TEST_TIMEOUT, () =>
      inWorkspace("codex-mcp", async (ws) => {
        const log = path.join(ws.dir, "probe-calls.jsonl");
        const run = await runCodex(model, ws, { config: withProbe(model, log), prompt: "MOCK_CALL echo" });
        const why = describeRun(run);
        assert.equal(run.code, 0, `the agent failed\n${why}`);
        const sent = await mockRequests(upstreamPath);
        assert.equal(sent.length, 2, `the call, then its result\n${why}`);
        const [first, second] = sent;
        if (upstreamPath === "/copilot/responses") {
          const ns = first.body.tools.find((t) => t.type === "namespace" && t.name === "mcp__probe");
          assert.ok(ns, "Copilot's /responses gets the namespace as Codex sent it");
          assert.deepEqual([first.reply.tool_call.namespace, first.reply.tool_call.name], ["mcp__probe", "echo"]);
          const call = second.body.input.find((i) => i.type === "function_call");
          assert.deepEqual([call.namespace, call.name], ["mcp__probe", "echo"], "Codex resends the call by namespace");
        } else {
          assert.ok(first.body.tools.some((t) => t.name === "mcp__probe__echo"), "Claude gets the namespaced tool as a function");
          assert.equal(first.reply.tool_call.name, "mcp__probe__echo");
          assert.match(JSON.stringify(second.body.messages), /"type":"tool_use","id":"[^"]+","name":"mcp__probe__echo"/);
        }
        // Codex dispatched the call to the MCP server: it understood the namespaced call.
        assert.ok(existsSync(log), `the MCP server ran no tool\n${why}`);
        const calls = readFileSync(log, "utf8").trim().split("\n").map((l) => JSON.parse(l));
        assert.deepEqual(calls.map((c) => [c.name, c.arguments]), [["echo", { text: "mock" }]]);
        assert.match(second.reply.text, /^Tool result: [^]*probe echo: mock/, "the tool's output reached the model");
        assert.match(run.stdout, /^Tool result: /m, why);
        assert.deepEqual(run.leftovers, [], "the agent left processes running");
      }));
  }

  test("Codex with Responses Lite: its empty `functions` namespace description is filled for Copilot", TEST_TIMEOUT, () =>
    inWorkspace("codex-lite", async (ws) => {
      const bundled = JSON.parse(
        execFileSync(codexBin()[0], [...codexBin()[1], "debug", "models", "--bundled"], {
          cwd: ws.cwd,
          env: { PATH: process.env.PATH, HOME: ws.home, CODEX_HOME: ws.home },
          stdio: ["ignore", "pipe", "pipe"],
          timeout: RUN_TIMEOUT_MS,
        }),
      );
      const lite = bundled.models.find((m) => m.use_responses_lite);
      assert.ok(lite, "Codex's bundled catalog has a Responses Lite model");
      const meta = { ...lite, slug: "gpt-5.1-codex", display_name: "gpt-5.1-codex", upgrade: null, prefer_websockets: false, supports_search_tool: false };
      const catalog = path.join(ws.dir, "models.json");
      writeFileSync(catalog, JSON.stringify({ models: [meta] }));
      const run = await runCodex("gpt-5.1-codex", ws, {
        config: codexConfig("gpt-5.1-codex", `model_catalog_json = ${JSON.stringify(catalog)}\n`),
        prompt: "hello from lite",
      });
      const why = describeRun(run);
      const [sent] = await mockRequests("/copilot/responses");
      const additional = sent?.body?.input?.find((i) => i.type === "additional_tools");
      assert.ok(additional, `Codex sent its tools as additional_tools (else this case tests nothing)\n${why}`);
      assert.equal(run.code, 0, `the agent failed\n${why}`);
      for (const t of additional.tools.filter((t) => t.type === "namespace")) {
        assert.ok(t.description.length > 0, `${t.name}: Copilot gets a description`);
      }
      assert.ok(additional.tools.some((t) => t.name === "functions" && t.description === "Tools of the functions namespace."));
      assert.match(run.stdout, /Echo: hello from lite/, why);
    }));

  for (const [model, upstreamPath] of [["gpt-5.1-codex", "/copilot/responses"], ["claude-sonnet-5", "/copilot/v1/messages"]]) {
    test(`Codex's remote compaction mid-task on ${model}: summarised by the model, read back on the next turn`, TEST_TIMEOUT, () =>
      inWorkspace("codex-compact", async (ws) => {
        // Any turn of Codex's (its prompt alone is ~10k tokens) passes this limit: after the
        // tool call, Codex compacts before it goes on.
        const config = codexConfig(model, "model_auto_compact_token_limit = 2000\n").replace('name = "Copilot Gateway"', 'name = "OpenAI"');
        const run = await runCodex(model, ws, { config });
        const why = describeRun(run);
        assert.equal(run.code, 0, `the agent failed\n${why}`);
        assert.ok(existsSync(ws.target), `the tool call ran before the compaction\n${why}`);
        const posts = proxy.seen.filter((e) => e.method === "POST");
        assert.deepEqual(posts.map((e) => `${e.url} ${e.status}`), ["/v1/responses 200", "/v1/responses 200", "/v1/responses 200"], clientLog());
        // The second answer is the compaction Codex asked for: one item, the gateway's.
        const items = posts[1].body.split("\n\n").filter((f) => f.includes("response.output_item.done"))
          .map((f) => JSON.parse(f.slice(f.indexOf("data: ") + 6)).item);
        assert.deepEqual(items.map((i) => i.type), ["compaction"], posts[1].body.slice(0, 2000));
        const summary = JSON.parse(Buffer.from(items[0].encrypted_content.slice("cgwc1.".length), "base64url")).summary;
        const sent = await mockRequests(upstreamPath);
        assert.equal(sent.length, 3, why);
        assert.match(JSON.stringify(sent[1].body), /Write that summary now/, "the model was asked for the summary");
        assert.equal(summary, sent[1].reply.text, "the summary is the model's");
        // The turn after: Codex sent its compaction item, the model read the summary.
        const after = JSON.stringify(sent[2].body);
        assert.ok(after.includes(JSON.stringify(summary).slice(1, 40)), `the summary reached the model: ${after.slice(-1500)}`);
        assert.ok(!after.includes("cgwc1."), "the gateway's payload never reaches Copilot");
        assert.ok(!after.includes("internal_chat_message_metadata_passthrough"), "Codex's item metadata is not sent on");
        assert.equal(sent[1].flags.x_initiator, "agent");
        assert.equal(sent[2].flags.x_initiator, "agent", "going on after a compaction is no new prompt");
        assert.deepEqual(run.leftovers, [], "the agent left processes running");
      }));
  }
});

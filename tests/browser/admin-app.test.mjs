// The admin web app in headless Chromium against the real gateway (wrangler dev, local D1
// and KV) in front of the mock GitHub + Copilot upstream. The tests run in order and build
// on each other, like a deployer's first session: sign in, connect GitHub, create keys,
// set up an agent and use it, watch usage, rotate and delete, try the playground, back up.
// Each test keeps a screenshot in tests/browser/artifacts/ (git-ignored).
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import Anthropic from "@anthropic-ai/sdk";
import { startGateway, TOKEN_ENCRYPTION_KEY } from "../e2e/harness.mjs";
import { AVATAR_HOST, buildAssets, foreignRequests, launch, openPage, shot, signIn } from "./browser.mjs";

const CSP = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: https://avatars.githubusercontent.com; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'";

let gw, browser;
let admin; // { context, page, log } of the admin's browser session
const logs = []; // every page's request/console log, checked at the end
const keys = {}; // raw keys seen in the app, by name

async function mockControl(method, path, body) {
  const r = await fetch(`${gw.mock.origin}/__mock${path}`, {
    method,
    headers: body ? { "content-type": "application/json" } : {},
    body: body ? JSON.stringify(body) : undefined,
  });
  assert.equal(r.status, 200, `mock ${path}`);
  return r.json();
}

async function open(opts) {
  const p = await openPage(browser, gw.base, opts);
  logs.push(p.log);
  return p;
}

const dataPlane = (key, path = "/v1/models") => fetch(gw.base + path, { headers: { "x-api-key": key } }).then((r) => r.status);

before(async () => {
  buildAssets();
  gw = await startGateway();
  browser = await launch();
});

after(async () => {
  await browser?.close();
  await gw?.stop();
});

test("the app is served with strict security headers; its sources and build stamp are not served", async () => {
  for (const p of ["/", "/dist/app.js", "/dist/app.css", "/theme.js", "/favicon.svg", "/some/deep/link"]) {
    const r = await fetch(gw.base + p);
    assert.equal(r.status, 200, p);
    assert.equal(r.headers.get("content-security-policy"), CSP, `CSP of ${p}`);
    assert.equal(r.headers.get("x-content-type-options"), "nosniff", p);
    assert.equal(r.headers.get("referrer-policy"), "no-referrer", p);
    assert.equal(r.headers.get("x-frame-options"), "DENY", p);
    await r.arrayBuffer();
  }
  const html = await (await fetch(gw.base + "/")).text();
  assert.doesNotMatch(html, /<script(?![^>]*\bsrc=)[^>]*>/i, "no inline script");
  assert.doesNotMatch(html, /<style|\sstyle=|\son[a-z]+=/i, "no inline style or handler");
  assert.doesNotMatch(html, /https?:\/\//, "nothing from another origin");
  for (const p of ["/src/main.js", "/src/app.css", "/dist/.built"]) {
    const r = await fetch(gw.base + p);
    const body = await r.text();
    assert.ok(r.status === 404 || /^<!doctype html>/i.test(body), `${p} must not be served (got ${r.status})`);
  }
  const { page } = await open();
  await page.goto(gw.base + "/");
  await page.getByRole("button", { name: "Sign in" }).waitFor();
  await shot(page, "01-login");
});

test("a wrong ADMIN_KEY is refused, and no session is created", async () => {
  const { context, page } = await open();
  await signIn(page, gw.base, "not-the-admin-key-0000");
  await page.getByText("That key was not accepted").waitFor();
  assert.equal((await context.cookies()).length, 0);
  assert.equal(await page.evaluate(() => fetch("/auth/session").then((r) => r.status)), 401);
  assert.equal(await page.evaluate(() => fetch("/api/keys").then((r) => r.status)), 401);
  await shot(page, "02-wrong-key");
  await context.close();
});

test("the admin signs in with the keyboard; the key ends up in an HttpOnly cookie, not in storage", async () => {
  admin = await open();
  const { page, context } = admin;
  await page.goto(gw.base + "/");
  await page.getByRole("button", { name: "Sign in" }).waitFor();
  // The key field has focus: type and press Enter, no mouse.
  await page.waitForFunction(() => document.activeElement?.id === "login-key");
  await page.keyboard.type(gw.adminKey);
  await page.keyboard.press("Enter");
  await page.getByRole("heading", { name: "Accounts", level: 1 }).waitFor();
  const [cookie] = await context.cookies();
  assert.equal(cookie.name, "cgw_session");
  assert.equal(cookie.httpOnly, true);
  assert.equal(cookie.sameSite, "Strict");
  assert.ok(!cookie.value.includes(gw.adminKey));
  const stored = await page.evaluate(() => JSON.stringify({ ...localStorage }) + JSON.stringify({ ...sessionStorage }) + document.cookie);
  assert.ok(!stored.includes(gw.adminKey), "the admin key is not in web storage");
  await page.getByText("No GitHub account connected yet").waitFor();
  await shot(page, "03-signed-in");
});

test("connect a GitHub account through the device flow, polling at the interval the API returns", async () => {
  const { page } = admin;
  await mockControl("POST", "/config", { device_interval: 1 });
  await mockControl("DELETE", "/requests");
  await page.getByRole("button", { name: "Connect GitHub account" }).first().click();
  const code = page.getByTestId("user-code");
  await code.waitFor();
  assert.match(await code.textContent(), /^[A-Z]{4}-\d{4}$/);
  assert.equal(await page.getByRole("link", { name: "Open GitHub" }).getAttribute("href"), "https://github.com/login/device");
  await shot(page, "04a-device-code");
  await page.getByText("Connected @octocat.").waitFor({ timeout: 15_000 });
  const polls = await mockControl("GET", "/requests?path=/github/login/oauth/access_token");
  assert.equal(polls.length, 2, "pending, then complete");
  const gap = Date.parse(polls[1].time) - Date.parse(polls[0].time);
  assert.ok(gap >= 900, `second poll ${gap} ms after the first: the 1 s interval is honoured`);
  await page.locator("li.account[data-login=octocat]").getByText("Preferred").waitFor();
  await page.locator(".quota-card[data-login=octocat]").getByText("Premium requests").waitFor();
  await shot(page, "04b-account-connected");
});

test("create a key: it is shown once, with a copy button and a warning, and never again", async () => {
  const { page } = admin;
  await page.getByRole("link", { name: "API keys" }).click();
  await page.getByText("No API keys yet").waitFor();
  await page.getByLabel("New key").fill("laptop");
  await page.getByRole("button", { name: "Create key" }).click();
  const field = page.getByTestId("new-key");
  await field.waitFor();
  const key = await field.inputValue();
  assert.match(key, /^cgw_[0-9a-f]{32,}$/);
  keys.laptop = key;
  await page.getByText("This is the only time the key is shown").waitFor();
  await page.getByRole("button", { name: "Copy key" }).click();
  assert.equal(await page.evaluate(() => navigator.clipboard.readText()), key);
  assert.equal(await dataPlane(key), 200, "the new key works on the data plane");
  await shot(page, "05a-key-created");

  await page.getByRole("button", { name: "Done" }).click();
  const row = page.locator("tr[data-key-name=laptop]");
  await row.waitFor();
  const prefix = (await row.locator(".key-prefix").textContent()).replace("…", "");
  assert.ok(key.startsWith(prefix) && prefix.length < key.length);
  assert.ok(!(await page.content()).includes(key), "gone from the page once dismissed");
  await page.reload();
  await page.locator("tr[data-key-name=laptop]").waitFor();
  assert.ok(!(await page.content()).includes(key), "not shown after a reload");
  const stored = await page.evaluate(() => JSON.stringify({ ...localStorage }) + JSON.stringify({ ...sessionStorage }));
  assert.ok(!stored.includes(key));
  await shot(page, "05b-keys-list");
});

test("copy the Claude Code snippet, use it with the official SDK, and see the request in the usage charts", async () => {
  const { page } = admin;
  await page.getByLabel("New key").fill("claude-code");
  await page.getByRole("button", { name: "Create key" }).click();
  keys["claude-code"] = await page.getByTestId("new-key").inputValue();
  await page.getByRole("link", { name: "Set up an agent with this key" }).click();
  await page.getByRole("heading", { name: "Set up your agents" }).waitFor();
  assert.equal(await page.getByLabel("API key", { exact: true }).inputValue(), await page.locator("#setup-key option", { hasText: "claude-code" }).getAttribute("value"));

  // The visible snippet masks the key; the copied one carries it.
  assert.ok(!(await page.locator("#snippet-claude-env").textContent()).includes(keys["claude-code"]));
  await page.getByTestId("copy-claude-env").click();
  const snippet = await page.evaluate(() => navigator.clipboard.readText());
  const env = Object.fromEntries([...snippet.matchAll(/^export (\w+)=(.*)$/gm)].map((m) => [m[1], m[2]]));
  assert.deepEqual(Object.keys(env), ["ANTHROPIC_BASE_URL", "ANTHROPIC_AUTH_TOKEN", "ANTHROPIC_MODEL", "ANTHROPIC_DEFAULT_HAIKU_MODEL"]);
  assert.equal(env.ANTHROPIC_BASE_URL, gw.base);
  assert.equal(env.ANTHROPIC_AUTH_TOKEN, keys["claude-code"]);
  assert.equal(env.ANTHROPIC_MODEL, "claude-sonnet-5");

  await mockControl("DELETE", "/requests");
  const client = new Anthropic({ baseURL: env.ANTHROPIC_BASE_URL, authToken: env.ANTHROPIC_AUTH_TOKEN, apiKey: null });
  const msg = await client.messages.create({
    model: env.ANTHROPIC_MODEL,
    max_tokens: 200,
    messages: [{ role: "user", content: "hello from the copied snippet" }],
  });
  assert.equal(msg.content[0].text, "Echo: hello from the copied snippet");
  const nanoOf = (log) => log.reduce((n, r) => n + (r.reply?.copilot_usage?.total_nano_aiu ?? 0), 0);
  const sdkBilled = nanoOf(await mockControl("GET", "/requests?prefix=/copilot/"));

  // settings.json and Codex carry the same origin and key.
  await page.getByRole("tab", { name: "~/.claude/settings.json" }).click();
  await page.getByTestId("copy-claude-settings").click();
  const settings = JSON.parse(await page.evaluate(() => navigator.clipboard.readText()));
  assert.deepEqual(settings.env, env);
  await page.getByTestId("copy-codex-config").click();
  const toml = await page.evaluate(() => navigator.clipboard.readText());
  assert.match(toml, new RegExp(`^base_url = "${gw.base}/v1"$`, "m"));
  assert.match(toml, /^wire_api = "responses"$/m);
  // The WebSocket transport is offered, commented out (opt-in).
  assert.match(toml, /^# supports_websockets = true /m);
  assert.match(toml, /^env_key = "COPILOT_GATEWAY_API_KEY"$/m);

  // "Test this setup": a real round trip with the key, through /v1/messages.
  await mockControl("DELETE", "/requests");
  await page.getByRole("button", { name: "Test Claude Code setup" }).click();
  await page.getByTestId("test-claude").getByText("It works.").waitFor();
  await page.getByTestId("test-claude").getByText("Echo: Say hello from the gateway setup test.").waitFor();
  const upstream = await mockControl("GET", "/requests?prefix=/copilot/v1/messages");
  assert.equal(upstream.length, 1, "the test went through the gateway to Copilot");
  await page.getByRole("button", { name: "Test Codex setup" }).click();
  await page.getByTestId("test-codex").getByText("It works.").waitFor();
  await shot(page, "06a-setup");

  // The SDK request and the two tests appear in the usage table and charts.
  await page.getByRole("link", { name: "Usage" }).click();
  const row = page.getByTestId("usage-table").locator("tbody tr", { hasText: "claude-code" });
  for (let i = 0; ; i++) {
    await page.getByRole("button", { name: "Refresh" }).click();
    await page.waitForLoadState("networkidle");
    if ((await row.count()) && (await row.locator("td").nth(1).textContent()) === "3") break;
    assert.ok(i < 40, "usage of the copied setup never appeared");
    await page.waitForTimeout(250);
  }
  const byKey = page.locator("section", { has: page.getByRole("heading", { name: "Tokens by key" }) });
  await byKey.locator("canvas").first().waitFor();
  await byKey.locator(".u-legend", { hasText: "claude-code" }).waitFor();
  const byModel = page.locator("section", { has: page.getByRole("heading", { name: "Tokens by model" }) });
  await byModel.locator(".u-legend", { hasText: "claude-sonnet-5" }).waitFor();
  // All keys: claude-code's three, and the model list that checked the laptop key.
  assert.equal(await page.locator("[data-stat=requests] .stat-value").textContent(), "4");

  // Sort by a column, then export what the table shows as CSV.
  await page.getByRole("button", { name: "Key", exact: true }).click();
  assert.equal(await page.getByRole("columnheader", { name: "Key" }).getAttribute("aria-sort"), "ascending");
  const [download] = await Promise.all([page.waitForEvent("download"), page.getByRole("button", { name: "Export CSV" }).click()]);
  const csv = readFileSync(await download.path(), "utf8").trim().split(/\r\n/);
  assert.equal(csv[0], "Key,Requests,Input,Output,Cached,Hit rate,AI credits,Errors");
  assert.match(csv.find((l) => l.startsWith("claude-code,")), /^claude-code,3,\d+,\d+,\d+,/);
  // The AI credits Copilot billed for those requests, exactly as it reported them.
  const billed = sdkBilled + nanoOf(await mockControl("GET", "/requests?prefix=/copilot/"));
  assert.ok(sdkBilled > 0 && billed > sdkBilled);
  assert.equal(Number(csv.find((l) => l.startsWith("claude-code,")).split(",")[6]), billed / 1e9);
  assert.notEqual(await page.locator("[data-stat=credits] .stat-value").textContent(), "0.00");
  await page.getByRole("group", { name: "Chart metric" }).getByRole("button", { name: "AI credits" }).click();
  await page.getByRole("heading", { name: "AI credits by model" }).waitFor();
  await page.locator("section", { has: page.getByRole("heading", { name: "AI credits by model" }) }).locator("canvas").first().waitFor();
  await shot(page, "06c-usage-credits");
  await page.getByRole("group", { name: "Chart metric" }).getByRole("button", { name: "Tokens" }).click();
  await shot(page, "06b-usage");
  for (const range of ["7 days", "30 days", "24 hours"]) {
    await page.getByRole("button", { name: range }).click();
    await byKey.locator(".u-legend", { hasText: "claude-code" }).waitFor();
    assert.equal(await page.locator("[data-stat=requests] .stat-value").textContent(), "4", range);
  }
});

test("rotate a key (the old one stops working) and delete one (after a confirmation)", async () => {
  const { page } = admin;
  await page.getByRole("link", { name: "API keys" }).click();
  await page.getByRole("button", { name: "Rotate laptop" }).click();
  const dialog = page.getByRole("dialog", { name: "Rotate “laptop”?" });
  await dialog.waitFor();
  await shot(page, "07a-rotate-confirm", { fullPage: false });
  await dialog.getByRole("button", { name: "Rotate key" }).click();
  await page.getByText("New key for “laptop”").waitFor();
  const rotated = await page.getByTestId("new-key").inputValue();
  assert.notEqual(rotated, keys.laptop);
  assert.equal(await dataPlane(keys.laptop), 401, "the old key is refused at once");
  assert.equal(await dataPlane(rotated), 200);

  // Cancelling a delete keeps the key.
  await page.getByRole("button", { name: "Delete laptop" }).click();
  await page.getByRole("dialog").getByRole("button", { name: "Cancel" }).click();
  assert.equal(await dataPlane(rotated), 200);
  await page.getByRole("button", { name: "Delete laptop" }).click();
  await page.getByRole("dialog", { name: "Delete “laptop”?" }).getByRole("button", { name: "Delete key" }).click();
  await page.getByText("Deleted “laptop”").waitFor();
  await page.locator("tr[data-key-name=laptop]").waitFor({ state: "detached" });
  assert.equal(await dataPlane(rotated), 401, "a deleted key is refused");
  assert.equal(await page.getByTestId("new-key").count(), 0, "the deleted key's value is gone from the page");
  assert.equal(await page.locator("tr[data-key-name]").count(), 1);

  // Rename and limits, through their dialogs.
  await page.getByRole("button", { name: "Rename claude-code" }).click();
  await page.getByRole("dialog", { name: "Rename key" }).getByLabel("Name").fill("claude-code (mac)");
  await page.getByRole("dialog").getByRole("button", { name: "Save" }).click();
  const row = page.locator("tr[data-key-name='claude-code (mac)']");
  await row.waitFor();
  await page.getByRole("button", { name: "Limits of claude-code (mac)" }).click();
  const limits = page.getByRole("dialog", { name: "Limits for “claude-code (mac)”" });
  await limits.getByLabel("Requests per minute").fill("120");
  await limits.getByLabel("Tokens per month (UTC)").fill("2000000");
  await limits.getByRole("button", { name: "Save limits" }).click();
  await row.getByText("120 req/min").waitFor();
  await row.getByText("2M tokens/month").waitFor();
  const listed = (await gw.admin("GET", "/api/keys")).body.find((k) => k.name === "claude-code (mac)");
  assert.deepEqual(listed.limits, { requests_per_minute: 120, tokens_per_month: 2000000 });
  await shot(page, "07b-after-delete");
});

test("after a reload the setup page asks for the key, and a pasted key fills the snippets and the test", async () => {
  const { page } = admin;
  await page.goto(gw.base + "/#/setup");
  await page.reload(); // keys created in this tab are forgotten with the page
  const env = page.locator("#snippet-claude-env");
  await env.getByText("ANTHROPIC_AUTH_TOKEN=<your-api-key>").waitFor();
  await page.getByRole("button", { name: "Test Claude Code setup" }).click();
  await page.getByTestId("test-claude").getByText("Paste the API key first").waitFor();
  await page.getByLabel("Paste the key (optional)").pressSequentially(keys["claude-code"]);
  await env.getByText(`ANTHROPIC_AUTH_TOKEN=${keys["claude-code"].slice(0, 8)}•`).waitFor();
  assert.equal(await page.evaluate(() => document.activeElement?.id), "setup-paste", "typing keeps the focus");
  await page.getByRole("button", { name: "Test Claude Code setup" }).click();
  await page.getByTestId("test-claude").getByText("It works.").waitFor();
  await page.getByRole("button", { name: "Show key" }).click();
  await env.getByText(`ANTHROPIC_AUTH_TOKEN=${keys["claude-code"]}`).waitFor();
  await shot(page, "08a-setup-pasted");
});

test("the playground streams an answer from the chosen model", async () => {
  const { page } = admin;
  await mockControl("POST", "/config", { sse_delay_ms: 60 });
  try {
    await page.getByRole("link", { name: "Models" }).click();
    await page.locator("tr[data-model='gpt-5.1-codex']").getByText("Native").waitFor();
    await page.getByLabel("Model", { exact: true }).selectOption("claude-sonnet-5");
    const prompt = "please stream this answer back to me one word at a time so the test can watch it grow";
    await page.getByLabel("Message").fill(prompt);
    await page.getByLabel("Message").press("Enter");
    const bubble = page.getByTestId("assistant-message");
    const seen = new Set();
    for (;;) {
      const state = await bubble.evaluate((el) => ({ text: el.querySelector(".msg-text").textContent, done: el.dataset.done ?? null }));
      if (state.text) seen.add(state.text);
      if (state.done) {
        assert.equal(state.done, "true");
        break;
      }
      await page.waitForTimeout(15);
    }
    const final = `Echo: ${prompt}`;
    assert.equal(await bubble.locator(".msg-text").textContent(), final);
    const partial = [...seen].filter((t) => t !== final);
    assert.ok(partial.length >= 3, `saw ${partial.length} partial answers while streaming`);
    assert.ok(partial.every((t) => final.startsWith(t)));
    assert.match(await bubble.locator(".msg-meta").textContent(), /\d+ in · \d+ out/);
    await shot(page, "08b-playground");
  } finally {
    await mockControl("POST", "/config", { sse_delay_ms: 2 });
  }
});

test("models: an alias is defined, serves its first available model, and is refused when it would hide one", async () => {
  const { page } = admin;
  await page.getByRole("link", { name: "Models" }).click();
  await page.getByText("No aliases").waitFor();
  await page.getByLabel("Alias", { exact: true }).fill("team-fast");
  await page.getByLabel("Models, in order of preference").fill("no-such-model, claude-sonnet-5");
  await page.getByRole("button", { name: "Save alias" }).click();
  const row = page.locator("tr[data-alias='team-fast']");
  await row.getByText("no-such-model → claude-sonnet-5").waitFor();
  assert.equal(await row.locator("td[data-label='Serves now']").textContent(), "claude-sonnet-5");
  // The session's model list (what /v1/models appends) names it too.
  const listed = await page.evaluate(() => fetch("/api/models").then((r) => r.json()));
  assert.deepEqual(listed.aliases.map((m) => [m.id, m.alias_of]), [["team-fast", "claude-sonnet-5"]]);
  // A catalog id cannot become an alias.
  await page.getByLabel("Alias", { exact: true }).fill("gpt-5.1-codex");
  await page.getByLabel("Models, in order of preference").fill("claude-sonnet-5");
  await page.getByRole("button", { name: "Save alias" }).click();
  await page.getByText("'gpt-5.1-codex' is a model of the catalog").waitFor();
  await page.getByLabel("Alias", { exact: true }).fill("to-delete");
  await page.getByLabel("Models, in order of preference").fill("gpt-5.1-codex");
  await page.getByRole("button", { name: "Save alias" }).click();
  await page.locator("tr[data-alias='to-delete']").waitFor();
  await shot(page, "08c-aliases");
  await page.getByRole("button", { name: "Delete alias to-delete" }).click();
  await page.getByRole("dialog", { name: "Delete alias “to-delete”?" }).getByRole("button", { name: "Delete alias" }).click();
  await page.locator("tr[data-alias='to-delete']").waitFor({ state: "detached" });
  assert.equal(await page.locator("tr[data-alias]").count(), 1);
});

test("settings: export downloads everything; import shows the counts before a replace", async () => {
  const { page } = admin;
  await page.getByRole("link", { name: "Settings" }).click();
  const [download] = await Promise.all([page.waitForEvent("download"), page.getByRole("button", { name: "Download export" }).click()]);
  assert.match(download.suggestedFilename(), /^copilot-gateway-export-\d{4}-\d{2}-\d{2}\.json$/);
  const file = await download.path();
  const doc = JSON.parse(readFileSync(file, "utf8"));
  assert.equal(doc.data.api_keys.length, 1);
  assert.equal(doc.data.github_accounts.length, 1);
  assert.deepEqual(doc.data.model_aliases, [{ alias: "team-fast", models: ["no-such-model", "claude-sonnet-5"] }]);

  await page.getByLabel("Export file").setInputFiles({ name: "backup.json", mimeType: "application/json", buffer: readFileSync(file) });
  const preview = page.getByTestId("import-preview");
  await preview.waitFor();
  const cells = async (row) => preview.locator(`tr[data-row=${row}] td`).allTextContents();
  assert.deepEqual(await cells("api_keys"), ["1", "1"]);
  assert.deepEqual(await cells("github_accounts"), ["1", "1"]);
  assert.equal((await cells("usage"))[0], String(doc.data.usage.length));
  assert.equal((await cells("model_aliases"))[0], "1");
  await page.getByRole("button", { name: "Replace everything" }).click();
  await page.getByText("Replace deletes everything here first").waitFor();
  await shot(page, "09a-import-preview");
  await page.getByRole("button", { name: "Import", exact: true }).click();
  await page.getByRole("dialog", { name: "Replace all data?" }).getByRole("button", { name: "Replace everything" }).click();
  await page.getByText("Imported.").waitFor();
  assert.equal(await dataPlane(keys["claude-code"]), 200, "the imported key hash still admits the key");
  await shot(page, "09b-imported");
});

test("an API key signs in and sees only its own usage and setup", async () => {
  const { page, context } = await open({ viewport: { width: 1280, height: 860 } });
  await signIn(page, gw.base, keys["claude-code"]);
  await page.getByRole("heading", { name: "Set up your agents" }).waitFor();
  const nav = await page.getByRole("navigation", { name: "Main" }).getByRole("link").allTextContents();
  assert.deepEqual(nav, ["Setup", "Usage", "Models"]);
  // Its own key fills the snippets (kept in page memory from the sign-in only).
  await page.getByTestId("copy-claude-env").click();
  assert.match(await page.evaluate(() => navigator.clipboard.readText()), new RegExp(`^export ANTHROPIC_AUTH_TOKEN=${keys["claude-code"]}$`, "m"));
  assert.equal(await page.evaluate(() => fetch("/api/keys").then((r) => r.status)), 403);
  await shot(page, "10a-key-setup");
  await page.getByRole("link", { name: "Usage" }).click();
  await page.getByRole("heading", { name: "Your usage" }).waitFor();
  const table = page.getByTestId("usage-table");
  await table.waitFor();
  assert.equal(await page.getByRole("heading", { name: "Tokens by key" }).count(), 0);
  // SDK call + the two setup tests + the pasted-key test + the model list after the import;
  // usage is written just after each answer.
  for (let i = 0; (await page.locator("[data-stat=requests] .stat-value").textContent()) !== "5"; i++) {
    assert.ok(i < 40, "the key's five requests never all appeared");
    await page.waitForTimeout(250);
    await page.getByRole("button", { name: "Refresh" }).click();
  }
  await page.locator(".chart canvas").first().waitFor();
  await shot(page, "10b-key-usage");
  await page.goto(gw.base + "/#/keys");
  await page.getByRole("heading", { name: "Set up your agents" }).waitFor(); // admin pages fall back
  await context.close();
});

test("on a phone, in dark mode, every page fits the screen", async () => {
  const { page, context } = await open({ viewport: { width: 390, height: 844 }, colorScheme: "dark" });
  await signIn(page, gw.base, gw.adminKey);
  await page.getByRole("heading", { name: "Accounts", level: 1 }).waitFor();
  for (const [route, ready] of [["accounts", ".quota-card"], ["keys", "tr[data-key-name]"], ["setup", "#snippet-claude-env"], ["usage", ".chart canvas"], ["models", "tr[data-model]"], ["settings", "#import-file"]]) {
    await page.goto(`${gw.base}/#/${route}`);
    await page.locator(ready).first().waitFor();
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    assert.ok(overflow <= 0, `${route} is ${overflow}px wider than the screen`);
    await shot(page, `11-phone-dark-${route}`);
  }
  // The theme toggle overrides the system preference.
  await page.getByRole("button", { name: /^Theme: system/ }).click();
  assert.equal(await page.evaluate(() => document.documentElement.dataset.theme), "light");
  await context.close();
});

test("accounts: a token stored in clear is flagged, and one that cannot be read says why", async () => {
  const { page } = admin;
  const reload = async () => { await page.goto(`${gw.base}/#/accounts`); await page.reload(); };
  // Redeployed without TOKEN_ENCRYPTION_KEY: a newly added account's token is stored in clear,
  // and octocat's, sealed under the missing secret, cannot be read.
  await gw.restart({ tokenKey: null });
  const hubot = (await mockControl("GET", "/users")).find((u) => u.login === "hubot");
  assert.equal((await gw.admin("POST", "/api/github/accounts", { token: hubot.github_token })).status, 201);
  await reload();
  await page.getByTestId("tokens-unencrypted").getByText("npx wrangler secret put TOKEN_ENCRYPTION_KEY").waitFor();
  await page.locator("li.account[data-login=octocat] .account-problem").getByText(/TOKEN_ENCRYPTION_KEY is not set/).waitFor();
  assert.equal(await page.locator("li.account[data-login=hubot] .account-problem").count(), 0);
  await shot(page, "11b-account-token-problems");
  // The secret is back: loading the page seals hubot's token, and nothing is flagged.
  await gw.restart({ tokenKey: TOKEN_ENCRYPTION_KEY });
  await reload();
  await page.locator("li.account[data-login=hubot]").waitFor();
  assert.equal(await page.getByTestId("tokens-unencrypted").count(), 0);
  assert.equal(await page.locator(".account-problem").count(), 0, JSON.stringify((await gw.admin("GET", "/api/github/accounts")).body));
  const listed = await gw.admin("GET", "/api/github/accounts");
  assert.deepEqual(listed.body.map((a) => a.token_encrypted), [true, true]);
  assert.equal((await gw.admin("DELETE", `/api/github/accounts/${hubot.id}`)).status, 204);
});

test("signing out ends the session on the server", async () => {
  const { page, context } = admin;
  const [cookie] = await context.cookies();
  await page.getByRole("button", { name: "Sign out" }).click();
  await page.getByText("You are signed out.").waitFor();
  assert.equal((await context.cookies()).length, 0);
  const replay = await fetch(gw.base + "/auth/session", { headers: { cookie: `${cookie.name}=${cookie.value}` } });
  assert.equal(replay.status, 401, "the old cookie is dead");
  const api = await fetch(gw.base + "/api/keys", { headers: { cookie: `${cookie.name}=${cookie.value}` } });
  assert.equal(api.status, 401);
  await page.goto(gw.base + "/#/keys");
  await page.getByRole("button", { name: "Sign in" }).waitFor();
  await shot(page, "12-signed-out");
});

test("after too many wrong keys, the login page says to wait and counts down", async () => {
  const { page } = admin; // signed out by the previous test
  for (let i = 0; i < 20; i++) {
    const r = await fetch(gw.base + "/auth/login", { method: "POST", headers: { "content-type": "application/json", origin: gw.base }, body: JSON.stringify({ key: `wrong-${i}-0123456789` }) });
    await r.arrayBuffer();
    if (r.status === 429) break;
    assert.equal(r.status, 401);
  }
  await page.getByLabel("Key", { exact: true }).fill(gw.adminKey);
  await page.getByLabel("Key", { exact: true }).press("Enter");
  await page.getByText("Too many failed attempts").waitFor();
  const button = page.getByRole("button", { name: /^Try again in \d+:\d\d$/ });
  await button.waitFor();
  assert.equal(await button.isDisabled(), true);
  await shot(page, "13-login-throttled");
});

test("nothing was fetched from another origin, and no page error or CSP violation happened", () => {
  const foreign = logs.flatMap((l) => foreignRequests(l, gw.base));
  // The one exception the CSP allows: GitHub avatars (images only; served by the test).
  const unexpected = foreign.filter((r) => !(new URL(r.url).host === AVATAR_HOST && r.type === "image"));
  assert.deepEqual(unexpected, []);
  assert.ok(foreign.length > 0, "the account's avatar was shown");
  assert.deepEqual(logs.flatMap((l) => l.pageErrors), []);
  const csp = logs.flatMap((l) => l.consoleErrors).filter((m) => /Content Security Policy|Refused to/i.test(m));
  assert.deepEqual(csp, []);
});

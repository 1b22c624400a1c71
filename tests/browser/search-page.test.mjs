// The admin app's Web search page in headless Chromium against the real gateway and the
// mock search providers: choose a provider, set its key (never shown back), run a test
// search and read the results, see a provider's error, switch to SearXNG, remove a key,
// and find searches per key on the Usage page.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { startGateway } from "../e2e/harness.mjs";
import { buildAssets, foreignRequests, launch, openPage, shot, signIn } from "./browser.mjs";

let gw, browser, admin, keys;
const logs = [];

before(async () => {
  buildAssets();
  gw = await startGateway();
  keys = await (await fetch(`${gw.mock.origin}/__mock/search/keys`)).json();
  browser = await launch();
  admin = await openPage(browser, gw.base);
  logs.push(admin.log);
});

after(async () => {
  await browser?.close();
  await gw?.finish();
});

const secrets = () => [keys.tavily, keys.brave, keys["microsoft-grounding"], keys.searxng_password];
async function assertNoSecretOnPage(page) {
  const shown = await page.evaluate(() => document.body.innerText + [...document.querySelectorAll("input")].map((i) => i.value).join(" ") + JSON.stringify({ ...localStorage }));
  for (const s of secrets()) assert.ok(!shown.includes(s), `a credential is on the page: ${s.slice(0, 6)}…`);
}
const setting = (page, id) => page.locator(`[data-setting="${id}"]`);

test("the admin opens Web search from the menu; nothing is set yet", async () => {
  const { page } = admin;
  await signIn(page, gw.base, gw.adminKey);
  await page.getByRole("heading", { name: "Accounts", level: 1 }).waitFor();
  await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Web search" }).click();
  await page.getByRole("heading", { name: "Web search", level: 1 }).waitFor();
  assert.equal(await page.getByRole("radio", { name: /^Off/ }).isChecked(), true);
  assert.equal(await page.locator(".provider-setting .badge").filter({ hasText: /^set$/ }).count(), 0);
  await shot(page, "search-01-empty");
});

test("choose Brave Search, set its key, save: the key shows as set, never as text", async () => {
  const { page } = admin;
  await page.getByRole("radio", { name: /^Brave Search/ }).check();
  assert.equal(await setting(page, "tavily").isHidden(), true, "only the chosen provider's setting is shown");
  await page.getByLabel("Brave Search API key").fill(keys.brave);
  await page.getByRole("button", { name: "Save" }).click();
  await page.getByText("Web search uses Brave Search").waitFor();
  await setting(page, "brave").locator(".badge", { hasText: /^set$/ }).waitFor();
  assert.equal(await page.getByLabel("Brave Search API key").inputValue(), "");
  await page.locator(".provider-option", { hasText: "Brave Search" }).getByText("In use").waitFor();
  const saved = (await gw.admin("GET", "/api/search-config")).body;
  assert.equal(saved.provider, "brave");
  assert.equal(saved.credentials.brave, true);
  await page.reload();
  await page.getByRole("heading", { name: "Web search", level: 1 }).waitFor();
  assert.equal(await page.getByRole("radio", { name: /^Brave Search/ }).isChecked(), true);
  await assertNoSecretOnPage(page);
  await shot(page, "search-02-brave-saved");
});

test("a test search shows the results: title, URL, age and preview", async () => {
  const { page } = admin;
  await page.getByLabel("Query").fill("cloudflare d1 limits");
  await page.getByRole("button", { name: "Test search" }).click();
  const results = page.getByTestId("search-result");
  await results.first().waitFor();
  assert.equal(await results.count(), 3);
  const first = results.first();
  assert.match(await first.locator(".result-title").textContent(), /cloudflare d1 limits - result 1/);
  assert.match(await first.locator(".result-title").getAttribute("href"), /^https:\/\/docs\.example\.org\/cloudflare-d1-limits\/1$/);
  const meta = await first.locator(".result-meta").textContent();
  assert.match(meta, /^https:\/\/docs\.example\.org\/cloudflare-d1-limits\/1 · \S/, "URL and age");
  assert.match(meta, /2025/);
  assert.match(await first.locator(".result-preview").textContent(), /Result 1 for "cloudflare d1 limits"/);
  assert.equal(await page.locator(".result-preview strong").count(), 0, "no markup from the provider");
  const log = await (await fetch(`${gw.mock.origin}/__mock/search/requests?provider=brave`)).json();
  assert.equal(log.at(-1).terms, "cloudflare d1 limits");
  await shot(page, "search-03-test-results");
});

test("a wrong key typed as a draft shows the provider's error, and is not saved", async () => {
  const { page } = admin;
  await page.getByRole("radio", { name: /^Tavily/ }).check();
  await page.getByLabel("Tavily API key").fill("tvly-not-a-real-key-123");
  await page.getByRole("button", { name: "Test search" }).click();
  const error = page.getByTestId("search-test-out").getByRole("alert");
  await error.waitFor();
  assert.match(await error.textContent(), /Tavily failed \(unavailable\)\. Tavily answered 401: Unauthorized: missing or invalid API key\./);
  const saved = (await gw.admin("GET", "/api/search-config")).body;
  assert.deepEqual([saved.provider, saved.credentials.tavily], ["brave", false], "a draft is not saved");
  await shot(page, "search-04-provider-error");
  await page.getByLabel("Tavily API key").fill("");
});

test("switch to a SearXNG behind basic auth: the URL is shown without its password", async () => {
  const { page } = admin;
  await page.getByRole("radio", { name: /^SearXNG/ }).check();
  await page.getByLabel("SearXNG URL").fill(gw.mock.searxngUrl.replace("://", `://${keys.searxng_user}:${keys.searxng_password}@`));
  await page.getByRole("button", { name: "Save" }).click();
  await page.getByText("Web search uses SearXNG").waitFor();
  await setting(page, "searxng").getByText(`Now: ${gw.mock.searxngUrl}`).waitFor();
  await page.getByLabel("Query").fill("zig comptime");
  await page.getByRole("button", { name: "Test search" }).click();
  await page.getByTestId("search-result").first().waitFor();
  assert.match(await page.getByTestId("search-test-out").textContent(), /SearXNG answered “zig comptime”/);
  await assertNoSecretOnPage(page);
  await shot(page, "search-05-searxng");
});

test("a key not in use can be removed", async () => {
  const { page } = admin;
  await page.getByRole("radio", { name: /^Off/ }).check(); // every setting shows while off
  await setting(page, "brave").getByRole("button", { name: "Remove key" }).click();
  await page.getByRole("dialog", { name: "Remove the Brave Search key?" }).getByRole("button", { name: "Remove" }).click();
  await page.getByText("Brave Search key removed").waitFor();
  await setting(page, "brave").locator(".badge", { hasText: /^not set$/ }).waitFor();
  const saved = (await gw.admin("GET", "/api/search-config")).body;
  assert.deepEqual([saved.provider, saved.credentials.brave], ["searxng", false], "removing a key keeps the saved provider");
});

test("the Usage page lists web searches per key and provider", async () => {
  const { page } = admin;
  const key = await gw.createKey("searcher");
  const hour = new Date().toISOString().slice(0, 13);
  gw.d1(`INSERT INTO search_usage (key_id, provider, hour, requests, errors) VALUES ('${key.id}', 'searxng', '${hour}', 4, 1), ('${key.id}', 'brave', '${hour}', 2, 0)`);
  await page.getByRole("link", { name: "Usage" }).click();
  const card = page.getByTestId("search-usage");
  await card.waitFor();
  const rows = await card.locator("tbody tr").evaluateAll((trs) => trs.map((tr) => [...tr.cells].map((c) => c.textContent)));
  assert.deepEqual(rows, [["searcher", "SearXNG", "4", "1"], ["searcher", "Brave Search", "2", "0"]]);
  await shot(page, "search-06-usage");
});

test("on a phone, in dark mode, the page fits the screen", async () => {
  const p = await openPage(browser, gw.base, { viewport: { width: 390, height: 844 }, colorScheme: "dark" });
  logs.push(p.log);
  await signIn(p.page, gw.base, gw.adminKey);
  await p.page.getByRole("heading", { name: "Accounts", level: 1 }).waitFor();
  await p.page.goto(`${gw.base}/#/search`);
  await p.page.locator(".provider-option").first().waitFor();
  const overflow = await p.page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  assert.ok(overflow <= 0, `the page is ${overflow}px wider than the screen`);
  await shot(p.page, "search-07-phone-dark");
  await p.context.close();
});

test("nothing was fetched from another origin, and no page error or CSP violation happened", () => {
  assert.deepEqual(logs.flatMap((l) => foreignRequests(l, gw.base)), []);
  assert.deepEqual(logs.flatMap((l) => l.pageErrors), []);
  assert.deepEqual(logs.flatMap((l) => l.consoleErrors).filter((m) => /Content Security Policy|Refused to/i.test(m)), []);
});

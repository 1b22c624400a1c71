// Headless Chromium (Debian's /usr/bin/chromium, driven by playwright-core; no browser is
// ever downloaded) against the real gateway from tests/e2e/harness.mjs.
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync } from "node:fs";
import path from "node:path";
import { chromium } from "playwright-core";

const root = path.resolve(import.meta.dirname, "../..");
export const ARTIFACTS = path.join(root, "tests/browser/artifacts");
export const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";

// A stand-in picture served for GitHub avatars: the test machine has no network, and the
// tests check that nothing else ever leaves the gateway's origin.
const AVATAR = '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 40 40"><rect width="40" height="40" fill="#8b95a7"/>' +
  '<circle cx="20" cy="16" r="7" fill="#e5e7eb"/><path d="M6 40c1-9 7-13 14-13s13 4 14 13z" fill="#e5e7eb"/></svg>';
export const AVATAR_HOST = "avatars.githubusercontent.com";

/** Builds the admin app bundle when it is missing or stale (a no-op otherwise). */
export function buildAssets() {
  execFileSync(process.execPath, [".ci/build-assets.mjs"], { cwd: root, stdio: "inherit" });
}

export async function launch() {
  if (!existsSync(CHROMIUM)) {
    throw new Error(`${CHROMIUM} is missing: \`sh .ci/setup\` installs Debian's chromium package`);
  }
  mkdirSync(ARTIFACTS, { recursive: true });
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [
      "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
      "--disable-background-networking", "--disable-component-update", "--disable-sync",
      "--disable-dev-shm-usage",
    ],
  });
}

/**
 * A fresh context (its own cookies) with clipboard access, and a log of every request the
 * page made, every console error and every uncaught page error.
 */
export async function openPage(browser, base, { viewport = { width: 1360, height: 900 }, colorScheme = "light" } = {}) {
  const context = await browser.newContext({ viewport, colorScheme, acceptDownloads: true, reducedMotion: "reduce" });
  await context.grantPermissions(["clipboard-read", "clipboard-write"], { origin: base });
  await context.route(`https://${AVATAR_HOST}/**`, (route) => route.fulfill({ status: 200, contentType: "image/svg+xml", body: AVATAR }));
  const page = await context.newPage();
  const log = { requests: [], consoleErrors: [], pageErrors: [] };
  page.on("request", (r) => log.requests.push({ url: r.url(), type: r.resourceType(), method: r.method() }));
  page.on("console", (m) => { if (m.type() === "error") log.consoleErrors.push(m.text()); });
  page.on("pageerror", (e) => log.pageErrors.push(String(e)));
  return { context, page, log };
}

/** Requests that left the gateway's origin (blob:/data: URLs stay in the page). */
export function foreignRequests(log, base) {
  const origin = new URL(base).origin;
  return log.requests.filter((r) => {
    if (/^(blob|data):/.test(r.url)) return false;
    return new URL(r.url).origin !== origin;
  });
}

export async function shot(page, name, { fullPage = true } = {}) {
  const file = path.join(ARTIFACTS, `${name}.png`);
  await page.evaluate(() => window.scrollTo(0, 0));
  await page.screenshot({ path: file, fullPage });
  return file;
}

/** Signs in through the login form. */
export async function signIn(page, base, key) {
  await page.goto(base + "/");
  await page.getByLabel("Key", { exact: true }).fill(key);
  await page.getByLabel("Key", { exact: true }).press("Enter");
}

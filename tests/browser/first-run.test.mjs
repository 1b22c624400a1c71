// A fresh deployment before its ADMIN_KEY is set: the admin page explains how to set it
// (not just an API error), and once it is set the same page signs in.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { startGateway, ADMIN_KEY } from "../e2e/harness.mjs";
import { buildAssets, launch, openPage, shot, signIn } from "./browser.mjs";

let gw, browser;

before(async () => {
  buildAssets();
  gw = await startGateway({ adminKey: null, schema: "empty" });
  browser = await launch();
});
after(async () => {
  await browser?.close();
  await gw?.finish();
});

test("without ADMIN_KEY the admin page says exactly how to set it; with it, the admin signs in", async () => {
  const { page, log } = await openPage(browser, gw.base);
  await page.goto(gw.base + "/");
  const setup = page.getByTestId("first-run");
  await setup.getByText("Finish the setup: set an ADMIN_KEY").waitFor();
  await setup.getByText("npx wrangler secret put ADMIN_KEY").waitFor();
  assert.match(await setup.textContent(), /Variables and Secrets/);
  await shot(page, "first-run-no-admin-key");
  // A sign-in attempt says the same.
  await signIn(page, gw.base, "anything-at-all-0123456789");
  await page.getByText(/ADMIN_KEY is not set/).waitFor();

  await gw.restart({ adminKey: ADMIN_KEY });
  await page.goto(gw.base + "/");
  await page.reload();
  await page.getByRole("button", { name: "Sign in" }).waitFor();
  assert.equal(await page.getByTestId("first-run").isHidden(), true);
  await signIn(page, gw.base, ADMIN_KEY);
  await page.getByRole("heading", { name: "Accounts", level: 1 }).waitFor();
  assert.deepEqual(log.pageErrors, []);
});

// Copilot Gateway admin app: session, shell and hash router.
import "uplot/dist/uPlot.min.css";
import "./app.css";
import { api, request, setSessionLostHandler } from "./api.js";
import { h, clear, icon, badge } from "./dom.js";
import { THEMES, currentTheme, setTheme } from "./theme.js";
import { loginPage } from "./pages/login.js";
import { accountsPage } from "./pages/accounts.js";
import { keysPage } from "./pages/keys.js";
import { setupPage } from "./pages/setup.js";
import { usagePage } from "./pages/usage.js";
import { modelsPage } from "./pages/models.js";
import { settingsPage } from "./pages/settings.js";
import { searchPage } from "./pages/search.js";

/**
 * Shared app state. Raw API keys live only in this object (page memory): the one a key
 * user signed in with, and keys created or rotated in this tab. Nothing secret is stored.
 */
export const app = {
  session: null, // { role: "admin" | "key", key?, expires_at? }
  rawKey: null, // the API key a key-role user signed in with
  freshKeys: new Map(), // key id → { key, name } created or rotated in this tab
  modelsPromise: null,
  navigate: (route) => { location.hash = `#/${route}`; },
  models() {
    if (!this.modelsPromise) {
      this.modelsPromise = api.get("/api/models").then((r) => r?.data ?? []);
      this.modelsPromise.catch(() => { this.modelsPromise = null; });
    }
    return this.modelsPromise;
  },
};

const PAGES = {
  accounts: { title: "Accounts", icon: "accounts", page: accountsPage, admin: true },
  keys: { title: "API keys", icon: "keys", page: keysPage, admin: true },
  setup: { title: "Setup", icon: "setup", page: setupPage },
  usage: { title: "Usage", icon: "usage", page: usagePage },
  models: { title: "Models", icon: "models", page: modelsPage },
  search: { title: "Web search", icon: "search", page: searchPage, admin: true },
  settings: { title: "Settings", icon: "settings", page: settingsPage, admin: true },
};

const root = document.getElementById("app");
let dispose = null;
let shell = null;

function allowed(name) {
  const p = PAGES[name];
  return p && (!p.admin || app.session?.role === "admin");
}

function defaultRoute() {
  return app.session?.role === "admin" ? "accounts" : "setup";
}

// ---- theme toggle: system → light → dark ----

function themeButton() {
  const btn = h("button.icon-btn.theme-btn", { type: "button" });
  const paint = () => {
    if (!btn.isConnected && btn.dataset.painted) return window.removeEventListener("themechange", paint);
    btn.dataset.painted = "1";
    const t = currentTheme();
    const next = THEMES[(THEMES.indexOf(t) + 1) % THEMES.length];
    clear(btn, icon(t === "light" ? "sun" : t === "dark" ? "moon" : "system"));
    btn.setAttribute("aria-label", `Theme: ${t}. Switch to ${next}`);
    btn.title = `Theme: ${t}`;
  };
  btn.addEventListener("click", () => {
    const t = currentTheme();
    setTheme(THEMES[(THEMES.indexOf(t) + 1) % THEMES.length]);
  });
  window.addEventListener("themechange", paint);
  paint();
  return btn;
}

// ---- shell ----

async function logout() {
  try {
    await request("POST", "/auth/logout", {});
  } catch {}
  signedOut("You are signed out.");
}

function signedOut(message, kind = "ok") {
  app.session = null;
  app.rawKey = null;
  app.freshKeys.clear();
  app.modelsPromise = null;
  if (dispose) { try { dispose(); } catch {} dispose = null; }
  shell = null;
  if (location.hash) history.replaceState(null, "", location.pathname);
  showLogin(message, kind);
}

function buildShell() {
  const role = app.session.role;
  const links = Object.entries(PAGES)
    .filter(([name]) => allowed(name))
    .map(([name, p]) => h("a.nav-link", { href: `#/${name}`, "data-route": name }, icon(p.icon), h("span", p.title)));
  const who = role === "admin"
    ? h("div.who", badge("Admin", "accent"))
    : h("div.who", badge("API key", "accent"), h("span.who-name", app.session.key?.name ?? ""));
  const main = h("main#main", { tabindex: "-1" });
  const el = h("div.shell",
    h("header.topbar",
      h("a.brand", { href: `#/${defaultRoute()}` }, h("span.brand-mark", { "aria-hidden": "true" }), h("span", "Copilot Gateway")),
      h("div.topbar-actions",
        who,
        themeButton(),
        h("button.btn.btn-ghost.btn-sm.logout-btn", { type: "button", onclick: logout }, icon("logout"), h("span", "Sign out")),
      ),
    ),
    h("nav.sidebar", { "aria-label": "Main" }, h("div.nav-links", links)),
    main,
  );
  return { el, main, links };
}

function route() {
  if (!app.session) return;
  let name = location.hash.replace(/^#\/?/, "").split(/[/?]/)[0];
  if (!allowed(name)) {
    history.replaceState(null, "", `#/${defaultRoute()}`);
    name = defaultRoute();
  }
  if (!shell) {
    shell = buildShell();
    clear(root, shell.el);
    root.className = "";
  }
  for (const a of shell.links) {
    if (a.dataset.route === name) a.setAttribute("aria-current", "page");
    else a.removeAttribute("aria-current");
  }
  if (dispose) { try { dispose(); } catch {} dispose = null; }
  const page = PAGES[name];
  document.title = `${page.title} · Copilot Gateway`;
  clear(shell.main);
  dispose = page.page(shell.main, app) ?? null;
  shell.main.scrollTop = 0;
  window.scrollTo(0, 0);
}

function showLogin(message, kind) {
  root.className = "";
  document.title = "Sign in · Copilot Gateway";
  clear(root, loginPage({
    message,
    kind,
    themeButton,
    onLogin: (session, key) => {
      app.session = session;
      if (session.role === "key") app.rawKey = key;
      if (!location.hash) history.replaceState(null, "", `#/${defaultRoute()}`);
      route();
      shell?.main.focus();
    },
  }));
}

setSessionLostHandler(() => {
  if (app.session) signedOut("Your session has ended. Sign in again.", "warn");
});

window.addEventListener("hashchange", () => {
  route();
  shell?.main.focus({ preventScroll: true });
});

async function boot() {
  try {
    app.session = await request("GET", "/auth/session");
  } catch (e) {
    app.session = null;
    if (e.status !== 401) {
      showLogin(e.status ? `The gateway answered ${e.status}: ${e.message}` : e.message, "error");
      return;
    }
  }
  if (app.session) route();
  else showLogin();
}

boot();

// Sign in: ADMIN_KEY (everything) or an API key (its own usage and setup), exchanged at
// POST /auth/login for an HttpOnly session cookie. The key is not stored anywhere.
import { request } from "../api.js";
import { h, icon } from "../dom.js";

export function loginPage({ message, kind = "ok", onLogin, themeButton }) {
  const input = h("input#login-key.input.input-mono", {
    type: "password",
    name: "key",
    autocomplete: "current-password",
    spellcheck: "false",
    autocapitalize: "off",
    required: true,
    placeholder: "ADMIN_KEY or cgw_…",
    "aria-describedby": "login-hint",
  });
  const reveal = h("button.input-addon", {
    type: "button",
    "aria-label": "Show key",
    "aria-pressed": "false",
    onclick: () => {
      const show = input.type === "password";
      input.type = show ? "text" : "password";
      reveal.setAttribute("aria-pressed", String(show));
      reveal.setAttribute("aria-label", show ? "Hide key" : "Show key");
      reveal.textContent = show ? "Hide" : "Show";
    },
  }, "Show");
  const status = h("div.login-status", { role: "alert", "aria-live": "assertive" });
  const submit = h("button.btn.btn-primary.btn-block", { type: "submit" }, "Sign in");
  let retryTimer = null;

  function showStatus(text, k) {
    status.replaceChildren();
    if (!text) return;
    status.append(h(`div.callout.callout-${k}`, icon(k === "ok" ? "check" : "alert"), h("span", text)));
  }
  if (message) showStatus(message, kind);

  function lockFor(seconds) {
    clearInterval(retryTimer);
    let left = Math.ceil(seconds);
    submit.disabled = true;
    const tick = () => {
      if (left <= 0) {
        clearInterval(retryTimer);
        submit.disabled = false;
        submit.textContent = "Sign in";
        return;
      }
      submit.textContent = `Try again in ${Math.floor(left / 60)}:${String(left % 60).padStart(2, "0")}`;
      left -= 1;
    };
    tick();
    retryTimer = setInterval(tick, 1000);
  }

  const form = h("form.login-form", {
    novalidate: true,
    onsubmit: async (e) => {
      e.preventDefault();
      const key = input.value.trim();
      if (!key) {
        showStatus("Enter your ADMIN_KEY or an API key.", "error");
        input.focus();
        return;
      }
      submit.disabled = true;
      submit.textContent = "Signing in…";
      try {
        const res = await request("POST", "/auth/login", { key });
        let session = res;
        try {
          session = await request("GET", "/auth/session");
        } catch {}
        clearInterval(retryTimer);
        input.value = "";
        onLogin({ ...res, ...session, role: session?.role ?? res.role }, key);
      } catch (err) {
        submit.disabled = false;
        submit.textContent = "Sign in";
        if (err.status === 401) {
          showStatus("That key was not accepted. Check it and try again.", "error");
          input.select();
        } else if (err.status === 429) {
          showStatus("Too many failed attempts from this device. Wait a moment before trying again.", "error");
          lockFor(err.retryAfter ?? 30);
        } else {
          showStatus(err.message, "error");
        }
        input.focus();
      }
    },
  },
    h("label.label", { for: "login-key" }, "Key"),
    h("div.input-group", input, reveal),
    h("p#login-hint.hint", "Use the deployment's ADMIN_KEY for full access, or one of its API keys to see that key's usage and setup."),
    status,
    submit,
  );

  queueMicrotask(() => input.focus());

  // First run: without a usable ADMIN_KEY nobody can sign in, so the page says how to set it.
  const setup = h("div.first-run", { hidden: true, "data-testid": "first-run" });
  request("GET", "/auth/status").then((s) => {
    if (!s || s.admin_key === "set") return;
    const short = s.admin_key === "too_short";
    setup.replaceChildren(
      h("h2", short ? "ADMIN_KEY is too short" : "Finish the setup: set an ADMIN_KEY"),
      h("p", short
        ? "The gateway's ADMIN_KEY has fewer than 16 characters, so nobody can sign in. Set a longer one:"
        : "This gateway has no ADMIN_KEY yet, so nobody can sign in. Set one, a long random secret you keep:"),
      h("pre.code", h("code", "npx wrangler secret put ADMIN_KEY")),
      h("p.hint", "Run it in the project's folder and paste a secret of at least 16 characters (for example from ",
        h("code", "openssl rand -base64 32"), "). Or in the Cloudflare dashboard: Workers & Pages → this Worker → Settings → Variables and Secrets → Add, type Secret, name ADMIN_KEY. Locally, put it in ",
        h("code", ".dev.vars"), "."),
      h("p.hint", "The secret takes effect at once; then reload this page and sign in with it."),
    );
    setup.hidden = false;
  }).catch(() => {});

  return h("div.login",
    h("div.login-top", themeButton()),
    h("div.login-card",
      h("div.login-brand", h("span.brand-mark.brand-mark-lg", { "aria-hidden": "true" }), h("h1", "Copilot Gateway")),
      h("p.login-lead", "Use your GitHub Copilot subscription from Claude Code, Codex and any OpenAI or Anthropic client."),
      setup,
      form,
    ),
    h("p.login-foot", "Your key is exchanged for a session cookie; this page never stores it."),
  );
}

// Accounts: connect GitHub (device flow, polled from here at the interval the API gives),
// the connected accounts, and each account's Copilot quota with the pace to the reset.
import { api } from "../api.js";
import {
  h, clear, icon, toast, modal, confirmDialog, copyButton, empty, errorBox, spinner, badge,
  fmtDate, fmtNum, fmtPct, timeEl,
} from "../dom.js";

const DAY = 86400_000;

export function accountsPage(main) {
  let alive = true;
  let flow = null; // the running device flow, if any
  const listBox = h("div.stack");
  const flowBox = h("div");
  const quotaBox = h("div.quota-grid");
  const quotaSection = h("section.section", { "aria-labelledby": "quota-h", hidden: true },
    h("div.section-head", h("h2#quota-h", "Copilot quota"), h("p.muted", "AI credits (premium requests on older plans) used this month, where you will land at the current pace, and Copilot's 5-hour and weekly usage limits.")),
    quotaBox,
  );

  const connectBtn = h("button.btn.btn-primary", { type: "button", onclick: () => startFlow() }, icon("github"), h("span", "Connect GitHub account"));
  const tokenBtn = h("button.btn", { type: "button", onclick: addByToken }, icon("plus"), h("span", "Add with a token"));

  main.append(
    h("div.page-head",
      h("div", h("h1", "Accounts"), h("p.lead", "The GitHub accounts whose Copilot subscriptions this gateway uses. The preferred account serves; when it is rate-limited or out of quota, requests move to the next enabled one.")),
      h("div.actions", tokenBtn, connectBtn),
    ),
    flowBox,
    h("section.section", { "aria-labelledby": "acc-list-h" }, h("h2#acc-list-h.visually-hidden", "Connected accounts"), listBox),
    quotaSection,
  );

  let accounts = [];
  let loaded = false;
  let quota = null;

  async function loadAccounts() {
    if (!accounts.length) clear(listBox, spinner("Loading accounts…"));
    try {
      accounts = await api.get("/api/github/accounts");
      loaded = true;
      if (alive) renderAccounts();
    } catch (e) {
      if (alive) clear(listBox, errorBox(e, loadAccounts));
    }
  }

  async function loadQuota() {
    if (!quota) clear(quotaBox, spinner("Asking GitHub for quota…"));
    try {
      quota = await api.get("/api/quota");
      if (alive) { renderQuota(); renderAccounts(); }
    } catch (e) {
      if (alive) clear(quotaBox, errorBox(e, loadQuota));
    }
  }

  function refresh() {
    loadAccounts();
    loadQuota();
  }

  function planOf(id) {
    return quota?.accounts?.find((q) => q.account?.id === id)?.plan ?? null;
  }

  function renderAccounts() {
    if (!loaded) return;
    quotaSection.hidden = !accounts.length;
    if (!accounts.length) {
      clear(listBox, h("div.card", empty(
        "No GitHub account connected yet",
        flow
          ? "Follow the steps above: once you approve on GitHub, the account appears here."
          : "Connect the GitHub account that has the Copilot subscription. You will enter a short code on github.com; nothing else to install.",
        flow ? null : h("button.btn.btn-primary", { type: "button", onclick: () => startFlow() }, icon("github"), h("span", "Connect GitHub account")),
      )));
      return;
    }
    const clearText = accounts.filter((a) => a.token_encrypted === false);
    clear(listBox,
      clearText.length
        ? h("p.callout.callout-warn", { "data-testid": "tokens-unencrypted" }, icon("alert"), h("span",
          h("strong", "GitHub tokens are stored unencrypted. "),
          "Set a secret to encrypt them at rest: ", h("code", "npx wrangler secret put TOKEN_ENCRYPTION_KEY"),
          " (a long random value; keep a copy: tokens sealed with it cannot be read without it). Stored tokens are encrypted the next time this page loads."))
        : null,
      h("ul.account-list", accounts.map(accountRow)));
  }

  function avatar(a) {
    const fallback = h("span.avatar.avatar-fallback", { "aria-hidden": "true" }, (a.login ?? "?").slice(0, 1).toUpperCase());
    if (!a.avatar_url || !/^https:\/\/avatars\.githubusercontent\.com\//.test(a.avatar_url)) return fallback;
    const img = h("img.avatar", { src: a.avatar_url, alt: "", width: 40, height: 40, loading: "lazy", referrerpolicy: "no-referrer" });
    img.addEventListener("error", () => img.replaceWith(fallback), { once: true });
    return img;
  }

  function accountRow(a) {
    const plan = planOf(a.id);
    const busy = (btn, fn) => async () => {
      btn.disabled = true;
      try { await fn(); } finally { btn.disabled = false; }
    };
    const prefer = h("button.btn.btn-sm", { type: "button" }, icon("star"), h("span", "Make preferred"));
    prefer.addEventListener("click", busy(prefer, async () => {
      try {
        await api.post(`/api/github/accounts/${a.id}/activate`);
        toast(`@${a.login} now serves requests first`);
        refresh();
      } catch (e) { toast(e.message, "error"); }
    }));
    const toggle = h("button.btn.btn-sm", { type: "button" }, a.disabled ? "Enable" : "Disable");
    toggle.addEventListener("click", busy(toggle, async () => {
      if (!a.disabled && !(await confirmDialog({
        title: `Disable @${a.login}?`,
        body: "A disabled account keeps its token and history but serves no requests until you enable it again.",
        confirmLabel: "Disable",
      }))) return;
      try {
        await api.patch(`/api/github/accounts/${a.id}`, { disabled: !a.disabled });
        toast(a.disabled ? `@${a.login} enabled` : `@${a.login} disabled`);
        refresh();
      } catch (e) { toast(e.message, "error"); }
    }));
    const remove = h("button.btn.btn-sm.btn-danger-ghost", { type: "button", "aria-label": `Remove @${a.login}` }, icon("trash"), h("span", "Remove"));
    remove.addEventListener("click", busy(remove, async () => {
      const ok = await confirmDialog({
        title: `Remove @${a.login}?`,
        body: "The stored GitHub token is deleted from this gateway. Usage history is kept. You can connect the account again later.",
        confirmLabel: "Remove account",
        danger: true,
      });
      if (!ok) return;
      try {
        await api.del(`/api/github/accounts/${a.id}`);
        toast(`@${a.login} removed`);
        quota = null;
        refresh();
      } catch (e) { toast(e.message, "error"); }
    }));
    return h("li.card.account", { "data-login": a.login },
      avatar(a),
      h("div.account-main",
        h("div.account-name",
          h("strong", a.name || a.login),
          a.name ? h("span.muted", ` @${a.login}`) : null,
        ),
        h("div.badges",
          a.active && !a.disabled ? badge("Preferred", "accent") : null,
          a.disabled ? badge("Disabled", "muted") : null,
          a.rate_limited ? badge(a.rate_limited.window === "weekly" ? "Weekly limit reached" : "Session limit reached", "warn") : null,
          plan ? badge(planLabel(plan)) : null,
          a.account_type && a.account_type !== "individual" ? badge(a.account_type) : null,
          h("span.muted.small", "Connected ", timeEl(a.created_at)),
        ),
        a.problem ? h("p.callout.callout-error.account-problem", { role: "alert" }, icon("alert"), h("span", a.problem)) : null,
        a.rate_limited ? h("p.callout.callout-warn.account-limited", { "data-testid": "rate-limited" }, icon("alert"), h("span",
          `Copilot's ${a.rate_limited.window === "weekly" ? "weekly" : "5-hour session"} usage limit ran out: this account serves nothing until `,
          h("time", { datetime: a.rate_limited.until }, fmtDate(a.rate_limited.until, { dateStyle: "medium", timeStyle: "short" })),
          "; the next enabled account serves meanwhile.")) : null,
      ),
      h("div.account-actions", !a.active || a.disabled ? prefer : null, toggle, remove),
    );
  }

  function renderQuota() {
    const list = quota?.accounts ?? [];
    if (!list.length) {
      clear(quotaBox, h("div.card.span-all", empty("No quota to show", accounts.length ? "Every account is disabled." : "Connect an account to see its Copilot quota.")));
      return;
    }
    clear(quotaBox, list.map(quotaCard));
  }

  // ---- device flow ----

  async function startFlow() {
    if (flow) return;
    connectBtn.disabled = true;
    const state = { timer: null, cancelled: false };
    flow = state;
    renderAccounts();
    clear(flowBox, h("div.card.flow", spinner("Asking GitHub for a code…")));
    let code;
    try {
      code = await api.post("/api/github/device");
    } catch (e) {
      endFlow();
      clear(flowBox, h("div.card.flow", errorBox(e, () => startFlow())));
      return;
    }
    if (state.cancelled) return;
    let interval = Math.max(1, Number(code.interval) || 5);
    const expiresAt = Date.now() + (Number(code.expires_in) || 900) * 1000;
    const statusText = h("span", "Waiting for you to authorize on GitHub…");
    const status = h("div.flow-status", { role: "status" }, h("span.spin", { "aria-hidden": "true" }), statusText);
    const expiry = h("span.muted.small");
    const tickExpiry = () => {
      const left = Math.max(0, Math.round((expiresAt - Date.now()) / 1000));
      expiry.textContent = `Code expires in ${Math.floor(left / 60)}:${String(left % 60).padStart(2, "0")}`;
    };
    tickExpiry();
    const expiryTimer = setInterval(tickExpiry, 1000);
    state.expiryTimer = expiryTimer;
    const verifyUrl = /^https:\/\//.test(code.verification_uri ?? "") ? code.verification_uri : "https://github.com/login/device";
    const link = h("a.btn.btn-primary", { href: verifyUrl, target: "_blank", rel: "noopener noreferrer" }, h("span", "Open GitHub"), icon("external"));
    clear(flowBox, h("div.card.flow", { "aria-labelledby": "flow-h" },
      h("div.flow-head", h("h2#flow-h", "Connect a GitHub account"),
        h("button.btn.btn-ghost.btn-sm", { type: "button", onclick: cancelFlow }, "Cancel")),
      h("ol.flow-steps",
        h("li", h("span.step-n", "1"), h("div", h("p", "Copy this code"),
          h("div.user-code-row", h("code.user-code", { "data-testid": "user-code" }, code.user_code), copyButton(() => code.user_code, "Copy code")))),
        h("li", h("span.step-n", "2"), h("div", h("p", "Enter it at ", h("span.mono", verifyUrl), " and approve the app."), link)),
        h("li", h("span.step-n", "3"), h("div", status, expiry)),
      ),
    ));

    const poll = async () => {
      if (state.cancelled) return;
      if (Date.now() > expiresAt) return failFlow("The code expired before it was approved. Start again to get a new one.");
      let r;
      try {
        r = await api.post("/api/github/device/poll", { device_code: code.device_code });
      } catch (e) {
        if (state.cancelled) return;
        if (e.status === 401) return;
        statusText.textContent = `Could not check with GitHub (${e.message}); trying again…`;
        state.timer = setTimeout(poll, Math.min(30, interval * 2) * 1000);
        return;
      }
      if (state.cancelled) return;
      if (r.status === "pending") {
        if (r.interval) interval = Math.max(1, r.interval);
        statusText.textContent = "Waiting for you to authorize on GitHub…";
      } else if (r.status === "slow_down") {
        interval = Math.max(interval + 5, Number(r.interval) || 0);
        statusText.textContent = `GitHub asked to slow down; checking every ${interval} s…`;
      } else if (r.status === "complete") {
        endFlow();
        const a = r.account ?? {};
        clear(flowBox, h("div.callout.callout-ok.flow-done", { role: "status" }, icon("check"),
          h("div", h("strong", `Connected @${a.login ?? "account"}.`), " It can serve requests now. Next: ", h("a", { href: "#/keys" }, "create an API key"), "."),
          h("button.btn.btn-sm", { type: "button", onclick: () => clear(flowBox) }, "Dismiss")));
        toast(`Connected @${a.login}`);
        quota = null;
        refresh();
        return;
      } else {
        return failFlow(flowError(r));
      }
      state.timer = setTimeout(poll, interval * 1000);
    };
    state.timer = setTimeout(poll, interval * 1000);
  }

  function flowError(r) {
    if (r.error === "access_denied") return "The authorization was denied on GitHub.";
    if (r.error === "expired_token") return "The code expired before it was approved. Start again to get a new one.";
    return r.message || r.error || "GitHub refused the device flow.";
  }

  function failFlow(message) {
    endFlow();
    clear(flowBox, h("div.callout.callout-error", { role: "alert" }, icon("alert"),
      h("div", h("strong", "Not connected. "), message),
      h("button.btn.btn-sm", { type: "button", onclick: () => startFlow() }, "Start again")));
  }

  function endFlow() {
    if (flow) {
      flow.cancelled = true;
      clearTimeout(flow.timer);
      clearInterval(flow.expiryTimer);
    }
    flow = null;
    connectBtn.disabled = false;
    if (alive && !accounts.length) renderAccounts();
  }

  function cancelFlow() {
    endFlow();
    clear(flowBox);
    connectBtn.focus();
  }

  async function addByToken() {
    const input = h("input#acc-token.input.input-mono", { type: "password", autocomplete: "off", spellcheck: "false", placeholder: "gho_… or ghu_…", required: true });
    const err = h("div", { role: "alert" });
    await modal({
      title: "Add an account with a token",
      render: (close) => h("form.stack", {
        onsubmit: async (e) => {
          e.preventDefault();
          const token = input.value.trim();
          if (!token) return;
          const btn = e.target.querySelector("button[type=submit]");
          btn.disabled = true;
          try {
            const a = await api.post("/api/github/accounts", { token });
            toast(`Connected @${a.login}`);
            close(true);
            quota = null;
            refresh();
          } catch (x) {
            clear(err, h("div.callout.callout-error", icon("alert"), h("span", x.message)));
            btn.disabled = false;
          }
        },
      },
        h("p.muted", "An existing GitHub OAuth token of an account with Copilot (for example one issued to a Copilot editor plugin). The device flow is simpler for most people."),
        h("label.label", { for: "acc-token" }, "GitHub token"),
        input,
        err,
        h("div.actions", h("button.btn", { type: "button", onclick: () => close() }, "Cancel"), h("button.btn.btn-primary", { type: "submit" }, "Add account")),
      ),
    });
  }

  refresh();
  return () => {
    alive = false;
    endFlow();
  };
}

function planLabel(plan) {
  const map = { individual: "Pro", individual_pro: "Pro+", business: "Business", enterprise: "Enterprise", free: "Free" };
  return map[plan] ?? String(plan).replace(/_/g, " ");
}

/** Where usage lands at the reset if it goes on as it has since the cycle began. */
export function pace(snap, resetDate, now = Date.now()) {
  const reset = Date.parse(resetDate);
  if (!snap || snap.unlimited || !isFinite(reset) || !(snap.entitlement > 0) || snap.used == null) return null;
  const start = new Date(reset);
  start.setUTCMonth(start.getUTCMonth() - 1);
  const total = reset - start.getTime();
  const elapsed = Math.min(Math.max(now - start.getTime(), 0), total);
  const f = elapsed / total;
  const usedFrac = snap.used / snap.entitlement;
  const projected = f > 0.01 ? snap.used / f : null;
  const daysLeft = Math.max(0, (reset - now) / DAY);
  let runsOut = null;
  if (projected != null && projected > snap.entitlement && snap.used > 0 && snap.used < snap.entitlement) {
    runsOut = new Date(start.getTime() + (snap.entitlement / snap.used) * elapsed);
  }
  const perDay = daysLeft > 0 && snap.remaining > 0 ? snap.remaining / daysLeft : 0;
  const level = snap.overdrawn || usedFrac >= 1 ? "over" : projected != null && projected > snap.entitlement ? "warn" : "ok";
  return { f, usedFrac, projected, daysLeft, runsOut, perDay, level };
}

function quotaCard(q) {
  const login = q.account?.login ?? "account";
  if (q.error) {
    return h("article.card.quota-card",
      h("div.quota-head", h("strong", `@${login}`)),
      h("div.callout.callout-error", icon("alert"), h("span", q.error)));
  }
  const p = q.snapshots?.premium_interactions;
  const credits = q.billing === "tokens";
  const unitLabel = credits ? "AI credits" : "Premium requests";
  const pc = p?.org_billed ? null : pace(p, q.reset_date);
  const meter = h("div.meter", {
    role: "progressbar",
    "aria-label": `${unitLabel} used by @${login}`,
    "aria-valuemin": "0",
    "aria-valuemax": "100",
    "aria-valuenow": String(Math.round(Math.min(1, pc?.usedFrac ?? 0) * 100)),
  });
  const fill = h(`div.meter-fill.meter-${pc?.level ?? "ok"}`);
  fill.style.width = `${Math.min(100, (pc?.usedFrac ?? 0) * 100)}%`;
  meter.append(fill);
  if (pc) {
    const mark = h("div.meter-pace", { title: "Even pace: where usage would be today if spread evenly over the month" });
    mark.style.left = `${pc.f * 100}%`;
    meter.append(mark);
  }
  let paceText = null;
  if (p?.unlimited) {
    paceText = h("p.pace.pace-ok", "Unlimited on this plan.");
  } else if (p?.org_billed) {
    paceText = h("p.pace.pace-ok", "This seat has no allotment of its own: its organization's budget pays for the credits it uses.");
  } else if (pc) {
    const proj = pc.projected == null ? "too early to tell" : `about ${fmtNum(pc.projected, 0)} (${fmtPct(pc.projected / p.entitlement, 0)})`;
    paceText = h(`p.pace.pace-${pc.level}`,
      pc.level === "over"
        ? `Allowance used up${p.overdrawn ? `: ${fmtNum(-p.remaining)} over` : ""}. Further ${credits ? "credits" : "premium requests"} may be billed or refused until ${fmtDate(q.reset_date)}.`
        : pc.runsOut
          ? `At this pace it runs out around ${fmtDate(pc.runsOut.toISOString(), { month: "short", day: "numeric" })}, before the reset. Staying under ${fmtNum(pc.perDay, 1)} a day keeps you within it.`
          : `On pace: ${proj} by the reset. ${fmtPct(pc.f, 0)} of the month has passed.`,
    );
  }
  const simple = (name, s) => h("div.quota-row",
    h("span", name),
    h("span.mono", !s ? "—" : s.unlimited ? "Unlimited" : `${fmtNum(s.used, 0)} / ${fmtNum(s.entitlement, 0)}`));
  // Copilot's usage windows, as its answers' headers report them.
  const windowRow = (name, w) => w ? h("div.quota-row", { "data-window": name },
    h("span", name === "session" ? "5-hour limit" : "Weekly limit"),
    h("span.mono", `${fmtNum(w.percent_remaining, 1)}% left${w.resets_at ? ` · resets ${fmtDate(w.resets_at, { month: "short", day: "numeric", hour: "numeric", minute: "2-digit" })}` : ""}`)) : null;
  return h("article.card.quota-card", { "data-login": login },
    h("div.quota-head",
      h("strong", `@${login}`),
      q.account?.preferred ? badge("Preferred", "accent") : null,
      q.plan ? badge(planLabel(q.plan)) : null,
      h("span.muted.small.push", q.reset_date ? `Resets ${fmtDate(q.reset_date)}` : ""),
    ),
    h("div.quota-main",
      h("div.quota-label", unitLabel),
      p?.unlimited
        ? h("div.quota-big", "Unlimited")
        : p?.org_billed
          ? h("div.quota-big", h("span", fmtNum(p.credits_used, 1)), h("span.muted", " used"))
          : h("div.quota-big", h("span", fmtNum(p?.used, 1)), h("span.muted", ` / ${fmtNum(p?.entitlement, 0)}`)),
      p && !p.unlimited && !p.org_billed ? h("div.muted.small", `${fmtNum(p.remaining, 1)} left · ${fmtPct(pc?.usedFrac)} used`) : null,
    ),
    p && !p.unlimited && !p.org_billed ? meter : null,
    paceText,
    h("div.quota-rows",
      simple("Chat", q.snapshots?.chat), simple("Completions", q.snapshots?.completions),
      windowRow("session", q.usage_limits?.session), windowRow("weekly", q.usage_limits?.weekly)),
    q.source === "headers" && q.as_of
      ? h("p.muted.small.quota-source", "From Copilot's answers, ", timeEl(q.as_of), ".")
      : null,
  );
}

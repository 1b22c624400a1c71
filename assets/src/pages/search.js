// Web search: which provider runs agents' searches, its key (or SearXNG URL: set, replaced,
// removed, never shown back), and a test search with what is on screen. Search usage per
// key is on the Usage page.
import { api } from "../api.js";
import { h, clear, icon, toast, confirmDialog, errorBox, spinner, badge, fmtDate } from "../dom.js";

const PROVIDERS = [
  {
    id: "tavily",
    name: "Tavily",
    about: "Search built for AI agents. Free plan: 1,000 searches a month.",
    keyHint: "tvly-…",
    url: "https://app.tavily.com/",
  },
  {
    id: "brave",
    name: "Brave Search",
    about: "Brave's own index. A free subscription has a monthly quota of searches.",
    keyHint: "Subscription token",
    url: "https://api-dashboard.search.brave.com/",
  },
  {
    id: "microsoft-grounding",
    name: "Microsoft Grounding",
    about: "Bing's index through Microsoft's Web IQ API (Azure).",
    keyHint: "API key",
    url: "https://learn.microsoft.com/web-iq/",
  },
  {
    id: "searxng",
    name: "SearXNG",
    about: "A SearXNG instance you run or trust, with JSON output enabled. No key; user:password@ in the URL for basic auth.",
    url: "https://docs.searxng.org/",
  },
];

export function searchPage(main) {
  let alive = true;
  let config = null;
  let chosen = null; // the provider selected on screen (null: off)
  const inputs = new Map(); // provider id → its key (or URL) input
  const statusBox = h("div");
  const formBox = h("div", spinner("Loading search settings…"));
  const testOut = h("div.search-results", { "aria-live": "polite", "data-testid": "search-test-out" });

  main.append(
    h("div.page-head",
      h("div", h("h1", "Web search"), h("p.lead",
        "Copilot has no web search of its own: when an agent's web-search tool (Claude Code's WebSearch, Codex's web_search) asks for one, the gateway runs it with the provider chosen here. Searches are counted per key on the Usage page.")),
    ),
    statusBox,
    formBox,
    testCard(),
  );

  async function load() {
    try {
      config = await api.get("/api/search-config");
      chosen = config.provider;
      if (alive) render();
    } catch (e) {
      if (alive) clear(formBox, errorBox(e, load));
    }
  }

  function render() {
    clear(statusBox,
      config.problem ? h("div.callout.callout-error", { role: "alert" }, icon("alert"), h("span", config.problem)) : null,
      !config.encrypted ? h("div.callout.callout-warn", icon("alert"), h("span", h("strong", "Keys are stored in clear. "),
        "Set the TOKEN_ENCRYPTION_KEY secret to store them encrypted (they are sealed the next time this page loads).")) : null,
    );
    inputs.clear();
    const options = [{ id: null, name: "Off", about: "Agents that ask for a web search are told an admin has to set one up." }, ...PROVIDERS];
    const choice = h("fieldset.provider-choice", { "aria-describedby": "provider-hint" },
      h("legend.label", "Provider"),
      options.map((p) => {
        const id = `provider-${p.id ?? "off"}`;
        const set = p.id && config.credentials[p.id];
        return h("label.provider-option", { for: id },
          h("input", {
            type: "radio", id, name: "provider", value: p.id ?? "", checked: chosen === p.id,
            onchange: () => { chosen = p.id; paintRows(); },
          }),
          h("span.provider-text",
            h("span.provider-name", p.name, p.id === config.provider ? badge("In use", "ok") : null,
              p.id ? badge(set ? (p.id === "searxng" ? "URL set" : "Key set") : "Not set", set ? "accent" : "muted") : null),
            h("span.muted.small", p.about)),
        );
      }),
    );
    const rows = PROVIDERS.map(settingRow);
    const saveBtn = h("button.btn.btn-primary", { type: "submit" }, icon("check"), h("span", "Save"));
    const err = h("div", { role: "alert" });
    const form = h("form.card.stack", {
      "aria-labelledby": "search-settings-h",
      novalidate: true,
      onsubmit: async (e) => {
        e.preventDefault();
        const body = { provider: chosen };
        const credentials = {};
        for (const [id, input] of inputs) {
          const v = input.value.trim();
          if (!v) continue;
          if (id === "searxng") body.searxng_url = v;
          else credentials[id] = v;
        }
        if (Object.keys(credentials).length) body.credentials = credentials;
        saveBtn.disabled = true;
        clear(err);
        try {
          config = await api.put("/api/search-config", body);
          chosen = config.provider;
          toast(config.provider ? `Web search uses ${nameOf(config.provider)}` : "Web search is off");
          render();
        } catch (x) {
          clear(err, h("div.callout.callout-error", icon("alert"), h("span", h("strong", "Not saved. "), x.message)));
        } finally {
          saveBtn.disabled = false;
        }
      },
    },
      h("h2#search-settings-h.card-title", "Settings"),
      choice,
      h("p#provider-hint.hint", "Keys are write-only: once saved they show as “set”, never again as text."),
      h("div.provider-settings", rows),
      err,
      h("div.actions", saveBtn),
    );
    clear(formBox, form);
    paintRows();
  }

  function settingRow(p) {
    const isUrl = p.id === "searxng";
    const set = config.credentials[p.id];
    const id = `setting-${p.id}`;
    const input = h(`input#${id}.input${isUrl ? "" : ".input-mono"}`, {
      type: isUrl ? "text" : "password",
      inputmode: isUrl ? "url" : null,
      autocomplete: "off",
      spellcheck: "false",
      placeholder: set ? `Enter a new ${isUrl ? "URL" : "key"} to replace it` : isUrl ? "https://searx.example.org" : p.keyHint,
      "data-provider": p.id,
    });
    inputs.set(p.id, input);
    const current = isUrl && config.searxng_url
      ? h("span.muted.small", "Now: ", h("code", config.searxng_url))
      : null;
    const removeBtn = set
      ? h("button.btn.btn-sm.btn-danger-ghost", { type: "button", onclick: () => remove(p) }, icon("trash"), h("span", isUrl ? "Remove URL" : "Remove key"))
      : null;
    return h("div.provider-setting", { "data-setting": p.id },
      h("div.setting-row",
        h("label.label", { for: id }, isUrl ? "SearXNG URL" : `${p.name} API key`, " ",
          badge(set ? "set" : "not set", set ? "accent" : "muted")),
        h("div.actions", h("a.btn.btn-sm.btn-ghost", { href: p.url, target: "_blank", rel: "noopener noreferrer" }, icon("external"), h("span", isUrl ? "Docs" : "Get a key")), removeBtn),
      ),
      input,
      current,
    );
  }

  // Only the chosen provider's setting is shown (all of them while off, to set keys ahead).
  function paintRows() {
    for (const el of formBox.querySelectorAll(".provider-setting")) {
      el.hidden = chosen !== null && el.dataset.setting !== chosen;
    }
  }

  async function remove(p) {
    const isUrl = p.id === "searxng";
    if (config.provider === p.id) {
      toast(`${p.name} is in use: choose another provider (or Off) and save first.`, "error");
      return;
    }
    if (!(await confirmDialog({
      title: isUrl ? "Remove the SearXNG URL?" : `Remove the ${p.name} key?`,
      body: "It is deleted from this gateway. You can set it again later.",
      confirmLabel: "Remove",
      danger: true,
    }))) return;
    try {
      config = await api.put("/api/search-config", isUrl ? { searxng_url: null } : { credentials: { [p.id]: null } });
      toast(isUrl ? "SearXNG URL removed" : `${p.name} key removed`);
      render();
    } catch (x) {
      toast(x.message, "error");
    }
  }

  function testCard() {
    const query = h("input#search-test-query.input", { type: "search", placeholder: "Cloudflare Workers documentation", maxlength: 1000, autocomplete: "off" });
    const btn = h("button.btn", { type: "submit" }, icon("search"), h("span", "Test search"));
    return h("form.card.search-test", {
      "aria-labelledby": "search-test-h",
      onsubmit: async (e) => {
        e.preventDefault();
        const body = {};
        const q = query.value.trim();
        if (q) body.query = q;
        // What is on screen: the selected provider, with a typed key or URL as a draft.
        const provider = chosen ?? config?.provider ?? null;
        if (provider) {
          body.provider = provider;
          const typed = inputs.get(provider)?.value.trim();
          if (typed) body[provider === "searxng" ? "searxng_url" : "credential"] = typed;
        }
        btn.disabled = true;
        clear(testOut, spinner("Searching…"));
        try {
          const r = await api.post("/api/search-config/test", body);
          if (alive) showResult(r);
        } catch (x) {
          if (alive) clear(testOut, h("div.callout.callout-error", { role: "alert" }, icon("alert"), h("span", x.message)));
        } finally {
          btn.disabled = false;
        }
      },
    },
      h("h2#search-test-h.card-title", "Test search"),
      h("p.muted", "One search with the provider selected above (a key typed but not saved is used as a draft and not kept). Tests are not counted as usage."),
      h("label.label", { for: "search-test-query" }, "Query"),
      h("div.inline-form", query, btn),
      testOut,
    );
  }

  function showResult(r) {
    if (!r.ok) {
      clear(testOut, h("div.callout.callout-error", { role: "alert" }, icon("alert"),
        h("span", h("strong", `${nameOf(r.provider)} failed (${r.error.code}). `), r.error.message)));
      return;
    }
    if (!r.results.length) {
      clear(testOut, h("div.callout.callout-info", icon("alert"), h("span", `${nameOf(r.provider)} found nothing for “${r.query}”.`)));
      return;
    }
    clear(testOut,
      h("p.callout.callout-ok", icon("check"), h("span", `${nameOf(r.provider)} answered “${r.query}”:`)),
      h("ol.result-list", r.results.map((x) => h("li.result", { "data-testid": "search-result" },
        h("a.result-title", { href: safeUrl(x.url), target: "_blank", rel: "noopener noreferrer" }, x.title),
        h("div.result-meta", h("span.result-url", x.url), x.page_age ? h("span.muted", ` · ${age(x.page_age)}`) : null),
        x.preview ? h("p.result-preview", x.preview) : null,
      ))),
    );
  }

  load();
  return () => { alive = false; };
}

/** An ISO date as a local date; anything else ("2 days ago") as the provider wrote it. */
const age = (s) => (/^\d{4}-\d{2}-\d{2}/.test(s) ? fmtDate(s) : s);

const nameOf = (id) => PROVIDERS.find((p) => p.id === id)?.name ?? id;

/** Only http(s) links are clickable (a provider could return anything). */
function safeUrl(u) {
  try {
    const url = new URL(u);
    return url.protocol === "https:" || url.protocol === "http:" ? url.href : "#";
  } catch {
    return "#";
  }
}

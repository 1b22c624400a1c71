// Setup: ready-to-paste configuration for Claude Code and Codex with this page's origin,
// and a "test this setup" round trip through the gateway's data plane with that key.
import { api, errorFrom } from "../api.js";
import { h, clear, icon, copyButton, errorBox, spinner, badge, fmtInt } from "../dom.js";

const PLACEHOLDER = "<your-api-key>";

export function setupPage(main, app) {
  let alive = true;
  const params = new URLSearchParams(location.hash.split("?")[1] ?? "");
  const origin = location.origin;
  const state = {
    keyId: params.get("key") ?? null,
    pasted: "",
    showKey: false,
    claudeModel: null,
    haikuModel: null,
    codexModel: null,
  };
  let keys = [];
  let models = [];

  const body = h("div.stack-lg", spinner("Loading…"));
  main.append(
    h("div.page-head", h("div",
      h("h1", "Set up your agents"),
      h("p.lead", "Copy a ready-made configuration for Claude Code or Codex, then test it: the test makes a real request through this gateway with the key."),
    )),
    body,
  );

  /** The raw key for the snippets and the test, if this page knows it. */
  function rawKey() {
    if (state.pasted.trim()) return state.pasted.trim();
    if (app.session.role === "key") return app.rawKey;
    return state.keyId ? app.freshKeys.get(state.keyId)?.key ?? null : null;
  }
  const keyForCopy = () => rawKey() ?? PLACEHOLDER;
  function keyForDisplay() {
    const k = rawKey();
    if (!k) return PLACEHOLDER;
    return state.showKey ? k : `${k.slice(0, 8)}${"•".repeat(12)}`;
  }

  async function load() {
    try {
      const [m, k] = await Promise.all([
        app.models(),
        app.session.role === "admin" ? api.get("/api/keys") : Promise.resolve(null),
      ]);
      models = m.filter((x) => x.model_type !== "embeddings");
      keys = k ?? [];
      if (app.session.role === "admin" && !keys.some((x) => x.id === state.keyId)) {
        // Prefer a key created in this tab (its raw value is known), else the first one.
        const fresh = keys.find((x) => app.freshKeys.has(x.id));
        state.keyId = (fresh ?? keys[0])?.id ?? null;
      }
      const cc = claudeCodeModels(models);
      state.claudeModel = pick(cc, [/sonnet-4\.5/, /sonnet/, /opus/, /claude/]) ?? cc[0]?.id ?? null;
      state.haikuModel = pick(cc, [/haiku-4\.5/, /haiku/, /mini/]) ?? state.claudeModel;
      const cx = codexModels(models);
      state.codexModel = pick(cx, [/gpt-5\.1-codex$/, /codex/, /gpt-5/]) ?? cx[0]?.id ?? null;
      if (alive) render();
    } catch (e) {
      if (alive) clear(body, errorBox(e, load));
    }
  }

  // The key and model pickers stay put while typing or choosing (no focus loss); only the
  // key status and the snippets below them are redrawn.
  const keyStatus = h("div");
  const snippetsBox = h("div.stack-lg");

  function render() {
    const cc = claudeCodeModels(models);
    const cx = codexModels(models);

    // ---- key chooser ----
    const keyCard = h("section.card", { "aria-labelledby": "key-h" }, h("h2#key-h.card-title", "1. Choose the key"));
    if (app.session.role === "admin") {
      if (!keys.length) {
        keyCard.append(h("p.muted", "There are no API keys yet. ", h("a", { href: "#/keys" }, "Create one"), " first: its value is shown once, and this page can use it right away."));
      } else {
        const paste = pasteField();
        const sel = h("select#setup-key.input", {
          onchange: () => {
            state.keyId = sel.value;
            state.pasted = "";
            paste.querySelector("input").value = "";
            resetTests();
            renderSnippets();
          },
        }, keys.map((k) => h("option", { value: k.id, selected: k.id === state.keyId }, `${k.name} (${k.prefix}…)${app.freshKeys.has(k.id) ? " · just created" : ""}`)));
        keyCard.append(h("div.form-grid",
          h("div", h("label.label", { for: "setup-key" }, "API key"), sel),
          paste,
        ));
      }
    } else {
      const k = app.session.key ?? {};
      keyCard.append(h("p", "You are signed in with the key ", h("strong", k.name ?? ""), k.prefix ? h("code.key-prefix", ` ${k.prefix}…`) : null, "."));
      if (!app.rawKey) keyCard.append(h("div.form-grid", pasteField()));
    }
    keyCard.append(keyStatus);

    // ---- models ----
    const modelSel = (id, list, api, value, on) => h("select.input", { id, onchange: (e) => { on(e.target.value); resetTests(); renderSnippets(); } },
      list.map((m) => h("option", { value: m.id, selected: m.id === value }, `${m.id}${m.routes?.[api] === "native" ? "" : " (translated)"}`)));
    const modelCard = h("section.card", { "aria-labelledby": "models-h" },
      h("h2#models-h.card-title", "2. Pick the models"),
      h("div.form-grid.form-grid-3",
        h("div", h("label.label", { for: "cc-model" }, "Claude Code: main model"), modelSel("cc-model", cc, "messages", state.claudeModel, (v) => (state.claudeModel = v))),
        h("div", h("label.label", { for: "cc-haiku" }, "Claude Code: fast model"), modelSel("cc-haiku", cc, "messages", state.haikuModel, (v) => (state.haikuModel = v)),
          h("p.hint", "Used for quick background tasks (titles, summaries).")),
        h("div", h("label.label", { for: "cx-model" }, "Codex model"), modelSel("cx-model", cx, "responses", state.codexModel, (v) => (state.codexModel = v))),
      ),
    );
    clear(body, keyCard, modelCard, snippetsBox);
    renderSnippets();
  }

  function renderSnippets(focusToggle = false) {
    const known = rawKey();
    const toggle = h("button.btn.btn-sm.btn-ghost", {
      type: "button", "aria-pressed": String(state.showKey),
      onclick: () => { state.showKey = !state.showKey; renderSnippets(true); },
    }, state.showKey ? "Hide key" : "Show key");
    clear(keyStatus, known
      ? h("div.key-state", h("span.muted.small", "The snippets below contain this key. "), toggle)
      : h("p.callout.callout-info", icon("alert"), h("span", "The gateway keeps only a hash of each key, so the snippets show ", h("code", PLACEHOLDER), ". Paste the key above (it stays in this page's memory only) or create a new one to fill it in.")));
    if (focusToggle) toggle.focus();

    // ---- snippets ----
    const env = (key) => [
      `export ANTHROPIC_BASE_URL=${origin}`,
      `export ANTHROPIC_AUTH_TOKEN=${key}`,
      `export ANTHROPIC_MODEL=${state.claudeModel ?? ""}`,
      `export ANTHROPIC_DEFAULT_HAIKU_MODEL=${state.haikuModel ?? ""}`,
    ].join("\n");
    const settingsJson = (key) => JSON.stringify({
      env: {
        ANTHROPIC_BASE_URL: origin,
        ANTHROPIC_AUTH_TOKEN: key,
        ANTHROPIC_MODEL: state.claudeModel ?? "",
        ANTHROPIC_DEFAULT_HAIKU_MODEL: state.haikuModel ?? "",
      },
    }, null, 2);
    const codexToml = () => [
      `model = "${state.codexModel ?? ""}"`,
      `model_provider = "copilot_gateway"`,
      ``,
      `[model_providers.copilot_gateway]`,
      `name = "Copilot Gateway"`,
      `base_url = "${origin}/v1"`,
      `env_key = "COPILOT_GATEWAY_API_KEY"`,
      `wire_api = "responses"`,
      `# supports_websockets = true  # optional: one WebSocket per session, each turn sends only its new items`,
    ].join("\n");
    const codexEnv = (key) => `export COPILOT_GATEWAY_API_KEY=${key}`;

    const claudeCard = h("section.card", { "aria-labelledby": "cc-h", "data-testid": "claude-code-card" },
      h("div.card-head", h("h2#cc-h.card-title", "3. Claude Code"), badge("Anthropic Messages")),
      tabs("cc", [
        {
          label: "Environment variables",
          render: () => [
            h("p.hint", "Add to ~/.bashrc, ~/.zshrc or your shell's profile, then start a new terminal and run ", h("code", "claude"), "."),
            snippet("claude-env", env(keyForDisplay()), () => env(keyForCopy()), "Copy variables"),
          ],
        },
        {
          label: "~/.claude/settings.json",
          render: () => [
            h("p.hint", "Or put the same variables under ", h("code", "env"), " in ", h("code", "~/.claude/settings.json"), " (merge with what is there)."),
            snippet("claude-settings", settingsJson(keyForDisplay()), () => settingsJson(keyForCopy()), "Copy settings.json"),
          ],
        },
      ]),
      testPanel("claude", "Test Claude Code setup", () => testMessages(rawKey(), state.claudeModel)),
    );

    const codexCard = h("section.card", { "aria-labelledby": "cx-h", "data-testid": "codex-card" },
      h("div.card-head", h("h2#cx-h.card-title", "4. Codex CLI"), badge("OpenAI Responses")),
      h("p.hint", "In ", h("code", "~/.codex/config.toml"), ":"),
      snippet("codex-config", codexToml(), codexToml, "Copy config.toml"),
      h("p.hint", "And in your shell's profile:"),
      snippet("codex-env", codexEnv(keyForDisplay()), () => codexEnv(keyForCopy()), "Copy variable"),
      testPanel("codex", "Test Codex setup", () => testResponses(rawKey(), state.codexModel)),
    );

    const other = h("section.card", { "aria-labelledby": "sdk-h" },
      h("h2#sdk-h.card-title", "Any OpenAI or Anthropic SDK"),
      h("dl.kv",
        h("dt", "OpenAI base URL"), h("dd", h("code", `${origin}/v1`)),
        h("dt", "Anthropic base URL"), h("dd", h("code", origin)),
        h("dt", "API key"), h("dd", "the gateway key, as ", h("code", "x-api-key"), " or ", h("code", "Authorization: Bearer")),
      ),
    );

    clear(snippetsBox, claudeCard, codexCard, other);
  }

  function pasteField() {
    const input = h("input#setup-paste.input.input-mono", {
      type: "password", autocomplete: "off", spellcheck: "false", placeholder: "cgw_…", value: state.pasted,
      oninput: (e) => { state.pasted = e.target.value; resetTests(); renderSnippets(); },
    });
    return h("div", h("label.label", { for: "setup-paste" }, "Paste the key (optional)"), input,
      h("p.hint", "Kept in this page's memory only; never sent anywhere but this gateway."));
  }

  const testOutputs = new Map(); // kept across snippet redraws (e.g. showing the key)
  const resetTests = () => testOutputs.forEach((o) => clear(o));

  function testPanel(id, label, run) {
    if (!testOutputs.has(id)) testOutputs.set(id, h("div.test-out", { "aria-live": "polite", "data-testid": `test-${id}` }));
    const out = testOutputs.get(id);
    const btn = h("button.btn.btn-primary", { type: "button" }, icon("play"), h("span", label));
    btn.addEventListener("click", async () => {
      if (!rawKey()) {
        clear(out, h("div.callout.callout-warn", icon("alert"), h("span", "Paste the API key first: the test sends it to the gateway exactly as your agent will.")));
        return;
      }
      btn.disabled = true;
      clear(out, spinner("Sending a request through the gateway…"));
      const t0 = performance.now();
      try {
        const r = await run();
        const ms = Math.round(performance.now() - t0);
        clear(out, h("div.callout.callout-ok", icon("check"),
          h("div",
            h("strong", "It works. "),
            `${r.model} answered in ${fmtInt(ms)} ms`,
            r.usage ? ` (${fmtInt(r.usage.input)} in, ${fmtInt(r.usage.output)} out)` : "",
            ":",
            h("blockquote.answer", r.text || "(empty answer)"),
          )));
      } catch (e) {
        clear(out, h("div.callout.callout-error", icon("alert"), h("div", h("strong", `Failed${e.status ? ` (${e.status})` : ""}. `), explain(e))));
      } finally {
        btn.disabled = false;
      }
    });
    return h("div.test", btn, out);
  }

  load();
  return () => { alive = false; };
}

function explain(e) {
  if (e.status === 401) return "The gateway did not accept this key. Check that it is complete and has not been rotated or deleted.";
  if (e.status === 403) return `${e.message} (the admin key cannot call the data plane: use an API key).`;
  if (e.status === 429) return `${e.message}${e.retryAfter ? ` Retry in ${e.retryAfter} s.` : ""}`;
  return e.message;
}

async function testMessages(key, model) {
  const res = await fetch("/v1/messages", {
    method: "POST",
    credentials: "omit", // the data plane never takes the session cookie: the key alone
    headers: { "content-type": "application/json", "x-api-key": key, "anthropic-version": "2023-06-01" },
    body: JSON.stringify({ model, max_tokens: 256, messages: [{ role: "user", content: "Say hello from the gateway setup test." }] }),
  });
  if (!res.ok) throw await errorFrom(res);
  const j = await res.json();
  return {
    model: j.model ?? model,
    text: (j.content ?? []).filter((b) => b.type === "text").map((b) => b.text).join(""),
    usage: j.usage ? { input: j.usage.input_tokens, output: j.usage.output_tokens } : null,
  };
}

async function testResponses(key, model) {
  const res = await fetch("/v1/responses", {
    method: "POST",
    credentials: "omit",
    headers: { "content-type": "application/json", authorization: `Bearer ${key}` },
    body: JSON.stringify({ model, input: "Say hello from the gateway setup test.", max_output_tokens: 256, store: false }),
  });
  if (!res.ok) throw await errorFrom(res);
  const j = await res.json();
  const text = (j.output ?? []).flatMap((o) => o.content ?? []).filter((c) => c.type === "output_text").map((c) => c.text).join("");
  return {
    model: j.model ?? model,
    text,
    usage: j.usage ? { input: j.usage.input_tokens, output: j.usage.output_tokens } : null,
  };
}

function snippet(id, shown, copy, label) {
  return h("div.snippet",
    h("pre.code", { id: `snippet-${id}`, tabindex: "0", "aria-label": label.replace(/^Copy /, "") }, h("code", shown)),
    h("div.snippet-actions", copyButton(copy, label, { "data-testid": `copy-${id}` })),
  );
}

/** Accessible tabs: arrow keys move between them. */
function tabs(id, list) {
  const panel = h("div.tab-panel", { role: "tabpanel", id: `${id}-panel`, tabindex: "0" });
  const buttons = list.map((t, i) => h("button.tab", {
    type: "button", role: "tab", id: `${id}-tab-${i}`, "aria-controls": `${id}-panel`,
    onclick: () => select(i),
    onkeydown: (e) => {
      const d = e.key === "ArrowRight" ? 1 : e.key === "ArrowLeft" ? -1 : 0;
      if (d) { const n = (i + d + list.length) % list.length; select(n); buttons[n].focus(); }
    },
  }, t.label));
  let current = tabs.memory.get(id) ?? 0;
  function select(i) {
    current = i;
    tabs.memory.set(id, i);
    buttons.forEach((b, j) => {
      b.setAttribute("aria-selected", String(j === i));
      b.tabIndex = j === i ? 0 : -1;
    });
    panel.setAttribute("aria-labelledby", `${id}-tab-${i}`);
    clear(panel, list[i].render());
  }
  select(current);
  return h("div.tabs", h("div.tab-list", { role: "tablist" }, buttons), panel);
}
tabs.memory = new Map();

function pick(list, patterns) {
  for (const p of patterns) {
    const m = list.find((x) => p.test(x.id));
    if (m) return m.id;
  }
  return null;
}

const TIER = { opus: 0, sonnet: 1, haiku: 2 };
function claudeRank(id) {
  const m = /claude-(opus|sonnet|haiku)-([\d.]+)/.exec(id);
  return m ? [TIER[m[1]], -parseFloat(m[2])] : [9, 0];
}

/** Models Claude Code can use (any that /v1/messages serves), Claude first by tier and version. */
export function claudeCodeModels(models) {
  return models
    .filter((m) => m.routes?.messages && m.model_type !== "embeddings")
    .sort((a, b) => {
      const [ta, va] = claudeRank(a.id);
      const [tb, vb] = claudeRank(b.id);
      return ta - tb || va - vb || a.id.localeCompare(b.id);
    });
}

/** Models Codex can use (served on /v1/responses), native ones first. */
export function codexModels(models) {
  return models
    .filter((m) => m.routes?.responses && m.model_type !== "embeddings")
    .sort((a, b) => (a.routes.responses === "native" ? 0 : 1) - (b.routes.responses === "native" ? 0 : 1)
      || (/codex/.test(b.id) ? 1 : 0) - (/codex/.test(a.id) ? 1 : 0) || a.id.localeCompare(b.id));
}

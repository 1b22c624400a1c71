// Settings: appearance, session, export (download) and import (with a preview of what the
// file holds and what a replace would delete).
import { api, request, errorFrom } from "../api.js";
import { h, clear, icon, toast, confirmDialog, errorBox, spinner, fmtInt, fmtDate, download } from "../dom.js";
import { currentTheme, setTheme } from "../theme.js";
import { segmented } from "./usage.js";

export function settingsPage(main, app) {
  let alive = true;
  const session = app.session;

  const themeBar = segmented("Theme", [["system", "System"], ["light", "Light"], ["dark", "Dark"]], currentTheme, (v) => setTheme(v));
  const onTheme = () => { for (const b of themeBar.children) b.setAttribute("aria-pressed", String(b.dataset.value === currentTheme())); };
  window.addEventListener("themechange", onTheme);

  // ---- export ----
  const exportBtn = h("button.btn.btn-primary", { type: "button" }, icon("download"), h("span", "Download export"));
  exportBtn.addEventListener("click", async () => {
    exportBtn.disabled = true;
    try {
      const res = await fetch("/api/export", { credentials: "same-origin" });
      if (!res.ok) throw await errorFrom(res);
      const blob = await res.blob();
      const cd = res.headers.get("content-disposition") ?? "";
      const name = /filename="?([^";]+)"?/.exec(cd)?.[1] ?? `copilot-gateway-export-${new Date().toISOString().slice(0, 10)}.json`;
      download(blob, name);
      toast("Export downloaded");
    } catch (e) {
      toast(e.message, "error");
    } finally {
      exportBtn.disabled = false;
    }
  });

  // ---- import ----
  const file = h("input#import-file.input", { type: "file", accept: "application/json,.json" });
  const preview = h("div.import-preview", { "aria-live": "polite" });
  let doc = null;
  file.addEventListener("change", async () => {
    doc = null;
    const f = file.files?.[0];
    if (!f) return clear(preview);
    clear(preview, spinner("Reading the file…"));
    try {
      const parsed = JSON.parse(await f.text());
      const data = parsed?.data && typeof parsed.data === "object" && !Array.isArray(parsed.data) ? parsed.data : parsed;
      const counts = {
        api_keys: arrLen(data?.api_keys),
        github_accounts: arrLen(data?.github_accounts),
        usage: arrLen(data?.usage),
      };
      if (Object.values(counts).some((n) => n == null)) throw new Error("This is not a Copilot Gateway export: it needs api_keys, github_accounts and usage lists.");
      const [keys, accounts] = await Promise.all([api.get("/api/keys"), api.get("/api/github/accounts")]);
      if (!alive) return;
      doc = parsed;
      renderPreview(f.name, parsed, data, counts, { api_keys: keys.length, github_accounts: accounts.length });
    } catch (e) {
      clear(preview, h("div.callout.callout-error", { role: "alert" }, icon("alert"), h("span", e instanceof SyntaxError ? "This file is not valid JSON." : e.message)));
    }
  });

  function renderPreview(name, parsed, data, counts, current) {
    let mode = "merge";
    const warn = h("div");
    const modeBar = segmented("Import mode", [["merge", "Merge"], ["replace", "Replace everything"]], () => mode, (v) => { mode = v; paintWarn(); });
    function paintWarn() {
      go.classList.toggle("btn-primary", mode !== "replace");
      go.classList.toggle("btn-danger", mode === "replace");
      clear(warn, mode === "replace"
        ? h("div.callout.callout-error", icon("alert"), h("span", h("strong", "Replace deletes everything here first: "),
          `${plural(current.api_keys, "API key", "API keys")}, ${plural(current.github_accounts, "GitHub account", "GitHub accounts")}, all usage history, the web search settings and the model aliases, then loads the file. Keys not in the file stop working.`))
        : h("div.callout.callout-info", icon("alert"), h("span", "Merge adds what the file has and updates entries with the same id; everything else here stays.")));
    }
    const go = h("button.btn.btn-primary", { type: "button" }, icon("upload"), h("span", "Import"));
    paintWarn();
    go.addEventListener("click", async () => {
      if (mode === "replace" && !(await confirmDialog({
        title: "Replace all data?",
        body: `This deletes ${plural(current.api_keys, "API key", "API keys")}, ${plural(current.github_accounts, "account", "accounts")} and all usage here, then imports ${plural(counts.api_keys, "key", "keys")}, ${plural(counts.github_accounts, "account", "accounts")} and ${plural(counts.usage, "usage row", "usage rows")} from ${name}.`,
        confirmLabel: "Replace everything",
        danger: true,
      }))) return;
      go.disabled = true;
      try {
        const r = await request("POST", "/api/import", { mode, data: doc });
        app.modelsPromise = null;
        const i = r?.imported ?? counts;
        clear(preview, h("div.callout.callout-ok", { role: "status" }, icon("check"),
          h("span", h("strong", "Imported. "), `${plural(i.api_keys, "API key", "API keys")}, ${plural(i.github_accounts, "GitHub account", "GitHub accounts")} and ${plural(i.usage, "usage row", "usage rows")} (${r?.mode ?? mode}).`)));
        file.value = "";
        toast("Import complete");
      } catch (e) {
        go.disabled = false;
        clear(warn, h("div.callout.callout-error", { role: "alert" }, icon("alert"), h("span", h("strong", "Nothing was imported. "), e.message)));
      }
    });
    clear(preview,
      h("div.preview-head",
        h("strong", name),
        parsed?.exported_at ? h("span.muted.small", ` exported ${fmtDate(parsed.exported_at, { dateStyle: "medium", timeStyle: "short" })}`) : null,
        parsed?.version != null ? h("span.muted.small", ` · format version ${parsed.version}`) : null),
      h("table.table.preview-table", { "data-testid": "import-preview" },
        h("thead", h("tr", h("th", { scope: "col" }, ""), h("th.num", { scope: "col" }, "In the file"), h("th.num", { scope: "col" }, "Here now"))),
        h("tbody",
          h("tr", { "data-row": "api_keys" }, h("th", { scope: "row" }, "API keys"), h("td.num", fmtInt(counts.api_keys)), h("td.num", fmtInt(current.api_keys))),
          h("tr", { "data-row": "github_accounts" }, h("th", { scope: "row" }, "GitHub accounts"), h("td.num", fmtInt(counts.github_accounts)), h("td.num", fmtInt(current.github_accounts))),
          h("tr", { "data-row": "usage" }, h("th", { scope: "row" }, "Usage rows (key × model × hour)"), h("td.num", fmtInt(counts.usage)), h("td.num.muted", "—")),
          Array.isArray(data?.model_aliases) ? h("tr", { "data-row": "model_aliases" }, h("th", { scope: "row" }, "Model aliases"), h("td.num", fmtInt(data.model_aliases.length)), h("td.num.muted", "—")) : null,
          Array.isArray(data?.search_usage) ? h("tr", { "data-row": "search_usage" }, h("th", { scope: "row" }, "Web search rows (key × provider × hour)"), h("td.num", fmtInt(data.search_usage.length)), h("td.num.muted", "—")) : null,
          data?.search_config ? h("tr", { "data-row": "search_config" }, h("th", { scope: "row" }, "Web search settings"), h("td.num", data.search_config.provider ?? "off"), h("td.num.muted", "—")) : null,
        )),
      h("div.toolbar", modeBar),
      warn,
      h("div.actions", go),
    );
  }

  main.append(
    h("div.page-head", h("div", h("h1", "Settings"))),
    h("section.card", { "aria-labelledby": "appearance-h" },
      h("h2#appearance-h.card-title", "Appearance"),
      h("div.setting-row", h("div", h("div.setting-name", "Theme"), h("div.muted.small", "System follows your device's light or dark setting.")), themeBar),
    ),
    h("section.card", { "aria-labelledby": "session-h" },
      h("h2#session-h.card-title", "Session"),
      h("div.setting-row",
        h("div", h("div.setting-name", session.role === "admin" ? "Signed in with the ADMIN_KEY" : "Signed in with an API key"),
          h("div.muted.small", session.expires_at ? `Expires ${fmtDate(session.expires_at, { dateStyle: "medium", timeStyle: "short" })}` : "The session ends when you sign out.")),
      ),
    ),
    h("section.card", { "aria-labelledby": "export-h" },
      h("h2#export-h.card-title", "Export"),
      h("p", "Everything this deployment holds, as one JSON file: API key hashes (never the keys themselves), GitHub accounts, web search settings and usage history. Use it as a backup or to move to another deployment."),
      h("p.callout.callout-warn", icon("alert"), h("span", h("strong", "The file contains your GitHub tokens and search provider keys. "), "Anyone with it can use your Copilot subscription: keep it somewhere safe.")),
      h("div.actions", exportBtn),
    ),
    h("section.card", { "aria-labelledby": "import-h" },
      h("h2#import-h.card-title", "Import"),
      h("p", "Load an export. You see what the file holds before anything changes; the whole file is checked first and applied in one transaction."),
      h("label.label", { for: "import-file" }, "Export file"),
      file,
      preview,
    ),
  );

  return () => {
    alive = false;
    window.removeEventListener("themechange", onTheme);
  };
}

const plural = (n, one, many) => `${fmtInt(n)} ${n === 1 ? one : many}`;

function arrLen(x) {
  return Array.isArray(x) ? x.length : null;
}

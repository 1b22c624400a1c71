// API keys: create (the key is shown once), rename, limits, rotate, delete.
import { api, hourKey, currentHourMs, HOUR } from "../api.js";
import {
  h, clear, icon, toast, modal, confirmDialog, copyButton, empty, errorBox, spinner, badge,
  fmtInt, fmtCompact, timeEl,
} from "../dom.js";

export function keysPage(main, app) {
  let alive = true;
  let keys = [];
  let monthUse = new Map(); // key id → tokens this UTC month
  const reveal = h("div.reveal-slot");
  const listBox = h("div");

  const nameInput = h("input#new-key-name.input", { type: "text", name: "name", maxlength: 100, placeholder: "e.g. laptop, ci, claude-code", autocomplete: "off", required: true });
  const createBtn = h("button.btn.btn-primary", { type: "submit" }, icon("plus"), h("span", "Create key"));
  const createForm = h("form.create-key", {
    onsubmit: async (e) => {
      e.preventDefault();
      const name = nameInput.value.trim();
      if (!name) { nameInput.focus(); return; }
      createBtn.disabled = true;
      try {
        const k = await api.post("/api/keys", { name });
        nameInput.value = "";
        showReveal(k, "created");
        load();
      } catch (x) {
        toast(x.message, "error");
      } finally {
        createBtn.disabled = false;
      }
    },
  },
    h("label.label", { for: "new-key-name" }, "New key"),
    h("div.inline-form", nameInput, createBtn),
  );

  main.append(
    h("div.page-head",
      h("div", h("h1", "API keys"), h("p.lead", "Each agent or machine gets its own key, so you can see its usage, limit it, and revoke it without touching the others.")),
    ),
    h("div.card", createForm),
    reveal,
    h("section.section", { "aria-label": "Keys" }, listBox),
  );

  let revealed = null; // id of the key whose value is on screen

  function showReveal(k, verb) {
    revealed = k.id;
    app.freshKeys.set(k.id, { key: k.key, name: k.name });
    const field = h("input.input.input-mono.key-field", { type: "text", readonly: true, value: k.key, "aria-label": "New API key", "data-testid": "new-key" });
    field.addEventListener("focus", () => field.select());
    const card = h("div.card.reveal", { role: "region", "aria-labelledby": "reveal-h" },
      h("div.reveal-head", icon("keys"), h("h2#reveal-h", verb === "rotated" ? `New key for “${k.name}”` : `Key “${k.name}” created`)),
      h("p.callout.callout-warn", icon("alert"), h("span", h("strong", "Copy it now. "), "This is the only time the key is shown: the gateway keeps only a hash of it.",
        verb === "rotated" ? " The previous key has stopped working." : "")),
      h("div.key-row", field, copyButton(() => k.key, "Copy key")),
      h("div.actions",
        h("a.btn", { href: `#/setup?key=${encodeURIComponent(k.id)}` }, icon("setup"), h("span", "Set up an agent with this key")),
        h("button.btn.btn-ghost", { type: "button", onclick: () => { clear(reveal); revealed = null; nameInput.focus(); } }, "Done"),
      ),
    );
    clear(reveal, card);
    field.focus();
  }

  async function load() {
    if (!keys.length) clear(listBox, spinner("Loading keys…"));
    try {
      const [list, usage] = await Promise.all([
        api.get("/api/keys"),
        monthUsage().catch(() => null),
      ]);
      keys = list ?? [];
      if (usage) monthUse = usage;
      if (alive) render();
    } catch (e) {
      if (alive) clear(listBox, errorBox(e, load));
    }
  }

  function render() {
    if (!keys.length) {
      clear(listBox, h("div.card", empty("No API keys yet", "Create one above, then copy its setup for Claude Code or Codex.")));
      return;
    }
    const rows = keys.map(row);
    clear(listBox, h("div.card.table-card",
      h("table.table.keys-table",
        h("thead", h("tr",
          h("th", { scope: "col" }, "Name"),
          h("th", { scope: "col" }, "Last used"),
          h("th.num", { scope: "col" }, "Tokens this month"),
          h("th", { scope: "col" }, "Limits"),
          h("th", { scope: "col" }, h("span.visually-hidden", "Actions")),
        )),
        h("tbody", rows),
      ),
    ));
  }

  function row(k) {
    const used = monthUse.get(k.id) ?? 0;
    const lim = k.limits ?? {};
    const limits = [
      lim.requests_per_minute != null ? badge(`${fmtInt(lim.requests_per_minute)} req/min`) : null,
      lim.tokens_per_month != null ? badge(`${fmtCompact(lim.tokens_per_month)} tokens/month`) : null,
    ].filter(Boolean);
    const overMonthly = lim.tokens_per_month != null && used >= lim.tokens_per_month;
    return h("tr", { "data-key-id": k.id, "data-key-name": k.name },
      h("td", { "data-label": "Name" },
        h("div.key-cell", h("strong.key-name", k.name), h("code.key-prefix", `${k.prefix}…`))),
      h("td", { "data-label": "Last used" }, h("div.cell-stack",
        h("span", k.last_used_at ? timeEl(k.last_used_at) : h("span.muted", "Never")),
        h("span.muted.small", "created ", timeEl(k.created_at)))),
      h("td.num", { "data-label": "Tokens this month" },
        h(overMonthly ? "span.text-danger" : "span", fmtInt(used)),
        lim.tokens_per_month != null ? h("span.muted", ` / ${fmtCompact(lim.tokens_per_month)}`) : null),
      h("td", { "data-label": "Limits" }, limits.length ? h("div.badges", limits) : h("span.muted", "None")),
      h("td.row-actions", { "data-label": "" },
        h("button.btn.btn-sm.btn-ghost", { type: "button", "aria-label": `Rename ${k.name}`, onclick: () => rename(k) }, icon("edit"), h("span", "Rename")),
        h("button.btn.btn-sm.btn-ghost", { type: "button", "aria-label": `Limits of ${k.name}`, onclick: () => editLimits(k) }, icon("gauge"), h("span", "Limits")),
        h("button.btn.btn-sm.btn-ghost", { type: "button", "aria-label": `Rotate ${k.name}`, onclick: () => rotate(k) }, icon("rotate"), h("span", "Rotate")),
        h("button.btn.btn-sm.btn-danger-ghost", { type: "button", "aria-label": `Delete ${k.name}`, onclick: () => remove(k) }, icon("trash"), h("span", "Delete")),
      ),
    );
  }

  async function rename(k) {
    const input = h("input#rename-key.input", { type: "text", value: k.name, maxlength: 100, required: true, autofocus: true });
    const err = h("div", { role: "alert" });
    await modal({
      title: "Rename key",
      render: (close) => h("form.stack", {
        onsubmit: async (e) => {
          e.preventDefault();
          const name = input.value.trim();
          if (!name) return;
          try {
            await api.patch(`/api/keys/${k.id}`, { name });
            toast(`Renamed to “${name}”`);
            close(true);
            load();
          } catch (x) {
            clear(err, h("div.callout.callout-error", icon("alert"), h("span", x.message)));
          }
        },
      },
        h("label.label", { for: "rename-key" }, "Name"),
        input,
        err,
        h("div.actions", h("button.btn", { type: "button", onclick: () => close() }, "Cancel"), h("button.btn.btn-primary", { type: "submit" }, "Save")),
      ),
    });
  }

  async function editLimits(k) {
    const lim = k.limits ?? {};
    const rpm = h("input#lim-rpm.input", { type: "number", min: 1, step: 1, inputmode: "numeric", placeholder: "No limit", value: lim.requests_per_minute ?? "" });
    const tpm = h("input#lim-tpm.input", { type: "number", min: 1, step: 1, inputmode: "numeric", placeholder: "No limit", value: lim.tokens_per_month ?? "" });
    const err = h("div", { role: "alert" });
    const parse = (el) => {
      const v = el.value.trim();
      if (v === "") return null;
      const n = Number(v);
      if (!Number.isInteger(n) || n < 1) throw new Error("Limits are whole numbers of at least 1, or empty for no limit.");
      return n;
    };
    await modal({
      title: `Limits for “${k.name}”`,
      render: (close) => h("form.stack", {
        onsubmit: async (e) => {
          e.preventDefault();
          try {
            const limits = { requests_per_minute: parse(rpm), tokens_per_month: parse(tpm) };
            await api.patch(`/api/keys/${k.id}`, { limits });
            toast("Limits saved");
            close(true);
            load();
          } catch (x) {
            clear(err, h("div.callout.callout-error", icon("alert"), h("span", x.message)));
          }
        },
      },
        h("p.muted", "Past a limit the caller gets 429 with retry-after, in its own API's error format. Leave a field empty for no limit."),
        h("div.form-grid",
          h("div", h("label.label", { for: "lim-rpm" }, "Requests per minute"), rpm),
          h("div", h("label.label", { for: "lim-tpm" }, "Tokens per month (UTC)"), tpm),
        ),
        err,
        h("div.actions", h("button.btn", { type: "button", onclick: () => close() }, "Cancel"), h("button.btn.btn-primary", { type: "submit" }, "Save limits")),
      ),
    });
  }

  async function rotate(k) {
    const ok = await confirmDialog({
      title: `Rotate “${k.name}”?`,
      body: "A new key is issued for the same name, limits and usage history. The current key stops working at once: update every agent that uses it.",
      confirmLabel: "Rotate key",
      danger: true,
    });
    if (!ok) return;
    try {
      const r = await api.post(`/api/keys/${k.id}/rotate`);
      showReveal({ ...k, ...r, name: r.name ?? k.name }, "rotated");
      load();
    } catch (x) {
      toast(x.message, "error");
    }
  }

  async function remove(k) {
    const ok = await confirmDialog({
      title: `Delete “${k.name}”?`,
      body: "Agents using this key are refused from now on. Its usage history stays in the usage charts. This cannot be undone.",
      confirmLabel: "Delete key",
      danger: true,
    });
    if (!ok) return;
    try {
      await api.del(`/api/keys/${k.id}`);
      app.freshKeys.delete(k.id);
      if (revealed === k.id) { clear(reveal); revealed = null; }
      toast(`Deleted “${k.name}”`);
      load();
    } catch (x) {
      toast(x.message, "error");
    }
  }

  load();
  return () => { alive = false; };
}

/** Tokens (input + output) per key since the start of this UTC month. */
async function monthUsage() {
  const now = new Date();
  const start = Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), 1);
  const r = await api.get(`/api/usage?start=${hourKey(start)}&end=${hourKey(currentHourMs() + HOUR)}&group_by=key`);
  const m = new Map();
  for (const rec of r?.records ?? []) m.set(rec.key_id, (m.get(rec.key_id) ?? 0) + rec.input_tokens + rec.output_tokens);
  return m;
}

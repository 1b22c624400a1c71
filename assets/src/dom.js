// Small DOM helpers: element creation without innerHTML (so nothing a server or user sends
// is ever parsed as markup), icons, formatting, toasts, dialogs and the clipboard.

const SVG = "http://www.w3.org/2000/svg";

/**
 * h("div.card#id", { onclick, "aria-label": "x", value, disabled }, ...children)
 * Children: nodes, strings, numbers, arrays; null/false/undefined are skipped.
 */
export function h(spec, props, ...children) {
  if (props == null || typeof props !== "object" || props instanceof Node || Array.isArray(props)) {
    children.unshift(props);
    props = {};
  }
  const [tagAndId, ...classes] = spec.split(".");
  const [tag, id] = tagAndId.split("#");
  const el = document.createElement(tag || "div");
  if (id) el.id = id;
  if (classes.length) el.className = classes.join(" ");
  for (const [k, v] of Object.entries(props)) {
    if (v == null || v === false) continue;
    if (k.startsWith("on") && typeof v === "function") el.addEventListener(k.slice(2), v);
    else if (k === "class") el.className = [el.className, v].filter(Boolean).join(" ");
    else if (k === "style") throw new Error("inline styles are not allowed (CSP)");
    else if (k === "ref") v(el);
    else if (k in PROPS) el[k] = v;
    else el.setAttribute(k, v === true ? "" : String(v));
  }
  append(el, children);
  return el;
}

const PROPS = { value: 1, checked: 1, disabled: 1, selected: 1, textContent: 1, hidden: 1, open: 1, indeterminate: 1 };

export function append(el, children) {
  for (const c of children.flat(Infinity)) {
    if (c == null || c === false || c === true) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

export function clear(el, ...children) {
  el.replaceChildren();
  return append(el, children);
}

// 24×24 stroke icons (drawn for this app).
const ICONS = {
  accounts: "M16 19v-1.5a3.5 3.5 0 0 0-3.5-3.5h-5A3.5 3.5 0 0 0 4 17.5V19M10 10.5a3 3 0 1 0 0-6 3 3 0 0 0 0 6M20 19v-1.5a3.5 3.5 0 0 0-2.5-3.35M15.5 4.6a3 3 0 0 1 0 5.8",
  keys: "M14.5 9.5a4.5 4.5 0 1 1-9 0 4.5 4.5 0 0 1 9 0M13.2 12.6 20 19.5M17 16.5l2-2M15 14.5l1.5-1.5",
  setup: "M4 6h16M4 12h10M4 18h7M17 15l3 3-3 3",
  usage: "M4 20V10M10 20V4M16 20v-7M22 20H2",
  models: "M12 3 3 7.5l9 4.5 9-4.5zM3 12l9 4.5 9-4.5M3 16.5 12 21l9-4.5",
  search: "M11 18a7 7 0 1 0 0-14 7 7 0 0 0 0 14M20 20l-4.2-4.2",
  settings: "M12 15a3 3 0 1 0 0-6 3 3 0 0 0 0 6M19 12a7 7 0 0 0-.1-1.2l2-1.6-2-3.4-2.4 1a7 7 0 0 0-2-1.2L14 3h-4l-.5 2.6a7 7 0 0 0-2 1.2l-2.4-1-2 3.4 2 1.6a7 7 0 0 0 0 2.4l-2 1.6 2 3.4 2.4-1a7 7 0 0 0 2 1.2L10 21h4l.5-2.6a7 7 0 0 0 2-1.2l2.4 1 2-3.4-2-1.6A7 7 0 0 0 19 12",
  copy: "M9 9h10v11H9zM5 15V4h10",
  check: "M5 12.5l4.5 4.5L19 7.5",
  sun: "M12 16a4 4 0 1 0 0-8 4 4 0 0 0 0 8M12 2v2M12 20v2M4.9 4.9l1.4 1.4M17.7 17.7l1.4 1.4M2 12h2M20 12h2M4.9 19.1l1.4-1.4M17.7 6.3l1.4-1.4",
  moon: "M20 14.5A8 8 0 0 1 9.5 4a8 8 0 1 0 10.5 10.5",
  system: "M3 5h18v11H3zM8 20h8M12 16v4",
  logout: "M15 4h4v16h-4M10 8l-4 4 4 4M6 12h10",
  refresh: "M20 11a8 8 0 0 0-14.6-4.5L4 8M4 4v4h4M4 13a8 8 0 0 0 14.6 4.5L20 16M20 20v-4h-4",
  external: "M14 4h6v6M20 4l-9 9M18 14v6H4V6h6",
  plus: "M12 5v14M5 12h14",
  trash: "M4 7h16M9 7V4h6v3M6 7l1 13h10l1-13",
  rotate: "M4 12a8 8 0 0 1 13.7-5.7L20 8.5M20 4v4.5h-4.5M20 12a8 8 0 0 1-13.7 5.7L4 15.5M4 20v-4.5h4.5",
  edit: "M4 20h4L19 9l-4-4L4 16zM13.5 6.5l4 4",
  download: "M12 4v11M7 10l5 5 5-5M5 20h14",
  upload: "M12 20V9M7 14l5-5 5 5M5 4h14",
  send: "M4 12 20 4l-6 16-3-7z",
  stop: "M7 7h10v10H7z",
  play: "M7 5v14l11-7z",
  alert: "M12 9v4M12 17h.01M10.3 4.2 2.6 18a2 2 0 0 0 1.7 3h15.4a2 2 0 0 0 1.7-3L13.7 4.2a2 2 0 0 0-3.4 0",
  x: "M6 6l12 12M18 6 6 18",
  star: "M12 3.5l2.6 5.3 5.9.9-4.3 4.1 1 5.8L12 16.9l-5.2 2.7 1-5.8-4.3-4.1 5.9-.9z",
  menu: "M4 7h16M4 12h16M4 17h16",
  gauge: "M4.5 17a8.5 8.5 0 1 1 15 0M12 13l3.5-4.5M12 13.5a.5.5 0 1 0 0-1",
  github: "M9 19c-4 1.5-4-2-6-2.5M15 21v-3.5a3 3 0 0 0-.9-2.4c3-.3 6-1.5 6-6.6a5.2 5.2 0 0 0-1.4-3.6 4.8 4.8 0 0 0-.1-3.6s-1.1-.3-3.7 1.4a12.7 12.7 0 0 0-6.6 0C5.7 1.1 4.6 1.4 4.6 1.4a4.8 4.8 0 0 0-.1 3.6A5.2 5.2 0 0 0 3 8.6c0 5 3 6.3 6 6.6a3 3 0 0 0-.9 2.4V21",
};

export function icon(name, cls = "icon") {
  const svg = document.createElementNS(SVG, "svg");
  svg.setAttribute("viewBox", "0 0 24 24");
  svg.setAttribute("class", cls);
  svg.setAttribute("aria-hidden", "true");
  svg.setAttribute("focusable", "false");
  const path = document.createElementNS(SVG, "path");
  path.setAttribute("d", ICONS[name] ?? ICONS.alert);
  svg.append(path);
  return svg;
}

// ---- formatting ----

const intFmt = new Intl.NumberFormat();
const compactFmt = new Intl.NumberFormat(undefined, { notation: "compact", maximumFractionDigits: 1 });
export const fmtInt = (n) => (n == null ? "—" : intFmt.format(Math.round(n)));
export const fmtCompact = (n) => (n == null ? "—" : compactFmt.format(n));
export const fmtNum = (n, digits = 1) =>
  n == null ? "—" : new Intl.NumberFormat(undefined, { maximumFractionDigits: digits }).format(n);
export const fmtPct = (x, digits = 1) => (x == null || !isFinite(x) ? "—" : `${fmtNum(x * 100, digits)}%`);

export function fmtDate(iso, opts = { dateStyle: "medium" }) {
  if (!iso) return "—";
  const d = new Date(iso);
  return isNaN(d) ? String(iso) : d.toLocaleString(undefined, opts);
}

const rtf = new Intl.RelativeTimeFormat(undefined, { numeric: "auto" });
export function fmtAgo(iso) {
  if (!iso) return "never";
  const d = new Date(iso);
  if (isNaN(d)) return String(iso);
  const s = (d.getTime() - Date.now()) / 1000;
  const abs = Math.abs(s);
  if (abs < 45) return "just now";
  if (abs < 3600) return rtf.format(Math.round(s / 60), "minute");
  if (abs < 86400) return rtf.format(Math.round(s / 3600), "hour");
  if (abs < 86400 * 30) return rtf.format(Math.round(s / 86400), "day");
  return d.toLocaleDateString(undefined, { dateStyle: "medium" });
}

/** A <time> element: relative text, absolute date as its tooltip. */
export function timeEl(iso, text = fmtAgo(iso)) {
  return iso ? h("time", { datetime: iso, title: fmtDate(iso, { dateStyle: "medium", timeStyle: "short" }) }, text) : h("span.muted", text);
}

// ---- toasts ----

export function toast(message, kind = "ok") {
  const host = document.getElementById("toasts");
  const el = h(`div.toast.toast-${kind}`, icon(kind === "error" ? "alert" : "check"), h("span", message));
  host.append(el);
  setTimeout(() => el.classList.add("leaving"), kind === "error" ? 6000 : 3200);
  setTimeout(() => el.remove(), kind === "error" ? 6400 : 3600);
}

// ---- dialogs ----

/**
 * A modal <dialog>; `render(close)` returns its body. Resolves with what close() was given
 * (undefined when dismissed with Esc or the close button).
 */
export function modal({ title, render, wide = false }) {
  return new Promise((resolve) => {
    let result;
    const close = (value) => {
      result = value;
      dlg.close();
    };
    const dlg = h(
      `dialog.modal${wide ? ".modal-wide" : ""}`,
      { "aria-labelledby": "modal-title" },
      h("div.modal-head",
        h("h2#modal-title", title),
        h("button.icon-btn", { type: "button", "aria-label": "Close", onclick: () => close(undefined) }, icon("x")),
      ),
      h("div.modal-body", render(close)),
    );
    dlg.addEventListener("close", () => {
      dlg.remove();
      resolve(result);
    });
    dlg.addEventListener("click", (e) => {
      if (e.target === dlg) close(undefined); // backdrop
    });
    document.body.append(dlg);
    dlg.showModal();
    const first = dlg.querySelector("[autofocus]") ?? dlg.querySelector(".modal-body input, .modal-body button");
    first?.focus();
  });
}

/** Confirmation dialog; resolves true when confirmed. */
export function confirmDialog({ title, body, confirmLabel = "Confirm", danger = false }) {
  return modal({
    title,
    render: (close) => [
      h("div.modal-text", body),
      h("div.actions",
        // A destructive action starts with the focus on Cancel.
        h("button.btn", { type: "button", autofocus: danger, onclick: () => close(false) }, "Cancel"),
        h(`button.btn.${danger ? "btn-danger" : "btn-primary"}`, { type: "button", autofocus: !danger, onclick: () => close(true) }, confirmLabel),
      ),
    ],
  }).then((v) => v === true);
}

// ---- clipboard ----

export async function copyText(text) {
  try {
    await navigator.clipboard.writeText(text);
    return true;
  } catch {
    // Fallback for browsers that refuse the async clipboard (e.g. plain http on a LAN address).
    const ta = h("textarea.offscreen", { "aria-hidden": "true", readonly: true });
    ta.value = text;
    document.body.append(ta);
    ta.select();
    let ok = false;
    try { ok = document.execCommand("copy"); } catch {}
    ta.remove();
    return ok;
  }
}

/** A copy button; `getText` is called on click. */
export function copyButton(getText, label = "Copy", extra = {}) {
  const text = h("span", label);
  const btn = h("button.btn.btn-sm.copy-btn", {
    type: "button",
    ...extra,
    onclick: async () => {
      const ok = await copyText(getText());
      btn.classList.toggle("copied", ok);
      text.textContent = ok ? "Copied" : "Copy failed";
      btn.replaceChild(icon(ok ? "check" : "alert"), btn.firstChild);
      setTimeout(() => {
        btn.classList.remove("copied");
        text.textContent = label;
        btn.replaceChild(icon("copy"), btn.firstChild);
      }, 1800);
    },
  }, icon("copy"), text);
  return btn;
}

/** Empty state block. */
export function empty(title, text, ...actions) {
  return h("div.empty", h("p.empty-title", title), text && h("p.empty-text", text), actions.length ? h("div.actions.center", actions) : null);
}

/** An inline error block with an optional retry. */
export function errorBox(err, retry) {
  return h("div.callout.callout-error", { role: "alert" },
    icon("alert"),
    h("div", h("strong", "Something went wrong. "), err?.message ?? String(err)),
    retry && h("button.btn.btn-sm", { type: "button", onclick: retry }, "Retry"),
  );
}

export function spinner(label = "Loading…") {
  return h("div.loading", { role: "status" }, h("span.spin", { "aria-hidden": "true" }), h("span", label));
}

export function badge(text, kind = "") {
  return h(`span.badge${kind ? ".badge-" + kind : ""}`, text);
}

/** Trigger a file download of `blob` named `name`. */
export function download(blob, name) {
  const url = URL.createObjectURL(blob);
  const a = h("a", { href: url, download: name });
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 1000);
}

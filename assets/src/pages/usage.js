// Usage: totals, stacked charts by key and by model, a sortable table and CSV export, for
// the last 24 hours, 7 days or 30 days, and web searches per key and provider. Tokens,
// requests and the AI credits Copilot billed (its `copilot_usage`, one credit = $0.01).
// A key-role session sees only its own rows (the API filters them).
import { api, hourKey, hourMs, currentHourMs, HOUR } from "../api.js";
import { h, clear, icon, empty, errorBox, spinner, fmtInt, fmtCompact, fmtNum, fmtPct, download } from "../dom.js";

const RANGES = {
  "24h": { label: "24 hours", long: "the last 24 hours" },
  "7d": { label: "7 days", long: "the last 7 days" },
  "30d": { label: "30 days", long: "the last 30 days" },
};
const TOP = 6; // series per chart; the rest are summed as "Other"
const PROVIDER_NAMES = { tavily: "Tavily", "microsoft-grounding": "Microsoft Grounding", brave: "Brave Search", searxng: "SearXNG" };

let remembered = { range: "24h", metric: "tokens", group: "key", sort: { col: "requests", dir: -1 } };

export function usagePage(main, app) {
  let alive = true;
  const isAdmin = app.session.role === "admin";
  const st = { ...remembered, sort: { ...remembered.sort }, key: "", records: [], searches: [], loadedAt: null };
  if (!isAdmin && st.group === "key") st.group = "model";
  let charts = [];
  let seq = 0;

  const rangeBar = segmented("Range", Object.entries(RANGES).map(([v, r]) => [v, r.label]), () => st.range, (v) => { st.range = v; remember(); load(); });
  const keyFilter = h("select#usage-key.input.input-sm", { "aria-label": "Key", onchange: (e) => { st.key = e.target.value; render(); } });
  const updated = h("span.muted.small.updated");
  const refreshBtn = h("button.btn.btn-sm", { type: "button", onclick: () => load() }, icon("refresh"), h("span", "Refresh"));
  const body = h("div.stack-lg", spinner("Loading usage…"));

  main.append(
    h("div.page-head",
      h("div", h("h1", isAdmin ? "Usage" : "Your usage"),
        h("p.lead", isAdmin ? "Requests, tokens and AI credits through this gateway, per key and per model." : `Requests, tokens and AI credits of the key “${app.session.key?.name ?? ""}”.`)),
    ),
    h("div.toolbar", rangeBar, isAdmin ? keyFilter : null, h("div.push"), updated, refreshBtn),
    body,
  );

  function remember() {
    remembered = { range: st.range, metric: st.metric, group: st.group, sort: { ...st.sort } };
  }

  async function load() {
    const my = ++seq;
    refreshBtn.disabled = true;
    const { startMs, endMs } = window_(st.range);
    try {
      const range = `start=${hourKey(startMs)}&end=${hourKey(endMs)}`;
      const [r, searches] = await Promise.all([
        api.get(`/api/usage?${range}`),
        // Searches are a side table: without them the page still shows token usage.
        api.get(`/api/search-usage?${range}`).catch(() => null),
      ]);
      if (!alive || my !== seq) return;
      st.records = r?.records ?? [];
      st.searches = searches?.records ?? [];
      st.loadedAt = new Date();
      updated.textContent = `Updated ${st.loadedAt.toLocaleTimeString(undefined, { hour: "numeric", minute: "2-digit" })}`;
      fillKeyFilter();
      render();
    } catch (e) {
      if (alive && my === seq) { destroyCharts(); clear(body, errorBox(e, load)); }
    } finally {
      if (my === seq) refreshBtn.disabled = false;
    }
  }

  function fillKeyFilter() {
    if (!isAdmin) return;
    const keys = new Map();
    for (const r of [...st.records, ...st.searches]) keys.set(r.key_id ?? "", keyLabel(r));
    if (st.key && !keys.has(st.key)) st.key = "";
    clear(keyFilter,
      h("option", { value: "", selected: st.key === "" }, "All keys"),
      [...keys].sort((a, b) => a[1].localeCompare(b[1])).map(([id, name]) => h("option", { value: id, selected: id === st.key }, name)));
  }

  function visible() {
    return st.key ? st.records.filter((r) => (r.key_id ?? "") === st.key) : st.records;
  }

  function destroyCharts() {
    for (const c of charts) c.destroy();
    charts = [];
  }

  function render() {
    destroyCharts();
    const rows = visible();
    const t = totals(rows);
    const totalsEl = h("div.stats", { "data-testid": "usage-totals" },
      stat("Requests", fmtInt(t.requests), "requests"),
      stat("Input tokens", fmtCompact(t.input), "input", t.input >= 1000 ? fmtInt(t.input) : null),
      stat("Output tokens", fmtCompact(t.output), "output", t.output >= 1000 ? fmtInt(t.output) : null),
      stat("Cached tokens", fmtCompact(t.cached), "cached", t.cached >= 1000 ? fmtInt(t.cached) : null),
      stat("Cache hit rate", fmtPct(t.input ? t.cached / t.input : null), "hit-rate", "of input tokens"),
      stat("AI credits", fmtCredits(t.nano), "credits", `≈ ${fmtUsd(t.nano)}`),
      stat("Errors", fmtInt(t.errors), "errors", t.requests ? `${fmtPct(t.errors / t.requests)} of requests` : null, t.errors > 0 ? "warn" : ""),
    );
    if (!rows.length) {
      clear(body, totalsEl, h("div.card", empty(
        `No requests in ${RANGES[st.range].long}`,
        "Requests made with an API key show up here a few seconds after they finish.",
        h("a.btn", { href: "#/setup" }, icon("setup"), h("span", "Set up an agent")),
      )), searchSection());
      return;
    }

    const metricBar = segmented("Chart metric", [["tokens", "Tokens"], ["requests", "Requests"], ["credits", "AI credits"]], () => st.metric, (v) => { st.metric = v; remember(); render(); });
    const title = METRIC_TITLES[st.metric] ?? METRIC_TITLES.tokens;
    const byKeyHost = h("div.chart", { role: "img", "aria-label": `${st.metric} by key over ${RANGES[st.range].long}` });
    const byModelHost = h("div.chart", { role: "img", "aria-label": `${st.metric} by model over ${RANGES[st.range].long}` });
    const chartsEl = h("div.chart-grid",
      isAdmin && !st.key ? h("section.card", { "aria-labelledby": "ch-key" }, h("div.card-head", h("h2#ch-key.card-title", `${title} by key`)), byKeyHost) : null,
      h("section.card", { "aria-labelledby": "ch-model" }, h("div.card-head", h("h2#ch-model.card-title", `${title} by model`)), byModelHost),
    );

    const note = st.metric === "credits" ? "Charts show AI credits billed, in your local time." : st.metric === "tokens" ? "Charts show input + output tokens, in your local time." : "Charts show requests, in your local time.";
    clear(body, totalsEl, h("div.toolbar.toolbar-tight", h("span.muted.small", note), h("div.push"), metricBar), chartsEl, tableSection(rows), searchSection());

    const b = buckets(st.range);
    const metric = {
      tokens: (r) => r.input_tokens + r.output_tokens,
      requests: (r) => r.requests,
      credits: (r) => (r.nano_aiu ?? 0) / NANO_PER_CREDIT,
    }[st.metric] ?? ((r) => r.requests);
    const format = st.metric === "credits" ? (v) => fmtNum(v, v >= 1 ? 2 : 4) : undefined;
    const draw = async (host, keyOf) => {
      const c = await (await import("../charts.js")).stackedBars(host, { ...series(rows, b, keyOf, metric), format });
      if (!alive || !host.isConnected) c.destroy();
      else charts.push(c);
    };
    if (isAdmin && !st.key) draw(byKeyHost, keyLabel);
    draw(byModelHost, (r) => r.model ?? "unknown");
  }

  // ---- table ----

  function tableSection(rows) {
    const groups = isAdmin
      ? [["key", "By key"], ["model", "By model"], ["key-model", "Key × model"]]
      : [["model", "By model"], ["hour", "By hour"]];
    if (isAdmin) groups.push(["hour", "By hour"]);
    if (!groups.some(([g]) => g === st.group)) st.group = groups[0][0];
    const groupBar = segmented("Group table", groups, () => st.group, (v) => { st.group = v; remember(); render(); });
    const data = tableRows(rows, st.group);
    const cols = columnsFor(st.group);
    const { col, dir } = st.sort;
    const sortCol = cols.find((c) => c.id === col) ?? cols.find((c) => c.id === "requests");
    data.sort((a, b) => {
      const x = sortCol.get(a), y = sortCol.get(b);
      return (typeof x === "number" && typeof y === "number" ? x - y : String(x).localeCompare(String(y))) * (sortCol.id === col ? dir : -1);
    });
    const head = h("tr", cols.map((c) => {
      const active = c.id === sortCol.id;
      const ariaSort = active ? (st.sort.dir > 0 ? "ascending" : "descending") : "none";
      return h(`th${c.num ? ".num" : ""}`, { scope: "col", "aria-sort": ariaSort },
        h("button.sort-btn", {
          type: "button",
          onclick: () => {
            if (st.sort.col === c.id) st.sort.dir = -st.sort.dir;
            else st.sort = { col: c.id, dir: c.num ? -1 : 1 };
            remember();
            render();
          },
        }, c.label, h("span.sort-ind", { "aria-hidden": "true" }, active ? (st.sort.dir > 0 ? "▲" : "▼") : "")));
    }));
    const body = data.map((r) => h("tr", cols.map((c) => h(`td${c.num ? ".num" : ""}`, { "data-label": c.label }, c.show ? c.show(r) : String(c.get(r))))));
    const csvBtn = h("button.btn.btn-sm", {
      type: "button",
      onclick: () => {
        const lines = [cols.map((c) => c.csvLabel ?? c.label), ...data.map((r) => cols.map((c) => c.csv ? c.csv(r) : c.get(r)))];
        const text = lines.map((l) => l.map(csvCell).join(",")).join("\r\n") + "\r\n";
        download(new Blob([text], { type: "text/csv;charset=utf-8" }), `copilot-gateway-usage-${st.group}-${st.range}-${hourKey(Date.now()).replace("T", "-")}.csv`);
      },
    }, icon("download"), h("span", "Export CSV"));
    return h("section.card.table-card", { "aria-labelledby": "usage-table-h" },
      h("div.card-head", h("h2#usage-table-h.card-title", "Breakdown"), h("div.push"), groupBar, csvBtn),
      h("div.table-scroll", h("table.table.usage-table", { "data-testid": "usage-table" }, h("thead", head), h("tbody", body))),
    );
  }

  // ---- web searches ----

  /** Searches run for agents' web-search tools, per key and provider (none: no card). */
  function searchSection() {
    const rows = st.key ? st.searches.filter((r) => (r.key_id ?? "") === st.key) : st.searches;
    if (!rows.length) return null;
    const groups = new Map();
    for (const r of rows) {
      const k = `${r.key_id ?? ""}\u0000${r.provider ?? ""}`;
      if (!groups.has(k)) groups.set(k, { key: keyLabel(r), provider: r.provider ?? "unknown", requests: 0, errors: 0 });
      const g = groups.get(k);
      g.requests += r.requests;
      g.errors += r.errors;
    }
    const data = [...groups.values()].sort((a, b) => b.requests - a.requests || a.key.localeCompare(b.key));
    const total = data.reduce((n, g) => n + g.requests, 0);
    return h("section.card.table-card", { "aria-labelledby": "search-usage-h", "data-testid": "search-usage" },
      h("div.card-head", h("h2#search-usage-h.card-title", "Web searches"), h("span.muted.small", `${fmtInt(total)} in ${RANGES[st.range].long}`)),
      h("div.table-scroll", h("table.table.usage-table",
        h("thead", h("tr",
          isAdmin ? h("th", { scope: "col" }, "Key") : null,
          h("th", { scope: "col" }, "Provider"),
          h("th.num", { scope: "col" }, "Searches"),
          h("th.num", { scope: "col" }, "Errors"),
        )),
        h("tbody", data.map((g) => h("tr",
          isAdmin ? h("td", { "data-label": "Key" }, g.key) : null,
          h("td", { "data-label": "Provider" }, PROVIDER_NAMES[g.provider] ?? g.provider),
          h("td.num", { "data-label": "Searches" }, fmtInt(g.requests)),
          h("td.num", { "data-label": "Errors" }, g.errors ? h("span.text-danger", fmtInt(g.errors)) : "0"),
        ))),
      )),
    );
  }

  load();
  const timer = setInterval(() => { if (document.visibilityState === "visible") load(); }, 60_000);
  // Charts take their colours from the theme when drawn: redraw when it changes.
  const scheme = matchMedia("(prefers-color-scheme: dark)");
  const redraw = () => { if (st.loadedAt) render(); };
  window.addEventListener("themechange", redraw);
  scheme.addEventListener("change", redraw);
  return () => {
    alive = false;
    clearInterval(timer);
    window.removeEventListener("themechange", redraw);
    scheme.removeEventListener("change", redraw);
    destroyCharts();
  };
}

// ---- data shaping ----

function keyLabel(r) {
  if (r.key_name) return r.key_name;
  if (r.key_id === "playground") return "Playground";
  return r.key_id ? `deleted key ${r.key_id.slice(0, 8)}` : "unknown key";
}

function totals(rows) {
  const t = { requests: 0, input: 0, output: 0, cached: 0, errors: 0, nano: 0 };
  for (const r of rows) {
    t.requests += r.requests;
    t.input += r.input_tokens;
    t.output += r.output_tokens;
    t.cached += r.cache_read_tokens;
    t.errors += r.errors;
    t.nano += r.nano_aiu ?? 0;
  }
  return t;
}

const NANO_PER_CREDIT = 1e9;
const METRIC_TITLES = { tokens: "Tokens", requests: "Requests", credits: "AI credits" };

/** AI credits from nano-AIU: two decimals, more below one credit so small spends show. */
export function fmtCredits(nano) {
  if (nano == null) return "—";
  const c = nano / NANO_PER_CREDIT;
  return fmtNum(c, c === 0 || c >= 1 ? 2 : 4);
}

/** What the credits cost: one AI credit is $0.01. */
function fmtUsd(nano) {
  const usd = (nano ?? 0) / NANO_PER_CREDIT / 100;
  return new Intl.NumberFormat(undefined, { style: "currency", currency: "USD", maximumFractionDigits: usd >= 1 ? 2 : 4 }).format(usd);
}

/** Query window (UTC hours) and local-time buckets for a range. */
function window_(range) {
  const b = buckets(range);
  return { startMs: Math.floor(b.xs[0] / HOUR) * HOUR, endMs: currentHourMs() + HOUR };
}

function buckets(range) {
  const now = new Date();
  let xs = [];
  let size;
  let of;
  if (range === "24h") {
    size = HOUR;
    const last = currentHourMs();
    for (let i = 23; i >= 0; i--) xs.push(last - i * HOUR);
    of = (ms) => ms;
  } else if (range === "7d") {
    size = 6 * HOUR;
    const y = now.getFullYear(), m = now.getMonth(), d = now.getDate(), hr = Math.floor(now.getHours() / 6) * 6;
    for (let i = 27; i >= 0; i--) xs.push(new Date(y, m, d, hr - i * 6).getTime());
    of = (ms) => { const t = new Date(ms); return new Date(t.getFullYear(), t.getMonth(), t.getDate(), Math.floor(t.getHours() / 6) * 6).getTime(); };
  } else {
    size = 24 * HOUR;
    const y = now.getFullYear(), m = now.getMonth(), d = now.getDate();
    for (let i = 29; i >= 0; i--) xs.push(new Date(y, m, d - i).getTime());
    of = (ms) => { const t = new Date(ms); return new Date(t.getFullYear(), t.getMonth(), t.getDate()).getTime(); };
  }
  return { xs, size, of };
}

function series(rows, b, keyOf, metric) {
  const index = new Map(b.xs.map((x, i) => [x, i]));
  const perGroup = new Map();
  for (const r of rows) {
    const i = index.get(b.of(hourMs(r.hour)));
    if (i === undefined) continue;
    const g = keyOf(r);
    if (!perGroup.has(g)) perGroup.set(g, { label: g, values: b.xs.map(() => 0), total: 0 });
    const s = perGroup.get(g);
    const v = metric(r);
    s.values[i] += v;
    s.total += v;
  }
  let list = [...perGroup.values()].sort((a, c) => c.total - a.total);
  if (list.length > TOP + 1) {
    const rest = list.slice(TOP);
    const other = { label: `Other (${rest.length})`, values: b.xs.map((_, i) => rest.reduce((s, x) => s + x.values[i], 0)), total: 0 };
    list = [...list.slice(0, TOP), other];
  }
  return { xs: b.xs, series: list, bucketMs: b.size };
}

function tableRows(rows, group) {
  const keyOf = {
    key: (r) => r.key_id ?? "",
    model: (r) => r.model ?? "",
    "key-model": (r) => `${r.key_id ?? ""}\u0000${r.model ?? ""}`,
    hour: (r) => r.hour,
  }[group];
  const m = new Map();
  for (const r of rows) {
    const k = keyOf(r);
    if (!m.has(k)) m.set(k, { key: keyLabel(r), key_id: r.key_id, model: r.model ?? "unknown", hour: r.hour, requests: 0, input: 0, output: 0, cached: 0, created: 0, errors: 0, nano: 0 });
    const a = m.get(k);
    a.requests += r.requests;
    a.input += r.input_tokens;
    a.output += r.output_tokens;
    a.cached += r.cache_read_tokens;
    a.created += r.cache_creation_tokens;
    a.errors += r.errors;
    a.nano += r.nano_aiu ?? 0;
  }
  return [...m.values()];
}

function columnsFor(group) {
  const num = (id, label, get, show = (r) => fmtInt(get(r))) => ({ id, label, get, show, num: true });
  const cols = [];
  if (group === "hour") cols.push({ id: "hour", label: "Hour (local)", get: (r) => r.hour, show: (r) => new Date(hourMs(r.hour)).toLocaleString(undefined, { month: "short", day: "numeric", hour: "numeric" }), csvLabel: "hour_utc", csv: (r) => `${r.hour}:00Z` });
  if (group === "key" || group === "key-model") cols.push({ id: "key", label: "Key", get: (r) => r.key });
  if (group === "model" || group === "key-model") cols.push({ id: "model", label: "Model", get: (r) => r.model });
  cols.push(
    num("requests", "Requests", (r) => r.requests),
    num("input", "Input", (r) => r.input),
    num("output", "Output", (r) => r.output),
    num("cached", "Cached", (r) => r.cached),
    { ...num("hit", "Hit rate", (r) => (r.input ? r.cached / r.input : 0), (r) => fmtPct(r.input ? r.cached / r.input : null)), csv: (r) => (r.input ? (r.cached / r.input).toFixed(4) : "") },
    // Exact in the CSV: nano-AIU as a decimal number of credits.
    { ...num("credits", "AI credits", (r) => r.nano, (r) => fmtCredits(r.nano)), csv: (r) => creditsText(r.nano) },
    num("errors", "Errors", (r) => r.errors),
  );
  return cols;
}

/** Nano-AIU as credits without float rounding (9 decimals, trailing zeros dropped). */
function creditsText(nano) {
  const n = BigInt(Math.max(0, Math.round(nano ?? 0)));
  const whole = n / 1_000_000_000n;
  const frac = (n % 1_000_000_000n).toString().padStart(9, "0").replace(/0+$/, "");
  return frac ? `${whole}.${frac}` : `${whole}`;
}

function csvCell(v) {
  const s = v == null ? "" : String(v);
  // Quote when needed; prefix formula-looking text so spreadsheets do not evaluate it.
  const safe = /^[=+\-@\t\r]/.test(s) && !/^-?\d/.test(s) ? `'${s}` : s;
  return /[",\r\n]/.test(safe) ? `"${safe.replace(/"/g, '""')}"` : safe;
}

// ---- small widgets ----

function stat(label, value, id, sub, kind = "") {
  return h(`div.stat${kind ? ".stat-" + kind : ""}`, { "data-stat": id },
    h("div.stat-label", label),
    h("div.stat-value", value),
    sub ? h("div.stat-sub", sub) : null,
  );
}

/** A group of toggle buttons (aria-pressed). */
export function segmented(label, options, get, set) {
  const group = h("div.segmented", { role: "group", "aria-label": label });
  const paint = () => {
    for (const b of group.children) b.setAttribute("aria-pressed", String(b.dataset.value === get()));
  };
  for (const [value, text] of options) {
    group.append(h("button.seg", { type: "button", "data-value": value, onclick: () => { set(value); paint(); } }, text));
  }
  paint();
  return group;
}

// Stacked bar charts with uPlot (loaded on demand, so only the Usage page pays for it).
// uPlot has no stacking of its own: each series is drawn as the running total of itself
// and the series below it, the tallest first, so every segment shows its own share; the
// legend and tooltip show each series' own value.
import { isDark } from "./theme.js";
import { h, fmtCompact, fmtInt } from "./dom.js";

const LIGHT = ["#4f46e5", "#0891b2", "#d97706", "#db2777", "#16a34a", "#7c3aed", "#dc2626", "#64748b"];
const DARK = ["#818cf8", "#22d3ee", "#fbbf24", "#f472b6", "#4ade80", "#a78bfa", "#f87171", "#94a3b8"];
export const palette = () => (isDark() ? DARK : LIGHT);

let uPlotPromise = null;
const loadUPlot = () => (uPlotPromise ??= import("uplot").then((m) => m.default));

/**
 * @param {HTMLElement} host
 * @param {{ xs: number[] (ms), series: {label: string, values: number[]}[], bucketMs: number, unit: string, format?: (n) => string }} data
 * `format` shows a value (default: whole numbers; AI credits need decimals).
 * Returns { destroy() }.
 */
export async function stackedBars(host, data) {
  const uPlot = await loadUPlot();
  const colors = palette();
  const styles = getComputedStyle(document.documentElement);
  const axisColor = styles.getPropertyValue("--text-muted").trim() || "#666";
  const gridColor = styles.getPropertyValue("--border").trim() || "#ddd";
  const n = data.series.length;
  const fmtValue = data.format ?? fmtInt;

  // Running totals: stacked[i] = sum of series 0..i.
  const stacked = [];
  let acc = data.xs.map(() => 0);
  for (const s of data.series) {
    acc = acc.map((v, j) => v + (s.values[j] ?? 0));
    stacked.push(acc);
  }
  // Draw the tallest (all series) first: order top series first.
  const order = data.series.map((_, i) => n - 1 - i);
  const raw = [null, ...order.map((i) => data.series[i].values)];
  const totals = raw.map((vals) => (vals ? vals.reduce((a, b) => a + b, 0) : 0));
  const plotData = [data.xs.map((x) => x / 1000), ...order.map((i) => stacked[i])];

  const hourly = data.bucketMs < 86400_000;
  const fmtX = (ts) => {
    const d = new Date(ts * 1000);
    return hourly
      ? d.toLocaleString(undefined, { weekday: data.bucketMs >= 6 * 3600_000 ? "short" : undefined, hour: "numeric", minute: data.bucketMs < 3600_000 ? "2-digit" : undefined })
      : d.toLocaleDateString(undefined, { month: "short", day: "numeric" });
  };
  const fmtRange = (ts) => {
    const d = new Date(ts * 1000);
    const e = new Date(ts * 1000 + data.bucketMs);
    return hourly
      ? `${d.toLocaleString(undefined, { month: "short", day: "numeric", hour: "numeric" })} – ${e.toLocaleTimeString(undefined, { hour: "numeric" })}`
      : d.toLocaleDateString(undefined, { weekday: "short", month: "short", day: "numeric" });
  };

  const width = Math.max(280, host.clientWidth || 600);
  const height = host.clientWidth < 520 ? 200 : 260;
  const bars = uPlot.paths.bars({ size: [0.72, 48], gap: 1 });
  const opts = {
    width,
    height,
    padding: [12, 8, 0, 0],
    cursor: { points: { show: false }, drag: { x: false, y: false } },
    select: { show: false },
    legend: { live: true, markers: { width: 0 } },
    scales: { x: { time: false, range: (u, min, max) => [min - data.bucketMs / 2000, max + data.bucketMs / 2000] }, y: { range: (u, min, max) => [0, max > 0 ? max * 1.08 : 1] } },
    axes: [
      {
        stroke: axisColor,
        grid: { show: false },
        ticks: { stroke: gridColor, width: 1, size: 4 },
        values: (u, splits) => splits.map(fmtX),
        space: hourly ? 56 : 44,
        font: "11px system-ui, sans-serif",
        splits: (u) => {
          const want = Math.max(2, Math.floor(u.bbox.width / devicePixelRatio / (hourly ? 72 : 52)));
          const step = Math.max(1, Math.ceil(data.xs.length / want));
          return data.xs.filter((_, i) => i % step === 0).map((x) => x / 1000);
        },
      },
      {
        stroke: axisColor,
        grid: { stroke: gridColor, width: 1 },
        ticks: { show: false },
        values: (u, splits) => splits.map((v) => (data.format && v < 10 ? data.format(v) : fmtCompact(v))),
        size: 48,
        font: "11px system-ui, sans-serif",
      },
    ],
    series: [
      { label: "", value: (u, v) => (v == null ? "Whole range" : fmtRange(v)) },
      ...order.map((i, k) => ({
        label: data.series[i].label,
        stroke: colors[i % colors.length],
        fill: colors[i % colors.length],
        width: 0,
        paths: bars,
        points: { show: false },
        value: (u, v, si, idx) => fmtValue(idx == null ? totals[k + 1] : raw[k + 1][idx]),
      })),
    ],
  };
  host.replaceChildren();
  const u = new uPlot(opts, plotData, host);
  // Legend reads bottom-up like the stack: reverse it so the first series is first.
  const legend = host.querySelector(".u-legend tbody");
  if (legend) {
    const rows = [...legend.children];
    const [timeRow, ...seriesRows] = rows;
    legend.replaceChildren(timeRow, ...seriesRows.reverse());
    for (const r of seriesRows) {
      const marker = r.querySelector(".u-marker");
      if (marker) marker.remove();
      const label = r.querySelector(".u-label");
      const idx = rows.indexOf(r); // series index in uPlot (1-based)
      if (label) label.prepend(h("span.legend-swatch", { "data-color": String(idx) }));
      const sw = label?.querySelector(".legend-swatch");
      if (sw) sw.style.background = opts.series[idx].fill;
    }
  }
  const ro = new ResizeObserver(() => {
    const w = Math.max(280, host.clientWidth);
    if (Math.abs(w - u.width) > 2) u.setSize({ width: w, height: w < 520 ? 200 : 260 });
  });
  ro.observe(host);
  return {
    destroy() {
      ro.disconnect();
      u.destroy();
    },
  };
}

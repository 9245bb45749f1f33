// Compliance & history (operators): the policy's figures beside their targets (GET
// /v1/reports/compliance) and the platform's history as time series (GET /v1/reports/history):
// the figures over time, utilization per tier, the queue, PF16-hours per hour, and each site's
// carbon intensity and price. Charts are uPlot (vendored: uPlot.iife.min.js, MIT, see
// uPlot.LICENSE.txt), loaded by index.html as the global `uPlot`.

import { api } from "./api.js";
import { h, num, table } from "./ui.js";

const RANGES = { "1h": 3600, "6h": 6 * 3600, "24h": 86400, "7d": 7 * 86400, "30d": 30 * 86400 };
const saved = { range: "24h" };
const COLORS = ["#b3261e", "#1f6feb", "#2da44e", "#bf8700", "#8250df", "#cf222e", "#0969da", "#57606a"];

export function mount(root, ctx) {
  const range = h("select", { id: "compliance-range", name: "range" },
    Object.keys(RANGES).map((r) => h("option", { value: r }, `last ${r}`)));
  range.value = saved.range;
  const figures = h("div", { id: "compliance" }, h("p", { class: "muted" }, "Loading the report…"));
  const charts = h("div", { id: "history-charts", class: "charts" });
  root.append(
    h("h1", {}, "Compliance & history"),
    h("form", { class: "filters", onsubmit: (e) => e.preventDefault() },
      h("label", { for: "compliance-range" }, "Work run in the"), range),
    figures, h("h2", {}, "Over time"), charts);
  const plots = new Map();

  async function refresh() {
    const until = Date.now() / 1000;
    const since = until - RANGES[saved.range];
    const [report, hist] = await Promise.all([
      api("/reports/compliance", { query: { since } }),
      api("/reports/history", { query: { since, limit: 500 } }),
    ]);
    figures.replaceChildren(reportTable(report));
    drawAll(charts, plots, hist.points);
  }
  range.addEventListener("change", () => { saved.range = range.value; ctx.refresh(); });
  return { refresh, unmount: () => { for (const p of plots.values()) p.plot.destroy(); plots.clear(); } };
}

function reportTable(r) {
  const verdict = (ok) => (ok === null ? h("span", { class: "muted" }, "–")
    : h("span", { class: `badge ${ok ? "s-succeeded" : "s-failed"}` }, ok ? "pass" : "fail"));
  return h("div", {},
    table({
      id: "compliance-table", caption: `${r.passed} of ${r.judged} targets met`, rowKey: (f) => f.name,
      columns: [
        { label: "Figure", get: (f) => f.name.replaceAll("_", " "), key: "name" },
        { label: "Value", get: (f) => `${num(f.value)}${f.unit && f.value !== null ? ` ${f.unit}` : ""}`, num: true, key: "value" },
        { label: "Target", get: (f) => f.target || "–", key: "target" },
        { label: "Result", get: (f) => verdict(f.ok), key: "result" },
      ],
      rows: r.figures,
    }),
    h("p", { class: "muted", id: "pf16h-by-tier" }, "PF16-hours delivered: ",
      Object.entries(r.pf16h_by_tier).map(([t, v]) => `${t} ${num(v)}`).join(", ")));
}

// Each chart: a title, a unit and series of [label, point -> value].
function specs(points) {
  const tiers = Object.keys(points.at(-1)?.utilization_by_tier || {});
  const sites = Object.keys(points.at(-1)?.sites || {});
  return [
    { id: "chart-green", title: "Green share of energy (target > 10%)", series: [["green share", (p) => p.green_share]] },
    { id: "chart-pue", title: "Hub PUE of the work run (target <= 1.25)", series: [["hub PUE", (p) => p.hub_pue]] },
    { id: "chart-capacity", title: "Schedulable PFLOPS FP16 (target >= 1000)", series: [["PFLOPS FP16", (p) => p.pflops_fp16]] },
    { id: "chart-infra", title: "Infrastructures up (target >= 4)", series: [["sites up", (p) => p.infrastructures_up]] },
    { id: "chart-utilization", title: "Utilization per tier", series: tiers.map((t) => [t, (p) => p.utilization_by_tier[t] ?? null]) },
    { id: "chart-queue", title: "Queue", series: [["pending", (p) => p.queue.pending], ["running", (p) => p.queue.running]] },
    { id: "chart-pf16h", title: "PF16-hours delivered per hour", series: [["PF16-h/h", (p) => p.pf16h_per_hour]] },
    { id: "chart-carbon", title: "Carbon intensity per site (g CO2/kWh)", series: sites.map((s) => [s, (p) => p.sites[s]?.carbon_g_per_kwh ?? null]) },
    { id: "chart-price", title: "Price per PF16-hour per site", series: sites.map((s) => [s, (p) => p.sites[s]?.price_per_pf16h ?? null]) },
  ];
}

function drawAll(box, plots, points) {
  if (!points.length) {
    box.replaceChildren(h("p", { class: "empty", id: "history-empty" },
      "No history yet: the scheduler writes a sample a minute (SUANLI_HISTORY_S)."));
    for (const p of plots.values()) p.plot.destroy();
    plots.clear();
    return;
  }
  document.getElementById("history-empty")?.remove();
  const xs = points.map((p) => p.at);
  for (const spec of specs(points)) {
    const data = [xs, ...spec.series.map(([, get]) => points.map(get))];
    const key = spec.series.map(([label]) => label).join("|");
    const have = plots.get(spec.id);
    if (have && have.key === key) { have.plot.setData(data); continue; }
    if (have) have.plot.destroy();
    let fig = document.getElementById(spec.id);
    if (!fig) {
      fig = h("figure", { id: spec.id, class: "chart" }, h("figcaption", {}, spec.title));
      box.append(fig);
    }
    const plot = new window.uPlot({
      width: 460, height: 200,
      series: [{}, ...spec.series.map(([label], i) => ({ label, stroke: COLORS[i % COLORS.length], width: 2, spanGaps: false }))],
      axes: [{}, { size: 60 }],
    }, data, fig);
    plots.set(spec.id, { plot, key });
  }
}

// Usage: PF16-hours, energy (kWh, PUE included), carbon (kg CO2) and cost, per job, tenant or
// site, as GET /v1/usage?by= meters it (running placements up to now).

import { api } from "./api.js";
import { duration, h, link, money, num, table } from "./ui.js";

const saved = { by: "tenant" };

export function mount(root, ctx) {
  const by = h("select", { id: "usage-by", name: "by" },
    ["job", "tenant", "site"].map((b) => h("option", { value: b }, `per ${b}`)));
  by.value = saved.by;
  const out = h("div", { id: "usage" }, h("p", { class: "muted" }, "Loading usage…"));
  root.append(
    h("h1", {}, "Usage"),
    h("form", { class: "filters", onsubmit: (e) => e.preventDefault() }, h("label", { for: "usage-by" }, "Group"), by),
    out);

  async function refresh() {
    const group = saved.by;
    const u = await api("/usage", { query: { by: group } });
    const key = (r) => r[group];
    out.replaceChildren(table({
      id: "usage-table", caption: `Metered usage per ${group}`, rowKey: key,
      empty: "No usage yet: jobs are metered once they start running.",
      columns: [
        { label: group[0].toUpperCase() + group.slice(1), key: "name",
          get: (r) => (r.total ? h("strong", {}, "Total") : group === "job" ? link(`#/job/${encodeURIComponent(key(r))}`, key(r)) : key(r)) },
        { label: "PF16-hours", get: (r) => num(r.pf16h, 6), num: true, key: "pf16h" },
        { label: "Energy (kWh)", get: (r) => num(r.energy_kwh, 6), num: true, key: "kwh" },
        { label: "Carbon (kg CO2)", get: (r) => num(r.carbon_kg, 6), num: true, key: "co2" },
        { label: "Cost", get: (r) => money(r.cost), num: true, key: "cost" },
        { label: "Run time", get: (r) => (r.total ? "" : duration(r.runtime_s)), num: true, key: "runtime" },
        { label: "Placements", get: (r) => (r.total ? "" : `${r.placements}${r.running ? ` (${r.running} running)` : ""}`), num: true, key: "placements" },
      ],
      rows: u.items,
      foot: { total: true, ...u.total },
    }));
  }
  by.addEventListener("change", () => { saved.by = by.value; out.replaceChildren(h("p", { class: "muted" }, "Loading usage…")); ctx.refresh(); });
  return { refresh };
}

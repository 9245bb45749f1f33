// Federation overview: capacity (PFLOPS FP16/FP32) by site, region and tier, and what is
// schedulable now (sites up, pools at what their engines report); utilization; the queue; each
// site's engine, tier, region, PUE, green share, provider's ask, status and pools (free/total, and what the
// engine reports where that is less than declared).
// Reads GET /v1/federation and GET /v1/sites.

import { api } from "./api.js";
import { badge, card, h, num, pct, table } from "./ui.js";

function siteStatus(s) {
  if (s.state === "draining") return "draining";
  return s.health;            // up | down | unknown (no heartbeat yet)
}

// The figure, with a bar under it for the eye (the text is what a screen reader reads).
function bar(x) {
  const w = Math.max(0, Math.min(100, Number(x || 0) * 100));
  return h("span", { class: "util" }, pct(x), h("span", { class: "bar", "aria-hidden": "true" },
    h("span", { style: `width: ${w.toFixed(1)}%` })));
}

function pools(site) {
  const free = (site.health === "up" && site.live && site.live.free) || null;
  return h("ul", { class: "pools" }, site.pools.map((p) => {
    const total = p.per_node * p.nodes;
    const f = free && p.name in free ? free[p.name] : null;
    return h("li", { "data-pool": p.name },
      h("span", { class: "pool-name" }, p.name), " ", h("span", { class: "muted" }, p.accelerator), " ",
      h("span", { class: "pool-free" }, f === null ? `?/${total}` : `${f}/${total}`), " free",
      ` (${p.nodes}×${p.per_node})`,
      p.observed_total != null && p.observed_total < total
        ? h("span", { class: "pool-engine" }, ` engine reports ${p.observed_total} of ${total} accelerators`)
        : null);
  }));
}

function capacityTable(caption, by, key) {
  const rows = Object.entries(by).map(([name, c]) => ({ name, ...c }));
  return table({
    caption, id: `by-${key}`, empty: "No capacity.", rows, rowKey: (r) => r.name,
    columns: [
      { label: key[0].toUpperCase() + key.slice(1), get: (r) => r.name, key: "name" },
      { label: "Accelerators", get: (r) => String(r.accelerators), num: true, key: "accelerators" },
      { label: "PFLOPS FP16", get: (r) => num(r.pflops_fp16), num: true, key: "fp16" },
      { label: "PFLOPS FP32", get: (r) => num(r.pflops_fp32), num: true, key: "fp32" },
    ],
  });
}

export function mount(root, ctx) {
  const body = h("div", { class: "overview" }, h("p", { class: "muted" }, "Loading the federation…"));
  root.append(h("h1", {}, "Federation"), body);

  // Operators and providers (for their own sites) drain a site: running jobs finish, no new ones start.
  const canDrain = ["operator", "provider"].includes(ctx.me.role);
  function drainButton(s) {
    const draining = s.state === "draining";
    const msg = h("span", { class: "field-error" });
    return h("span", {}, h("button", { type: "button", class: "small-button", "aria-label": `${draining ? "Undrain" : "Drain"} ${s.name}`,
      onclick: async (ev) => {
        ev.target.disabled = true;
        try {
          await api(`/sites/${encodeURIComponent(s.name)}/${draining ? "undrain" : "drain"}`, { method: "POST" });
          ctx.refresh();
        } catch (e) {
          msg.textContent = e.message;
          ev.target.disabled = false;
        }
      } }, draining ? "Undrain" : "Drain"), msg);
  }

  async function refresh() {
    const [fed, sites] = await Promise.all([api("/federation"), api("/sites")]);
    const q = fed.queue;
    const byState = Object.entries(q.by_state).map(([s, n]) => `${s} ${n}`).join(" · ") || "no jobs yet";
    const cards = h("div", { class: "cards", id: "totals" },
      card("Capacity FP16", h("span", { "data-total": "fp16" }, num(fed.total.pflops_fp16)), "PFLOPS"),
      card("Capacity FP32", h("span", { "data-total": "fp32" }, num(fed.total.pflops_fp32)), "PFLOPS"),
      card("Schedulable FP16", h("span", { "data-total": "schedulable-fp16" }, num(fed.schedulable.pflops_fp16)),
        "PFLOPS", "sites up, at what their engines report"),
      card("Accelerators", h("span", { "data-total": "accelerators" }, String(fed.total.accelerators)), null,
        `in ${Object.keys(fed.by_site).length} sites`),
      card("Utilization", h("span", { "data-total": "utilization" }, pct(fed.utilization.total)), null,
        "accelerators held by placements"),
      card("Queue", h("span", { "data-total": "pending" }, String(q.pending)), "pending",
        `${q.placed} placed · ${q.running} running`));
    const siteTable = table({
      caption: ctx.me.role === "provider" ? "Your sites" : "Sites", id: "sites", empty: ctx.me.role === "provider" ? "You have no sites yet." : "No sites are registered.",
      columns: [
        { label: "Site", get: (s) => h("strong", {}, s.name), key: "name" },
        { label: "Status", get: (s) => badge(siteStatus(s)), key: "status" },
        { label: "Engine", get: (s) => s.engine, key: "engine" },
        { label: "Tier", get: (s) => s.tier, key: "tier" },
        { label: "Region", get: (s) => s.region, key: "region" },
        { label: "Provider", get: (s) => s.provider, key: "provider" },
        { label: "PUE", get: (s) => num(s.pue, 2), num: true, key: "pue" },
        { label: "Green share", get: (s) => pct(s.green_share), num: true, key: "green" },
        { label: "Ask / PF16\u2011h", get: (s) => Number(s.price_per_pf16h).toFixed(2), num: true, key: "price" },
        { label: "PFLOPS FP16", get: (s) => num(fed.by_site[s.name]?.pflops_fp16), num: true, key: "fp16" },
        { label: "PFLOPS FP32", get: (s) => num(fed.by_site[s.name]?.pflops_fp32), num: true, key: "fp32" },
        { label: "Utilization", get: (s) => bar(fed.utilization.by_site[s.name]), num: true, key: "util" },
        { label: "Pools (free/total accelerators)", get: pools, key: "pools" },
        canDrain ? { label: "Action", get: drainButton, key: "action" } : null,
      ].filter(Boolean),
      rows: sites.items, rowKey: (s) => s.name,
    });
    body.replaceChildren(
      cards,
      h("p", { class: "muted queue-states" }, "Jobs by state: ", byState),
      siteTable,
      h("div", { class: "two" },
        capacityTable("Capacity by region", fed.by_region, "region"),
        capacityTable("Capacity by tier", fed.by_tier, "tier")));
  }
  return { refresh };
}

// Jobs: newest first, filtered by state (and tenant, for operators and providers), paged with
// the API's cursor. Reads GET /v1/jobs (and GET /v1/tenants for the operator's tenant list).

import { api } from "./api.js";
import { ago, badge, h, link, table } from "./ui.js";

export const STATES = ["pending", "placed", "running", "succeeded", "failed", "cancelled", "preempted", "rejected"];

// Filters and page survive leaving the view and coming back.
const saved = { state: "", tenant: "", limit: 20, cursors: [""] };

export function mount(root, ctx) {
  const seesTenants = ctx.me.role !== "tenant";          // the tenant column
  const filtersTenants = ctx.me.role === "operator";     // the tenant filter (GET /v1/tenants)
  const stateSel = h("select", { id: "f-state", name: "state" },
    h("option", { value: "" }, "any state"), STATES.map((s) => h("option", { value: s }, s)));
  stateSel.value = saved.state;
  const tenantSel = h("select", { id: "f-tenant", name: "tenant" }, h("option", { value: "" }, "all tenants"));
  const limitSel = h("select", { id: "f-limit", name: "limit" }, [5, 20, 50, 100].map((n) => h("option", { value: n }, n)));
  limitSel.value = String(saved.limit);
  const list = h("div", { id: "jobs-list" }, h("p", { class: "muted" }, "Loading jobs…"));
  const prev = h("button", { type: "button", id: "prev", disabled: true }, "← Newer");
  const next = h("button", { type: "button", id: "next", disabled: true }, "Older →");
  const pageNo = h("span", { class: "muted", id: "page-no" });

  const changed = () => {
    saved.state = stateSel.value;
    saved.tenant = tenantSel.value;
    saved.limit = Number(limitSel.value);
    saved.cursors = [""];
    ctx.refresh();
  };
  for (const el of [stateSel, tenantSel, limitSel]) el.addEventListener("change", changed);
  let nextCursor = null;
  next.addEventListener("click", () => { saved.cursors.push(nextCursor); ctx.refresh(); });
  prev.addEventListener("click", () => { if (saved.cursors.length > 1) saved.cursors.pop(); ctx.refresh(); });

  root.append(
    h("div", { class: "title-row" }, h("h1", {}, "Jobs"),
      ["tenant", "operator"].includes(ctx.me.role) ? h("a", { class: "button", href: "#/submit" }, "Submit a job") : null),
    h("form", { class: "filters", role: "search", "aria-label": "Job filters", onsubmit: (e) => e.preventDefault() },
      h("label", { for: "f-state" }, "State"), stateSel,
      filtersTenants ? [h("label", { for: "f-tenant" }, "Tenant"), tenantSel] : null,
      h("label", { for: "f-limit" }, "Per page"), limitSel),
    list,
    h("nav", { class: "pager", "aria-label": "Pages" }, prev, pageNo, next));

  let tenantsLoaded = !filtersTenants;
  async function loadTenants() {
    if (tenantsLoaded) return;
    const t = await api("/tenants");
    tenantSel.append(...t.items.map((x) => h("option", { value: x.name }, x.name)));
    tenantSel.value = saved.tenant;
    tenantsLoaded = true;
  }

  async function refresh() {
    await loadTenants();
    const cursor = saved.cursors[saved.cursors.length - 1];
    const page = await api("/jobs", {
      query: { state: saved.state, tenant: filtersTenants ? saved.tenant : "", cursor, limit: saved.limit },
    });
    nextCursor = page.next;
    next.disabled = !page.next;
    prev.disabled = saved.cursors.length <= 1;
    pageNo.textContent = `page ${saved.cursors.length}`;
    const filtered = saved.state || saved.tenant;
    list.replaceChildren(table({
      id: "jobs", caption: `Jobs${saved.state ? ` in state ${saved.state}` : ""}${saved.tenant ? ` of ${saved.tenant}` : ""}, newest first`,
      empty: filtered ? "No jobs match these filters." : "No jobs yet. Submitted jobs appear here.",
      rowKey: (j) => j.id,
      columns: [
        { label: "Job", get: (j) => link(`#/job/${encodeURIComponent(j.id)}`, j.spec?.name || j.id), key: "id" },
        { label: "State", get: (j) => badge(j.state), key: "state" },
        seesTenants ? { label: "Tenant", get: (j) => j.tenant, key: "tenant" } : null,
        { label: "Queue", get: (j) => j.queue, key: "queue" },
        { label: "Class", get: (j) => j.job_class, key: "class" },
        { label: "GPUs", get: (j) => String(j.gpus), num: true, key: "gpus" },
        { label: "Site", get: (j) => j.site || "–", key: "site" },
        { label: "Submitted", get: (j) => ago(j.submit_time), key: "submitted" },
        { label: "Reason", get: (j) => h("span", { class: "reason" }, j.reason), key: "reason" },
      ].filter(Boolean),
      rows: page.items,
    }));
  }
  return { refresh };
}

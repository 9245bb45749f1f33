// Operator only: API tokens (GET /v1/tokens) and the newest audit records (GET /v1/audit, read
// incrementally with `after`). Another role gets the API's refusal, shown as such.

import { api } from "./api.js";
import { badge, h, table, when } from "./ui.js";

export function mount(root) {
  const tokens = h("div", { id: "tokens" }, h("p", { class: "muted" }, "Loading tokens…"));
  const audit = h("div", { id: "audit" });
  root.append(h("h1", {}, "Tokens & audit"),
    h("section", { "aria-labelledby": "h-tokens" }, h("h2", { id: "h-tokens" }, "API tokens"), tokens),
    h("section", { "aria-labelledby": "h-audit" }, h("h2", { id: "h-audit" }, "Audit log (newest first)"), audit));
  let after = 0;
  let records = [];

  async function refresh() {
    const t = await api("/tokens");
    for (;;) {
      const page = await api("/audit", { query: { after, limit: 1000 } });
      records = records.concat(page.items).slice(-100);
      after = page.next;
      if (page.items.length < 1000) break;
    }
    tokens.replaceChildren(table({
      id: "tokens-table", empty: "No tokens.", rowKey: (r) => r.id,
      columns: [
        { label: "Token", get: (r) => h("code", {}, r.id), key: "id" },
        { label: "Role", get: (r) => h("span", { class: `role r-${r.role}` }, r.role), key: "role" },
        { label: "Name", get: (r) => r.name || "–", key: "name" },
        { label: "Scope", get: (r) => r.tenant || r.provider || r.site || "everything", key: "scope" },
        { label: "Created", get: (r) => when(r.created_at), key: "created" },
        { label: "Status", get: (r) => badge(r.revoked_at ? "revoked" : "active"), key: "status" },
      ],
      rows: t.items,
    }));
    audit.replaceChildren(table({
      id: "audit-table", empty: "Nothing audited yet.",
      columns: [
        { label: "Time", get: (r) => when(r.at), key: "at" },
        { label: "Actor", get: (r) => `${r.actor} (${r.role})`, key: "actor" },
        { label: "Action", get: (r) => r.action, key: "action" },
        { label: "Subject", get: (r) => r.subject, key: "subject" },
      ],
      rows: records.slice(-50).reverse(),
    }));
  }
  return { refresh };
}

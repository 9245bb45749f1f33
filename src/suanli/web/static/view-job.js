// One job: its state, a history built from its placements, where it runs (site/pool, predicted
// end, cost, carbon), its logs (polled), the scheduler's per-pool verdicts (explain) and cancel.
// Reads GET /v1/jobs/{id}, /logs?after=, /explain, /v1/usage?job_id=; POST /v1/jobs/{id}/cancel.

import { api } from "./api.js";
import { ago, badge, duration, errorBox, h, money, num, table, when } from "./ui.js";

const TERMINAL = new Set(["succeeded", "failed", "cancelled", "rejected"]);
const WAITING = new Set(["pending", "preempted", "placed"]);

// The operator reads the audit log (GET /v1/audit?subject=<job>): every state change, who made it.
function auditHistory(items) {
  const state = { "job.submit": "pending", "job.cancel": "cancelled" };
  return items.filter((r) => r.action.startsWith("job.")).map((r) => {
    const d = r.detail || {};
    const bits = [d.site && d.pool ? `${d.site}/${d.pool}` : d.site, d.count ? `×${d.count}` : null, d.reason || null]
      .filter(Boolean).join(" ");
    return { at: r.at, state: state[r.action] || r.action.slice(4), what: `${r.action} by ${r.actor} (${r.role})${bits ? `: ${bits}` : ""}` };
  });
}

// Others rebuild it from the job and its placements.
function history(job) {
  const ev = [{ at: job.submit_time, state: "pending", what: `submitted to queue ${job.queue}` }];
  for (const p of job.placements || []) {
    const where = `${p.site}/${p.pool_name} ×${p.count}`;
    ev.push({ at: p.created_at, state: "placed", what: `attempt ${p.attempt}: placed on ${where}` });
    if (p.leased_at) ev.push({ at: p.leased_at, state: "placed", what: `leased by the ${p.site} agent` });
    if (p.started_at) ev.push({ at: p.started_at, state: "running", what: `started on ${where}` });
    if (p.ended_at) {
      const why = p.kill_reason ? ` (${p.kill_reason})` : p.exit_code !== null ? ` (exit code ${p.exit_code})` : "";
      ev.push({ at: p.ended_at, state: p.state, what: `attempt ${p.attempt} ended: ${p.state}${why}` });
    }
  }
  const last = ev[ev.length - 1];
  if (TERMINAL.has(job.state) && !(last && last.state === job.state)) {
    ev.push({ at: job.finished_at || job.updated_at, state: job.state, what: job.reason });
  }
  return ev.sort((a, b) => a.at - b.at);
}

// How a shell would need the argument written (to copy the command back into the submit form).
function shellQuote(arg) {
  if (/^[A-Za-z0-9_@%+=:,./-]+$/.test(arg)) return arg;
  if (!arg.includes("'")) return `'${arg}'`;
  if (!/["\\$`]/.test(arg)) return `"${arg}"`;
  return `'${arg.replace(/'/g, "'\\''")}'`;
}

function dl(pairs) {
  return h("dl", { class: "facts" }, pairs.filter(Boolean).map(([k, v]) => [h("dt", {}, k), h("dd", {}, v)]));
}

export function mount(root, ctx) {
  const id = ctx.arg;
  const head = h("div", { class: "title-row" }, h("h1", {}, "Job ", h("code", {}, id)));
  const stateEl = h("span", { id: "job-state" });
  const cancelBox = h("div", { class: "cancel", "aria-live": "polite" });
  const summary = h("div", { id: "summary" }, h("p", { class: "muted" }, "Loading the job…"));
  const placement = h("div", { id: "placement" });
  const hist = h("div", { id: "history" });
  const explainBox = h("div", { id: "explain" });
  const logPre = h("pre", { id: "logs", class: "logs", tabindex: "0", "aria-label": "Job output" });
  const logNote = h("p", { class: "muted", id: "logs-note" }, "Waiting for output…");
  root.append(
    h("p", {}, h("a", { href: "#/jobs" }, "← all jobs")),
    head, h("div", { class: "state-row" }, stateEl, cancelBox),
    h("div", { class: "two" },
      h("section", { "aria-labelledby": "h-summary" }, h("h2", { id: "h-summary" }, "Request"), summary),
      h("section", { "aria-labelledby": "h-placement" }, h("h2", { id: "h-placement" }, "Placement"), placement)),
    h("section", { "aria-labelledby": "h-logs" }, h("h2", { id: "h-logs" }, "Logs"), logNote, logPre),
    h("section", { "aria-labelledby": "h-history" }, h("h2", { id: "h-history" }, "State history"), hist),
    h("section", { "aria-labelledby": "h-explain" }, h("h2", { id: "h-explain" }, "Explain: where it could run"), explainBox));

  let logAfter = 0;
  let lastState = null;
  let explained = null;     // the last explain answer, and the job's state then
  let explainedState = null;
  let confirming = false;

  function renderCancel(job) {
    const can = ["tenant", "operator"].includes(ctx.me.role) && !TERMINAL.has(job.state);
    if (!can) return cancelBox.replaceChildren();
    if (!confirming) {
      return cancelBox.replaceChildren(h("button", { type: "button", class: "danger", id: "cancel",
        onclick: () => { confirming = true; renderCancel(job); } }, "Cancel job"));
    }
    const msg = h("span", {});
    cancelBox.replaceChildren(h("span", {}, "Cancel this job? "),
      h("button", { type: "button", class: "danger", id: "cancel-yes", onclick: async () => {
        try {
          await api(`/jobs/${encodeURIComponent(id)}/cancel`, { method: "POST" });
          confirming = false;
          ctx.refresh();
        } catch (e) { msg.replaceChildren(errorBox(e)); }
      } }, "Yes, cancel it"), " ",
      h("button", { type: "button", id: "cancel-no", onclick: () => { confirming = false; renderCancel(job); } }, "Keep it"), msg);
  }

  async function refreshLogs() {
    const out = await api(`/jobs/${encodeURIComponent(id)}/logs`, { query: { after: logAfter } });
    if (out.text) {
      const atBottom = logPre.scrollTop + logPre.clientHeight >= logPre.scrollHeight - 4;
      logPre.append(out.text);
      if (atBottom) logPre.scrollTop = logPre.scrollHeight;
    }
    logAfter = out.next;
    logNote.textContent = logPre.textContent ? "" : (TERMINAL.has(lastState) ? "This job wrote no output." : "Waiting for output…");
  }

  async function refreshExplain(job) {
    if (explained && explainedState === job.state && !WAITING.has(job.state)) return explained;
    const ex = await api(`/jobs/${encodeURIComponent(id)}/explain`);
    explained = ex;
    explainedState = job.state;
    const fits = ex.pools.filter((r) => r.verdict === "fits").length;
    const lead = job.state === "pending" || job.state === "preempted"
      ? h("p", { class: "why" }, h("strong", {}, "Why it is pending: "), ex.reason || "waiting for the next scheduling cycle",
        ` — ${fits} of ${ex.pools.length} pools could take it.`)
      : h("p", { class: "muted" }, `As the scheduler sees the federation now: ${fits} of ${ex.pools.length} pools could take this job.`);
    explainBox.replaceChildren(lead, table({
      id: "explain-table", empty: "No pools in the federation.", rowKey: (r) => `${r.site}/${r.pool}`,
      columns: [
        { label: "Site", get: (r) => r.site, key: "site" },
        { label: "Pool", get: (r) => r.pool, key: "pool" },
        { label: "Accelerator", get: (r) => r.accelerator, key: "accelerator" },
        { label: "Verdict", get: (r) => h("span", { class: r.verdict === "fits" ? "ok" : "no" }, r.verdict), key: "verdict" },
        { label: "Reason", get: (r) => r.reason || "–", key: "reason" },
        { label: "Run time", get: (r) => duration(r.runtime_s), num: true, key: "runtime" },
        { label: "Cost", get: (r) => money(r.cost), num: true, key: "cost" },
        { label: "kg CO2", get: (r) => num(r.carbon_kg), num: true, key: "carbon" },
      ],
      rows: ex.pools,
    }));
    return ex;
  }

  async function refresh() {
    const job = await api(`/jobs/${encodeURIComponent(id)}`);
    lastState = job.state;
    stateEl.replaceChildren(badge(job.state), " ", h("span", { class: "reason" }, job.reason));
    renderCancel(job);
    summary.replaceChildren(dl([
      ["Tenant", job.tenant], ["Queue", job.queue], ["Class", job.job_class], ["GPUs", String(job.gpus)],
      ["Priority", String(job.priority)],
      ["Command", h("code", { id: "job-command" }, (job.spec.command || []).map(shellQuote).join(" "))],
      ["Expected run time", duration(job.spec.duration_s)],
      ["Submitted", `${when(job.submit_time)} (${ago(job.submit_time)})`],
      job.finished_at ? ["Finished", `${when(job.finished_at)} (${ago(job.finished_at)})`] : null,
      ["Attempts", String(job.attempts)],
      job.exit_code !== null ? ["Exit code", String(job.exit_code)] : null,
    ]));
    const [ex, use] = await Promise.all([
      refreshExplain(job),
      api("/usage", { query: { by: "job", job_id: id } }),
      refreshLogs(),
    ]);
    const p = (job.placements || [])[job.placements.length - 1];
    if (!p) {
      placement.replaceChildren(h("p", { class: "empty" }, "Not placed yet."));
    } else {
      const predicted = ex && ex.pools.find((r) => r.site === p.site && r.pool === p.pool_name);
      const metered = use.items[0];
      placement.replaceChildren(dl([
        ["Site / pool", h("strong", { id: "placed-at" }, `${p.site} / ${p.pool_name}`)],
        ["Accelerators", `${p.count} × ${p.accelerator}`],
        ["Placement state", badge(p.state)],
        ["Predicted start", when(p.predicted_start)],
        ["Predicted end", TERMINAL.has(job.state) ? when(p.predicted_end) : `${when(p.predicted_end)} (${ago(p.predicted_end)})`],
        ["Predicted cost", money(p.predicted_cost)],
        predicted ? ["Predicted carbon", `${num(predicted.carbon_kg)} kg CO2`] : null,
        ["Score", `${num(p.score, 1)} (${Object.entries(p.breakdown || {}).map(([k, v]) => `${k} ${num(v, 0)}`).join(", ")})`],
        metered ? ["Metered", `${num(metered.pf16h, 6)} PF16-h · ${num(metered.energy_kwh, 6)} kWh · ${num(metered.carbon_kg, 6)} kg CO2`] : null,
        metered ? ["Cost so far", money(metered.cost)] : null,
      ]));
    }
    const audited = ctx.me.role === "operator"
      ? auditHistory((await api("/audit", { query: { subject: id, limit: 1000 } })).items) : null;
    hist.replaceChildren(table({
      id: "history-table", empty: "No history.",
      columns: [
        { label: "Time", get: (e) => when(e.at), key: "at" },
        { label: "State", get: (e) => badge(e.state), key: "state" },
        { label: "What happened", get: (e) => e.what, key: "what" },
      ],
      rows: audited || history(job),
    }), h("p", { class: "muted small" }, audited ? "From the audit log." : "Built from the job and its placements."));
  }
  return { refresh };
}

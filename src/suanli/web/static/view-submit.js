// Submit a job (POST /v1/jobs). The API validates; its {"error": {"field", "message"}} is shown
// next to the field it names (the form has `novalidate` so the API stays the one judge).

import { api, ApiError } from "./api.js";
import { errorBox, h } from "./ui.js";

const CLASSES = ["train", "finetune", "infer", "batch"];

// Split a command line into argv like a POSIX shell would for quotes and backslashes.
export function splitArgs(s) {
  const out = [];
  let cur = "";
  let quote = null;
  let word = false;
  for (let i = 0; i < s.length; i++) {
    const c = s[i];
    if (quote) {
      if (c === quote) quote = null;
      else if (c === "\\" && quote === '"' && i + 1 < s.length && '"\\$`'.includes(s[i + 1])) cur += s[++i];
      else cur += c;
    } else if (c === "'" || c === '"') {
      quote = c;
      word = true;
    } else if (c === "\\" && i + 1 < s.length) {
      cur += s[++i];
      word = true;
    } else if (/\s/.test(c)) {
      if (word) out.push(cur);
      cur = "";
      word = false;
    } else {
      cur += c;
      word = true;
    }
  }
  if (quote) throw new ApiError(422, "invalid_field", `close the ${quote} quote`, "command");
  if (word) out.push(cur);
  return out;
}

function field(id, label, control, help) {
  const err = h("div", { class: "field-error", id: `${id}-error`, "aria-live": "polite" });
  control.setAttribute("aria-describedby", `${id}-error${help ? ` ${id}-help` : ""}`);
  return h("div", { class: "field", "data-field": id },
    h("label", { for: id }, label), control,
    help ? h("div", { class: "help muted", id: `${id}-help` }, help) : null, err);
}

export function mount(root, ctx) {
  const operator = ctx.me.role === "operator";
  if (!["tenant", "operator"].includes(ctx.me.role)) {
    root.append(h("h1", {}, "Submit a job"), errorBox(new ApiError(403, "forbidden",
      `a ${ctx.me.role} token cannot submit jobs; use a tenant token (or an operator's, on a tenant's behalf)`)));
    return {};
  }
  const tenant = h("select", { id: "tenant", name: "tenant" });
  const queue = h("select", { id: "queue", name: "queue" });
  const command = h("input", { id: "command", name: "command", type: "text", size: 60, autocomplete: "off",
    placeholder: "python3 train.py --epochs 3" });
  const gpus = h("input", { id: "gpus", name: "gpus", type: "number", value: "1", step: "1", inputmode: "numeric" });
  const jobClass = h("select", { id: "job_class", name: "job_class" }, CLASSES.map((c) => h("option", { value: c }, c)));
  const duration = h("input", { id: "duration_s", name: "duration_s", type: "number", value: "3600", step: "any" });
  const name = h("input", { id: "name", name: "name", type: "text", autocomplete: "off" });
  const formError = h("div", { id: "form-error", "aria-live": "assertive" });
  const button = h("button", { type: "submit", id: "submit" }, "Submit");
  const form = h("form", { id: "submit-form", novalidate: true, class: "submit" },
    operator ? field("tenant", "Tenant (operators submit on a tenant's behalf)", tenant) : null,
    field("command", "Command", command, "Run at the site by its agent, e.g. python3 -c \"print('hi')\". Quotes work as in a shell."),
    h("div", { class: "row" },
      field("gpus", "GPUs", gpus, "accelerators, all at one site"),
      field("job_class", "Class", jobClass),
      field("queue", "Queue", queue),
      field("duration_s", "Expected run time (s)", duration, "on an A100; the scheduler predicts from it")),
    field("name", "Name (optional)", name),
    formError, button);
  root.append(h("h1", {}, "Submit a job"), form);

  function setQueues(names) {
    queue.replaceChildren(...(names.length ? names : ["default"]).map((q) => h("option", { value: q }, q)));
  }
  let tenants = [];
  if (operator) {
    api("/tenants").then((t) => {
      tenants = t.items;
      tenant.replaceChildren(...tenants.map((x) => h("option", { value: x.name }, x.name)));
      setQueues(tenants[0] ? tenants[0].queues.map((q) => q.name) : []);
    }).catch((e) => formError.replaceChildren(errorBox(e)));
    tenant.addEventListener("change", () => {
      const t = tenants.find((x) => x.name === tenant.value);
      setQueues(t ? t.queues.map((q) => q.name) : []);
    });
  } else {
    setQueues(ctx.me.queues || []);
  }

  function clearErrors() {
    formError.replaceChildren();
    for (const el of form.querySelectorAll(".field-error")) el.replaceChildren();
    for (const el of form.querySelectorAll("[aria-invalid]")) el.removeAttribute("aria-invalid");
  }

  function showError(e) {
    const base = (e.field || "").split(/[.[]/)[0];
    const box = base && form.querySelector(`#${CSS.escape(base)}-error`);
    if (box) {
      box.replaceChildren(e.message);
      form.querySelector(`#${CSS.escape(base)}`).setAttribute("aria-invalid", "true");
      form.querySelector(`#${CSS.escape(base)}`).focus();
    } else {
      formError.replaceChildren(errorBox(e));
    }
  }

  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    clearErrors();
    button.disabled = true;
    try {
      const body = { command: splitArgs(command.value), job_class: jobClass.value, queue: queue.value };
      if (gpus.value !== "") body.gpus = Number(gpus.value);
      if (duration.value !== "") body.duration_s = Number(duration.value);
      if (name.value.trim()) body.name = name.value.trim();
      if (operator) body.tenant = tenant.value;
      if (gpus.value === "" && gpus.validity.badInput) throw new ApiError(422, "invalid_field", "give a whole number", "gpus");
      const job = await api("/jobs", { method: "POST", body });
      ctx.go(`#/job/${encodeURIComponent(job.id)}`);
    } catch (e) {
      if (e instanceof ApiError) showError(e);
      else formError.replaceChildren(errorBox(e));
    } finally {
      button.disabled = false;
    }
  });
  command.focus();
  return {};
}

// The shell: sign-in, the navigation for the caller's role, the hash router and auto-refresh.
// A view module exports mount(root, ctx) -> {refresh?(), unmount?()}; refresh() may throw an
// ApiError, which the shell shows above the view while keeping the last data on screen.

import { ApiError, token, whoami } from "./api.js";
import { errorBox, h } from "./ui.js";
import * as overview from "./view-overview.js";
import * as jobs from "./view-jobs.js";
import * as job from "./view-job.js";
import * as submit from "./view-submit.js";
import * as usage from "./view-usage.js";
import * as admin from "./view-admin.js";
import * as compliance from "./view-compliance.js";

const REFRESH_MS = 3000;
const VIEWS = {
  overview: { label: "Federation", module: overview, roles: ["operator", "provider", "tenant"] },
  jobs: { label: "Jobs", module: jobs, roles: ["operator", "provider", "tenant"] },
  job: { module: job },
  submit: { label: "Submit", module: submit, roles: ["tenant", "operator"] },
  usage: { label: "Usage", module: usage, roles: ["operator", "provider", "tenant"] },
  compliance: { label: "Compliance", module: compliance, roles: ["operator"] },
  admin: { label: "Tokens & audit", module: admin, roles: ["operator"] },
};

const state = { me: null, view: null, busy: false, again: false };
const $ = (id) => document.getElementById(id);

function route() {
  const [name, ...rest] = location.hash.replace(/^#\/?/, "").split("/");
  return { name: name || "overview", arg: rest.map(decodeURIComponent).join("/") };
}

function takeFragmentToken() {
  const m = /^#token=([^&]+)/.exec(location.hash);
  if (!m) return false;
  token.set(decodeURIComponent(m[1]));
  history.replaceState(null, "", `${location.pathname}${location.search}#/overview`);
  return true;
}

function renderNav() {
  const nav = $("nav");
  const current = route().name === "job" ? "jobs" : route().name;
  const role = state.me?.role;
  nav.replaceChildren(...Object.entries(VIEWS)
    .filter(([, v]) => v.label && role && v.roles.includes(role))
    .map(([id, v]) => h("a", { href: `#/${id}`, "aria-current": id === current ? "page" : null }, v.label)));
  const me = state.me;
  $("whoami").replaceChildren(me ? h("span", { title: me.tokenId ? `token ${me.tokenId}${me.name ? `: ${me.name}` : ""}` : null },
    "Signed in as ", h("span", { class: `role r-${me.role}` }, me.role), " ",
    h("span", { id: "scope" }, me.tenant || me.provider || me.site || "")) : "");
  $("signout").hidden = !me;
}

function signInView(main, err) {
  const input = h("input", { id: "token", name: "token", type: "password", autocomplete: "off", value: token.get(),
    "aria-describedby": "token-help", placeholder: "sl_…", size: 60 });
  const status = h("div", { id: "signin-status", "aria-live": "polite" }, err ? errorBox(err) : null);
  const form = h("form", { class: "signin", "aria-labelledby": "signin-title" },
    h("h1", { id: "signin-title" }, "Sign in"),
    h("label", { for: "token" }, "API token"), input,
    h("p", { id: "token-help", class: "muted" },
      "Paste an API token. `suanli up` writes one for the operator to DATA_DIR/operator.token and one for the demo tenant "
      + "to DATA_DIR/tenant.token. The token stays in this browser tab only (sessionStorage). "
      + "A link ending in #token=… signs in too."),
    h("button", { type: "submit" }, "Sign in"), status);
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    status.replaceChildren(h("span", { class: "muted" }, "Checking the token…"));
    try {
      await signIn(input.value.trim());
    } catch (e) {
      status.replaceChildren(errorBox(e));
    }
  });
  main.replaceChildren(form);
  input.focus();
}

async function signIn(secret) {
  if (!secret) throw new ApiError(401, "no_token", "paste a token first");
  const me = await whoami(secret);
  token.set(secret);
  state.me = me;
  renderNav();
  if (!location.hash || route().name === "signin") location.hash = "#/overview";
  else mountRoute();
}

function signOut() {
  token.clear();
  state.me = null;
  unmount();
  renderNav();
  history.replaceState(null, "", `${location.pathname}${location.search}`);
  signInView($("main"));
}

function unmount() {
  if (state.view?.unmount) state.view.unmount();
  state.view = null;
}

function mountRoute() {
  unmount();
  const main = $("main");
  if (!state.me) return;
  const { name, arg } = route();
  const spec = VIEWS[name];
  renderNav();
  const alert = h("div", { class: "view-alert", "aria-live": "assertive" });
  const root = h("section", { class: `view v-${name}` });
  main.replaceChildren(alert, root);
  if (!spec) {
    root.append(h("h1", {}, "No such page"), h("p", {}, "Try the ", h("a", { href: "#/overview" }, "federation overview"), "."));
    return;
  }
  const ctx = {
    me: state.me, arg,
    go: (hash) => { location.hash = hash; },
    refresh: () => refresh(),      // views that change data (submit, cancel) refresh at once
  };
  const view = spec.module.mount(root, ctx) || {};
  view.alert = alert;
  view.root = root;
  state.view = view;
  refresh();
}

async function refresh() {
  if (state.busy) { state.again = true; return; }   // run once more when the current one ends
  const view = state.view;
  if (!view || !view.refresh || view.refused) return;
  state.busy = true;
  try {
    await view.refresh();
    view.loaded = true;
    if (view === state.view) {
      view.alert.replaceChildren();
      $("updated").textContent = new Date().toLocaleTimeString([], { hour12: false });
    }
  } catch (e) {
    if (view === state.view) {
      view.alert.replaceChildren(errorBox(e));
      // Refused before anything was shown: keep only the title, not "Loading…" placeholders.
      if (!view.loaded && e instanceof ApiError && [401, 403, 404].includes(e.status)) {
        view.refused = true;      // a refusal does not change by asking again: stop polling this view
        view.root.replaceChildren(...[...view.root.children].filter((el) => el.tagName === "H1" || el.querySelector?.("h1")));
        view.root.append(h("p", { class: "muted" }, "Nothing to show for this token. ",
          h("a", { href: "#/overview" }, "Back to the overview"), " or sign in with another token."));
      }
    }
    if (!(e instanceof ApiError)) console.error(e);
  } finally {
    state.busy = false;
    if (state.again) {
      state.again = false;
      refresh();
    }
  }
}

async function start() {
  takeFragmentToken();
  $("signout").addEventListener("click", signOut);
  window.addEventListener("hashchange", () => {
    // a #token= link signs in again (perhaps as another role)
    if (takeFragmentToken() || (!state.me && token.get())) start2();
    else mountRoute();
  });
  setInterval(() => {
    if ($("autorefresh").checked && !document.hidden) refresh();
  }, REFRESH_MS);
  await start2();
}

async function start2() {
  const secret = token.get();
  if (!secret) return signInView($("main"));
  try {
    await signIn(secret);
  } catch (e) {
    if (e instanceof ApiError && e.status === 401) token.clear();
    signInView($("main"), e);
  }
}

start();

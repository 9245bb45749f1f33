// The REST API under /v1: one fetch wrapper, the token in sessionStorage, and "who am I".
// Every API error is {"error": {"code", "message", "field"}}; it becomes an ApiError here.

const KEY = "suanli.token";

export class ApiError extends Error {
  constructor(status, code, message, field = "") {
    super(message);
    this.status = status;   // 0 when the API does not answer
    this.code = code;
    this.field = field || "";
  }
}

export const token = {
  get: () => sessionStorage.getItem(KEY) || "",
  set: (t) => sessionStorage.setItem(KEY, t.trim()),
  clear: () => sessionStorage.removeItem(KEY),
};

function withQuery(path, query) {
  const qs = new URLSearchParams();
  for (const [k, v] of Object.entries(query || {})) {
    if (v === undefined || v === null || v === "") continue;
    for (const one of Array.isArray(v) ? v : [v]) qs.append(k, String(one));
  }
  const s = qs.toString();
  return s ? `${path}?${s}` : path;
}

export async function api(path, { method = "GET", body, query, secret } = {}) {
  const headers = { Accept: "application/json" };
  const t = secret ?? token.get();
  if (t) headers.Authorization = `Bearer ${t}`;
  if (body !== undefined) headers["Content-Type"] = "application/json";
  let res;
  try {
    res = await fetch(withQuery(`/v1${path}`, query), {
      method, headers, body: body === undefined ? undefined : JSON.stringify(body), cache: "no-store",
    });
  } catch {
    throw new ApiError(0, "api_down", "The API does not answer. Is `suanli up` still running?");
  }
  let data = null;
  try { data = await res.json(); } catch { /* empty or non-JSON body */ }
  if (!res.ok) {
    const e = (data && data.error) || {};
    throw new ApiError(res.status, e.code || `http_${res.status}`, e.message || res.statusText, e.field);
  }
  return data;
}

// A short headline for an error, as the views show it.
export function headline(err) {
  if (!(err instanceof ApiError)) return "Something went wrong in the dashboard";
  if (err.status === 0) return "API down";
  if (err.status === 401) return "This token is not accepted";
  if (err.status === 403) return "This token cannot see that";
  if (err.status === 404) return "Not found (or this token cannot see it)";
  if (err.status >= 500) return "The API failed";
  return "The API refused the request";
}

// The API has no "who am I" route: the token's role is learnt from which list routes it may
// read (tokens: operator only; tenants: operator or tenant; providers: operator or provider).
export async function whoami(secret) {
  const m = /^sl_([0-9a-f]+)_/.exec(secret || "");
  const tokenId = m ? `tok_${m[1]}` : "";
  const probe = async (path) => {
    try { return await api(path, { secret }); } catch (e) {
      if (e instanceof ApiError && e.status === 403) return null;
      throw e;
    }
  };
  const tokens = await probe("/tokens");
  if (tokens) {
    const me = tokens.items.find((t) => t.id === tokenId);
    return { role: "operator", tokenId, name: me ? me.name : "" };
  }
  const tenants = await probe("/tenants");
  if (tenants && tenants.items.length) {
    const t = tenants.items[0];
    return { role: "tenant", tokenId, tenant: t.name, queues: t.queues.map((q) => q.name) };
  }
  const providers = await probe("/providers");
  if (providers) return { role: "provider", tokenId, provider: providers.items[0]?.name || "" };
  const sites = await api("/sites", { secret });
  return { role: "agent", tokenId, site: sites.items[0]?.name || "" };
}

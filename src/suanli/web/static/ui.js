// Small DOM helpers: build elements (text is always text, never HTML), tables, formats.

import { headline } from "./api.js";

export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith("on") && typeof v === "function") el.addEventListener(k.slice(2), v);
    else if (k === "class") el.className = v;
    else if (k === "value") el.value = v;
    else el.setAttribute(k, v === true ? "" : String(v));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const c of children) {
    if (c === undefined || c === null || c === false) continue;
    if (Array.isArray(c)) append(el, c);
    else el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
}

// columns: [{label, get: row => node|string, num?: true, key?: name}]; rowKey(row) names a row.
export function table({ caption, columns, rows, empty, foot, id, rowKey }) {
  if (!rows.length) return h("p", { class: "empty", id }, empty || "Nothing here yet.");
  const cell = (c, row) => h("td", { class: c.num ? "num" : null, "data-col": c.key }, c.get(row));
  return h("table", { id },
    caption ? h("caption", {}, caption) : null,
    h("thead", {}, h("tr", {}, columns.map((c) => h("th", { scope: "col", class: c.num ? "num" : null }, c.label)))),
    h("tbody", {}, rows.map((row) => h("tr", { "data-row": rowKey ? rowKey(row) : null }, columns.map((c) => cell(c, row))))),
    foot ? h("tfoot", {}, h("tr", {}, columns.map((c) => cell(c, foot)))) : null);
}

export function errorBox(err) {
  const detail = err && err.message ? err.message : String(err);
  return h("div", { class: "error", role: "alert" }, h("strong", {}, headline(err)), ": ", detail);
}

export function badge(state) {
  return h("span", { class: `badge s-${state}` }, state);
}

export function card(label, value, unit, note) {
  return h("div", { class: "card" },
    h("div", { class: "card-label" }, label),
    h("div", { class: "card-value" }, value, unit ? h("span", { class: "unit" }, ` ${unit}`) : null),
    note ? h("div", { class: "card-note muted" }, note) : null);
}

// Numbers as the API gives them (it rounds capacity to 4 places): at most 4 decimals, no grouping.
export const num = (x, digits = 4) =>
  x === null || x === undefined ? "–" : Number(x).toLocaleString("en-US", { maximumFractionDigits: digits, useGrouping: false });
export const pct = (x) => (x === null || x === undefined ? "–" : `${(Number(x) * 100).toFixed(1)}%`);
export const money = (s) => (s === null || s === undefined ? "–" : Number(s).toFixed(Number(s) < 1 ? 6 : 2));

export function when(ts) {
  if (!ts) return "–";
  const d = new Date(ts * 1000);
  const sameDay = d.toDateString() === new Date().toDateString();
  return sameDay ? d.toLocaleTimeString([], { hour12: false }) : d.toLocaleString([], { hour12: false });
}

export function ago(ts) {
  if (!ts) return "";
  const s = Math.round(Date.now() / 1000 - ts);
  if (s < 0) return `in ${duration(-s)}`;
  return `${duration(s)} ago`;
}

export function duration(s) {
  if (s === null || s === undefined) return "–";
  s = Math.round(s);
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m ${s % 60}s`;
  if (s < 86400) return `${Math.floor(s / 3600)}h ${Math.floor((s % 3600) / 60)}m`;
  return `${Math.floor(s / 86400)}d ${Math.floor((s % 86400) / 3600)}h`;
}

export const link = (href, text) => h("a", { href }, text);

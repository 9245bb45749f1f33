"""The report of a comparison: PNG plots and one self-contained ``report.html`` (plots inlined
as base64, so the file can be mailed), plus the summary table printed on the terminal.

Plots: queue length over time per profile; utilization per site per profile, and over time per
tier for the first profile; JCT CDF per profile; cost and carbon per profile (with the lower bounds); PF16-hours delivered per tier.
With references (``suanli simulate --references``) the summary gains each profile's ratios to the
fluid reference, a second table lists the references, and the cost plot draws the cheapest-first
fluid schedule's cost.
"""

from __future__ import annotations

import base64
import html
from pathlib import Path
from typing import Any

import numpy as np

from suanli.sim.run import Comparison, jct_array

COLUMNS = (("jobs", "jobs", "{:d}"), ("jct_mean_s", "JCT mean h", "h"), ("jct_p99_s", "JCT p99 h", "h"),
           ("wait_mean_s", "wait mean h", "h"), ("cost", "cost", "{:,.0f}"), ("carbon_kg", "carbon t", "t"),
           ("energy_kwh", "energy MWh", "t"), ("utilization", "util", "{:.2f}"),
           ("deadline_misses", "deadline misses", "{:d}"), ("preemptions", "preempt", "{:d}"),
           ("migrations", "migrate", "{:d}"), ("fairness_jain", "Jain", "{:.3f}"))


def _fmt(value: Any, how: str) -> str:
    if how == "h":
        return f"{value / 3600.0:,.2f}"
    if how == "t":
        return f"{value / 1000.0:,.1f}"
    return how.format(value)


REFERENCES = (("fluid", "fluid chip-mix, fastest pools first (the JCT reference)"),
              ("fluid_cheapest", "fluid chip-mix, cheapest pools first"),
              ("bounds", "no-queue bounds (each job alone on its best pool)"))


def summary_rows(doc: dict[str, Any]) -> tuple[list[str], list[list[str]]]:
    header = ["profile", *(label for _, label, _ in COLUMNS), "JCT/bound", "cost/bound", "carbon/bound"]
    with_refs = "references" in doc
    if with_refs:
        header += ["JCT/fluid", "cost/fluid", "cost/fluid cheapest"]
    rows = []
    for name, m in doc["profiles"].items():
        ratios = m["ratio_to_bound"]
        row = [name, *(_fmt(m[key], how) for key, _, how in COLUMNS),
               f"{ratios['jct_mean']:.2f}", f"{ratios['cost']:.2f}", f"{ratios['carbon']:.2f}"]
        if with_refs:
            to_ref = m["ratio_to_references"]
            row += [f"{to_ref['fluid_jct_mean']:.3f}", f"{to_ref['fluid_cost']:.3f}",
                    f"{to_ref['fluid_cheapest_cost']:.3f}"]
        rows.append(row)
    return header, rows


def references_rows(doc: dict[str, Any]) -> tuple[list[str], list[list[str]]]:
    """The references of ``metrics.json``: mean JCT and cost of each (``--references``)."""
    refs = doc["references"]
    header = ["reference", "JCT mean s", "cost"]
    return header, [[label, f"{refs[key]['jct_mean_s']:,.1f}", _fmt(refs[key]["cost"], "{:,.0f}")]
                    for key, label in REFERENCES]


def summary_table(doc: dict[str, Any]) -> str:
    """The profiles' table, then a warning line for each profile that left jobs rejected or unfinished."""
    return "\n".join([_text_table(*summary_rows(doc)), *(f"warning: {name}: {w}" for name, w in warning_lines(doc))])


def references_table(doc: dict[str, Any]) -> str:
    return _text_table(*references_rows(doc))


def _text_table(header: list[str], rows: list[list[str]]) -> str:
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    lines = ["  ".join(h.rjust(w) for h, w in zip(header, widths, strict=True))]
    lines += ["  ".join(c.rjust(w) for c, w in zip(r, widths, strict=True)) for r in rows]
    return "\n".join(lines)


def warning_lines(doc: dict[str, Any]) -> list[tuple[str, str]]:
    """(profile, warning) for every profile that left jobs rejected or unfinished."""
    return [(name, w) for name, m in doc["profiles"].items() for w in m.get("warnings", ())]


def write_plots(cmp: Comparison, out: Path) -> list[Path]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    assert cmp.table is not None
    table = cmp.table
    doc = cmp.document
    names = [r.name for r in cmp.runs]
    paths = []

    def save(fig: Any, name: str) -> None:
        path = out / name
        fig.tight_layout()
        fig.savefig(path, dpi=90, metadata={"Software": None})
        plt.close(fig)
        paths.append(path)

    fig, ax = plt.subplots(figsize=(8, 3.5))
    for run in cmp.runs:
        t = np.asarray(run.collector.queue_t) / 86400.0
        ax.plot(t, run.collector.queue_n, label=run.name, linewidth=0.8)
    ax.set(xlabel="day", ylabel="pending jobs", title="Queue length over time", yscale="symlog")
    ax.legend()
    save(fig, "queue_length.png")

    fig, ax = plt.subplots(figsize=(9, 4))
    sites = list(table.site_names)
    width = 0.8 / max(1, len(names))
    for k, run in enumerate(cmp.runs):
        util = [doc["profiles"][run.name]["utilization_by_site"][site] for site in sites]
        ax.bar(np.arange(len(sites)) + k * width, util, width, label=run.name)
    ax.set_xticks(np.arange(len(sites)) + width * (len(names) - 1) / 2, sites, rotation=60, ha="right", fontsize=7)
    ax.set(ylabel="accelerators held / capacity", title="Utilization per site", ylim=(0, 1))
    ax.legend()
    save(fig, "utilization_by_site.png")

    first = cmp.runs[0]
    if first.collector.busy_t:
        fig, ax = plt.subplots(figsize=(8, 3.5))
        busy = np.asarray(first.collector.busy_sites)          # [samples, sites]
        caps = np.bincount(table.site_of, weights=table.capacity.astype(np.float64), minlength=len(sites))
        t = np.asarray(first.collector.busy_t) / 86400.0
        for tier in sorted(set(table.tier_of)):
            in_tier = np.asarray([table.tier_of[int(np.flatnonzero(table.site_of == i)[0])] == tier
                                  for i in range(len(sites))])
            ax.plot(t, busy[:, in_tier].sum(axis=1) / caps[in_tier].sum(), label=tier, linewidth=0.8)
        ax.set(xlabel="day", ylabel="accelerators held / capacity", ylim=(0, 1.05),
               title=f"Utilization over time per tier ({first.name}, hourly samples at cycles)")
        ax.legend()
        save(fig, "utilization_over_time.png")

    fig, ax = plt.subplots(figsize=(6, 4))
    for run in cmp.runs:
        jct = np.sort(jct_array(run)) / 3600.0
        if len(jct):
            ax.plot(jct, np.arange(1, len(jct) + 1) / len(jct), label=run.name)
    ax.set(xscale="log", xlabel="JCT (hours)", ylabel="share of jobs", title="JCT CDF")
    ax.legend()
    save(fig, "jct_cdf.png")

    fig, axes = plt.subplots(1, 2, figsize=(9, 3.5))
    for ax, key, bound_key, label in ((axes[0], "cost", "cost", "cost (CNY, illustrative)"),
                                      (axes[1], "carbon_kg", "carbon_kg", "carbon (t CO2)")):
        scale = 1000.0 if key == "carbon_kg" else 1.0
        vals = [doc["profiles"][n][key] / scale for n in names]
        ax.bar(names, vals, color="tab:blue")
        ax.axhline(min(doc["profiles"][n]["bounds"][bound_key] for n in names) / scale, color="tab:red",
                   linestyle="--", label="lower bound")
        if key == "cost" and "references" in doc:
            ax.axhline(doc["references"]["fluid_cheapest"]["cost"], color="tab:green", linestyle=":",
                       label="fluid, cheapest pools first")
        ax.set(title=label)
        ax.tick_params(axis="x", rotation=20)
        ax.legend()
    save(fig, "cost_carbon.png")

    fig, ax = plt.subplots(figsize=(6, 3.5))
    tiers = sorted({t for n in names for t in doc["profiles"][n]["pf16h_by_tier"]})
    bottom = np.zeros(len(names))
    for tier in tiers:
        tier_vals = np.asarray([doc["profiles"][n]["pf16h_by_tier"].get(tier, 0.0) for n in names])
        ax.bar(names, tier_vals, bottom=bottom, label=tier)
        bottom += tier_vals
    ax.set(ylabel="PF16-hours", title="PF16-hours delivered per tier")
    ax.legend()
    save(fig, "pf16h_by_tier.png")
    return paths


def _html_table(header: list[str], rows: list[list[str]]) -> str:
    table = "<table><tr>" + "".join(f"<th>{html.escape(h)}</th>" for h in header) + "</tr>"
    for r in rows:
        table += "<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in r) + "</tr>"
    return table + "</table>"


def _references_html(doc: dict[str, Any]) -> str:
    if "references" not in doc:
        return ""
    refs = doc["references"]
    return (f"<h2>References</h2>{_html_table(*references_rows(doc))}"
            f"<p>Over the {refs['jobs']:,} jobs some pool can hold. The fluid chip-mix reference is a schedule "
            "far stronger than any real one: the pools as they are, clairvoyant, free and instant preemption and "
            "migration at every arrival and completion, a job may spread over several pools; jobs go by seconds "
            f"left on their fastest pool x accelerators ** {refs['gpu_weight']:g}. Its cost is list price x "
            "PF16-hours, without egress. JCT/fluid and cost/fluid in the table above are each profile's mean JCT "
            "and cost over the fastest-first schedule's; cost/fluid cheapest over the cheapest-first one's.</p>")


def compliance_rows(doc: dict[str, Any]) -> tuple[list[str], list[list[str]]]:
    """Each profile's policy figures (``compliance`` in ``metrics.json``) beside their targets."""
    profiles = list(doc["profiles"])
    first = doc["profiles"][profiles[0]]["compliance"]["figures"] if profiles else []
    verdict = {True: "pass", False: "FAIL", None: ""}
    rows = []
    for i, f in enumerate(first):
        row = [f["name"], f["target"] or ""]
        for name in profiles:
            g = doc["profiles"][name]["compliance"]["figures"][i]
            row.append("-" if g["value"] is None else f"{g['value']:,.4g} {verdict[g['ok']]}".strip())
        rows.append(row)
    return ["figure", "target", *profiles], rows


def _compliance_html(doc: dict[str, Any]) -> str:
    if not doc["profiles"] or "compliance" not in next(iter(doc["profiles"].values())):
        return ""
    return ("<h2>Compliance with the policy's targets</h2>" + _html_table(*compliance_rows(doc)) +
            "<p>As <code>suanli report compliance</code> computes them for the live platform (docs/green.md): every "
            "site counts as connected and its capacity as schedulable; green share and PUE are energy-weighted over "
            "the work run.</p>")


def write_html(cmp: Comparison, out: Path, plots: list[Path]) -> Path:
    doc = cmp.document
    table = _html_table(*summary_rows(doc))
    table += "".join(f'<p class="warning"><b>warning: {html.escape(name)}</b>: {html.escape(w)}</p>'
                     for name, w in warning_lines(doc))
    images = "".join(
        f'<figure><img alt="{p.stem}" src="data:image/png;base64,{base64.b64encode(p.read_bytes()).decode()}">'
        f"<figcaption>{p.name}</figcaption></figure>" for p in plots)
    tr, fed = doc["trace"], doc["federation"]
    page = f"""<!doctype html><html><head><meta charset="utf-8"><title>suanli simulate</title>
<style>body{{font-family:sans-serif;margin:2em;max-width:1100px}}table{{border-collapse:collapse}}
td,th{{border:1px solid #ccc;padding:3px 8px;text-align:right}}figure{{display:inline-block;margin:1em}}
img{{max-width:100%}}.warning{{color:#a00}}</style></head><body>
<h1>suanli simulate</h1>
<p>Trace <b>{html.escape(tr['name'])}</b> ({tr['jobs']:,} jobs, {html.escape(tr['source'])}) over federation
<b>{html.escape(fed['name'])}</b> ({fed['sites']} sites, {fed['accelerators']} accelerators,
{fed['pflops_fp16']} PFLOPS FP16). Offered load {doc['offered_load']:.2f}. Seed {doc['config']['seed']}.</p>
{table}
<p>Bounds: the mean over jobs of staging + run time on the fastest eligible chip (JCT), the cheapest
eligible placement (cost) and the cleanest eligible site (carbon); no schedule can beat them.
Prices are illustrative defaults.</p>
{_references_html(doc)}
{_compliance_html(doc)}
{images}
<p>Full numbers: <a href="metrics.json">metrics.json</a>.</p>
</body></html>
"""
    path = out / "report.html"
    path.write_text(page, encoding="utf-8")
    return path

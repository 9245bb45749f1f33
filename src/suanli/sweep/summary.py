"""A sweep's summary across seeds: per profile and metric, the mean and its 95% interval.

The interval is Student's t: mean +- t(0.975, n - 1) x s / sqrt(n), with s the sample standard
deviation over the seeds that finished; with one seed there is no interval (``null``).
Written to ``DIR/summary.json`` (schema ``suanli.sweep/1``, with every seed's value),
``DIR/summary.csv`` (one row per profile and metric) and ``DIR/sweep.png`` (each seed's value as a
dot, the mean and its interval as a bar). The metrics are the columns of ``suanli simulate``'s
table (``sim.report.COLUMNS``) plus the unfinished and rejected jobs.
"""

from __future__ import annotations

import csv
import json
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from suanli.sim.report import COLUMNS
from suanli.sweep.ray_run import Outcome

SCHEMA = "suanli.sweep/1"
METRICS: tuple[tuple[str, str, str], ...] = (*COLUMNS, ("jobs_unfinished", "unfinished", "{:d}"),
                                             ("jobs_rejected", "rejected", "{:d}"))
PLOTTED = ("jct_mean_s", "jct_p99_s", "wait_mean_s", "cost", "carbon_kg", "utilization")
SCALE = {"h": 3600.0, "t": 1000.0}   # as in the simulate table: s -> h, kg -> t, kWh -> MWh (in the labels)


def interval95(values: Sequence[float]) -> dict[str, Any]:
    from scipy.stats import t

    n = len(values)
    mean = math.fsum(values) / n if n else math.nan
    if n < 2:
        return {"n": n, "mean": mean, "std": None, "ci95_low": None, "ci95_high": None}
    std = math.sqrt(math.fsum((v - mean) ** 2 for v in values) / (n - 1))
    half = float(t.ppf(0.975, n - 1)) * std / math.sqrt(n)
    return {"n": n, "mean": mean, "std": std, "ci95_low": mean - half, "ci95_high": mean + half}


def summarize(outcomes: Sequence[Outcome], out: Path) -> dict[str, Any]:
    """The summary document of a sweep whose finished runs were written under ``out``."""
    profiles = list(dict.fromkeys(o.task.name for o in outcomes))
    seeds = sorted({o.task.seed for o in outcomes})
    runs: dict[str, dict[str, str]] = {p: {} for p in profiles}
    values: dict[str, dict[str, list[float]]] = {p: {key: [] for key, _, _ in METRICS} for p in profiles}
    finished: dict[str, list[int]] = {p: [] for p in profiles}
    first: dict[str, Any] | None = None
    for o in outcomes:
        if not o.ok:
            continue
        path = o.task.metrics_path(out)
        doc = json.loads(path.read_text(encoding="utf-8"))
        first = first or doc
        m = doc["profiles"][o.task.name]
        runs[o.task.name][str(o.task.seed)] = str(path.relative_to(out))
        finished[o.task.name].append(o.task.seed)
        for key, _, _ in METRICS:
            values[o.task.name][key].append(m[key])
    return {
        "schema": SCHEMA,
        "trace": first["trace"]["name"] if first else None,
        "federation": first["federation"]["name"] if first else None,
        "profiles": profiles, "seeds": seeds, "runs": runs,
        "failed": [{"profile": o.task.name, "seed": o.task.seed, "attempts": o.attempts, "error": o.error}
                   for o in outcomes if not o.ok],
        "metrics": {p: {key: {**interval95(values[p][key]), "seeds": finished[p], "values": values[p][key]}
                        for key, _, _ in METRICS} for p in profiles},
    }


def cell(stats: dict[str, Any], how: str) -> str:
    """``2.51 ± 0.12`` in the unit of the simulate table (hours, thousands): the mean to 3
    significant digits, the half-width of its interval to 2."""
    if not stats["n"]:
        return "-"
    div = SCALE.get(how, 1.0)
    text = _digits(stats["mean"] / div, 3)
    if stats["ci95_high"] is None:
        return text
    return f"{text} ± {_digits((stats['ci95_high'] - stats['mean']) / div, 2)}"


def _digits(x: float, significant: int) -> str:
    places = 0 if x == 0 else significant - 1 - math.floor(math.log10(abs(x)))
    return f"{round(x, places):,.{max(0, places)}f}"


def table_rows(doc: dict[str, Any]) -> tuple[list[str], list[list[str]]]:
    """Metrics down, profiles across: the printed table."""
    header = ["metric (mean ± 95%)", *doc["profiles"]]
    rows = []
    for key, label, how in METRICS:
        rows.append([label, *(cell(doc["metrics"][p][key], how) for p in doc["profiles"])])
    return header, rows


def write_summary(doc: dict[str, Any], out: Path) -> list[Path]:
    json_path, csv_path = out / "summary.json", out / "summary.csv"
    json_path.write_text(json.dumps(doc, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    with csv_path.open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["profile", "metric", "n", "mean", "ci95_low", "ci95_high", "std"])
        for p in doc["profiles"]:
            for key, _, _ in METRICS:
                s = doc["metrics"][p][key]
                w.writerow([p, key, s["n"], *("" if s[k] is None else repr(float(s[k]))
                                              for k in ("mean", "ci95_low", "ci95_high", "std"))])
    return [json_path, csv_path]


def write_plot(doc: dict[str, Any], out: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    labels = {key: (label, how) for key, label, how in METRICS}
    fig, axes = plt.subplots(2, 3, figsize=(12, 6))
    profiles = doc["profiles"]
    for ax, key in zip(axes.flat, PLOTTED, strict=True):
        label, how = labels[key]
        div = SCALE.get(how, 1.0)
        for x, p in enumerate(profiles):
            s = doc["metrics"][p][key]
            ax.scatter([x] * len(s["values"]), [v / div for v in s["values"]], s=12, alpha=0.5, color="tab:blue")
            if s["n"]:
                err = None if s["ci95_high"] is None else [[(s["mean"] - s["ci95_low"]) / div],
                                                           [(s["ci95_high"] - s["mean"]) / div]]
                ax.errorbar([x + 0.15], [s["mean"] / div], yerr=err, fmt="o", color="black", capsize=4)
        ax.set_xticks(range(len(profiles)), profiles, rotation=20)
        ax.set_xlim(-0.5, len(profiles) - 0.3)
        ax.set_title(label)
    fig.suptitle(f"{doc['trace']} on {doc['federation']}: seeds {seed_text(doc['seeds'])} "
                 "(dots: seeds; bars: mean and 95% interval)")
    fig.tight_layout()
    path = out / "sweep.png"
    fig.savefig(path, dpi=90, metadata={"Software": None})
    plt.close(fig)
    return path


def seed_text(seeds: Sequence[int]) -> str:
    if seeds and list(seeds) == list(range(seeds[0], seeds[-1] + 1)) and len(seeds) > 2:
        return f"{seeds[0]}-{seeds[-1]}"
    return ",".join(map(str, seeds))

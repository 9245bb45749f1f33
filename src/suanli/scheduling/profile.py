"""Scheduling profiles: which queue sort, filters and scores a cycle uses, with which weights.

Profiles are YAML (packaged ones in ``scheduling/profiles/``)::

    name: balanced
    queue_sort: priority-fairshare   # or fifo
    select: best                     # best (highest weighted score) | first (declared order) | random
    placement: greedy                # a placement strategy: greedy | milp (joint placement by HiGHS)
    backfill: true                   # EASY backfill behind a blocked head
    wait_for_better: true            # a job may wait for a full pool that would finish it sooner
                                     # than one free now, while waiting costs it less than it saves
    max_wait_s: 21600                # ... but never longer than this
    migrate: true                    # move a checkpointing running job to a free pool that ends it
    migrate_min_gain_s: 1800         # ... at least this much sooner (after redoing lost work)
    preemption: true                 # preempt preemptible lower-priority work
    filters: [capacity, model, memory, region, latency, price, quota, budget, deadline]
    scores: {completion: 4, price: 1, carbon: 1, packing: 0.5, locality: 0.5}
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from suanli.domain.errors import ConfigError, InvalidInput, UnknownName
from suanli.scheduling.filters import FILTERS
from suanli.scheduling.queue import QUEUE_SORTS
from suanli.scheduling.scores import SCORES
from suanli.scheduling.strategies import STRATEGIES

SELECTS = ("best", "first", "random")
KEYS = ("name", "description", "queue_sort", "select", "placement", "backfill", "preemption", "filters", "scores",
        "milp_max_jobs", "wait_for_better", "max_wait_s", "migrate", "migrate_min_gain_s", "preempt_longer_than")


@dataclass(frozen=True)
class Profile:
    name: str
    queue_sort: str = "priority-fairshare"
    select: str = "best"
    placement: str = "greedy"
    backfill: bool = True
    preemption: bool = True
    filters: tuple[str, ...] = ("capacity", "model", "memory", "region", "latency", "price", "quota", "budget",
                                "deadline")
    scores: tuple[tuple[str, float], ...] = (("completion", 4.0), ("price", 1.0), ("carbon", 1.0),
                                             ("packing", 0.5), ("locality", 0.5))
    milp_max_jobs: int = 300
    wait_for_better: bool = False
    max_wait_s: float = 21600.0
    migrate: bool = False
    migrate_min_gain_s: float = 1800.0
    # > 0: a job may preempt preemptible checkpointing work of its own priority with this many times its run time left
    preempt_longer_than: float = 0.0


def profile_from_mapping(doc: Mapping[str, Any], where: str = "<profile>") -> Profile:
    """Validate a parsed profile; every error names the field and lists the valid choices."""
    try:
        if not isinstance(doc, Mapping):
            raise InvalidInput("a profile must be a mapping", field="(top level)", value=type(doc).__name__,
                               fix="write YAML keys: name, queue_sort, filters, scores...")
        for key in doc:
            if key not in KEYS:
                raise InvalidInput("unknown field", field=str(key), value=doc[key], fix=f"use one of: {', '.join(KEYS)}")
        name = doc.get("name")
        if not isinstance(name, str) or not name:
            raise InvalidInput("is required", field="name", value=name, fix="give the profile a name")
        queue_sort = str(doc.get("queue_sort", "priority-fairshare"))
        QUEUE_SORTS.get(queue_sort)
        select = str(doc.get("select", "best"))
        if select not in SELECTS:
            raise UnknownName("select", select, list(SELECTS), field="select")
        placement = str(doc.get("placement", "greedy"))
        STRATEGIES.get(placement)
        filters = doc.get("filters", list(Profile.filters))
        if not isinstance(filters, list):
            raise InvalidInput("must be a list of filter names", field="filters", value=filters,
                               fix=f"use some of: {', '.join(FILTERS.names())}")
        for f in filters:
            FILTERS.get(str(f))
        if "capacity" not in filters:
            raise InvalidInput("the capacity filter is required", field="filters", value=filters,
                               fix="add capacity: a cycle must never over-commit a pool")
        scores = doc.get("scores") or {}
        if not isinstance(scores, Mapping):
            raise InvalidInput("must map score names to weights", field="scores", value=scores,
                               fix="write e.g. {completion: 4, price: 1}")
        for s, w in scores.items():
            SCORES.get(str(s))
            if isinstance(w, bool) or not isinstance(w, int | float) or w < 0:
                raise InvalidInput("a weight must be a number >= 0", field=f"scores.{s}", value=w, fix="write e.g. 1.0")
        max_wait = doc.get("max_wait_s", 21600.0)
        if isinstance(max_wait, bool) or not isinstance(max_wait, int | float) or max_wait < 0:
            raise InvalidInput("must be a number of seconds >= 0", field="max_wait_s", value=max_wait,
                               fix="write e.g. 21600 (6 hours)")
        min_gain = doc.get("migrate_min_gain_s", 1800.0)
        if isinstance(min_gain, bool) or not isinstance(min_gain, int | float) or min_gain < 0:
            raise InvalidInput("must be a number of seconds >= 0", field="migrate_min_gain_s", value=min_gain,
                               fix="write e.g. 1800 (half an hour)")
        longer = doc.get("preempt_longer_than", 0.0)
        if isinstance(longer, bool) or not isinstance(longer, int | float) or longer < 0:
            raise InvalidInput("must be a number >= 0 (0 = off)", field="preempt_longer_than", value=longer,
                               fix="write e.g. 10 (preempt work with 10x the job's run time left)")
        for flag in ("backfill", "preemption", "wait_for_better", "migrate"):
            if flag in doc and not isinstance(doc[flag], bool):
                raise InvalidInput("must be true or false", field=flag, value=doc[flag], fix="write true or false")
        max_jobs = doc.get("milp_max_jobs", 300)
        if isinstance(max_jobs, bool) or not isinstance(max_jobs, int) or max_jobs <= 0:
            raise InvalidInput("must be a positive whole number", field="milp_max_jobs", value=max_jobs,
                               fix="write e.g. 300")
        return Profile(
            name=name, queue_sort=queue_sort, select=select, placement=placement,
            backfill=bool(doc.get("backfill", True)), preemption=bool(doc.get("preemption", True)),
            filters=tuple(str(f) for f in filters),
            scores=tuple((str(s), float(w)) for s, w in scores.items() if float(w) > 0),
            milp_max_jobs=max_jobs, wait_for_better=bool(doc.get("wait_for_better", False)),
            max_wait_s=float(max_wait), migrate=bool(doc.get("migrate", False)),
            migrate_min_gain_s=float(min_gain), preempt_longer_than=float(longer),
        )
    except ConfigError:
        raise
    except InvalidInput as exc:
        raise ConfigError(exc.problem, field=exc.field, value=exc.value, fix=exc.fix, where=where) from None


def packaged_profiles() -> list[str]:
    folder = resources.files("suanli.scheduling").joinpath("profiles")
    return sorted(p.name[:-5] for p in folder.iterdir() if p.name.endswith(".yaml"))


def parse_profile(text: str, where: str = "<profile>") -> Profile:
    try:
        doc = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(f"is not valid YAML ({exc})", where=where, fix="check indentation and quoting") from None
    return profile_from_mapping(doc, where)


def load_profile(name_or_path: str | Path) -> Profile:
    """A packaged profile by name (``balanced``, ``fifo-firstfit``...) or a YAML file."""
    name = str(name_or_path)
    if name in packaged_profiles():
        text = resources.files("suanli.scheduling").joinpath("profiles", f"{name}.yaml").read_text(encoding="utf-8")
        return parse_profile(text, f"<packaged profile {name}>")
    path = Path(name)
    if path.suffix in (".yaml", ".yml") and path.exists():
        return parse_profile(path.read_text(encoding="utf-8"), str(path))
    raise UnknownName("profile", name, packaged_profiles() + ["<path to a profile .yaml>"], field="profile")

"""What a sweep runs: one task per (profile, seed), each with the simulation options of its seed.

Every input is checked here, before Ray starts: the seeds, the profiles (an unknown one lists the
valid names), the simulation options, the federation, the trace reader and each seed's trace
file. ``--trace-path`` may hold ``{seed}``: each seed then reads its own file.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from suanli.config.federation_file import load_federation
from suanli.domain.errors import InvalidInput, UnknownName
from suanli.scheduling import build_pool_table, load_profile
from suanli.sim.engine import Simulator
from suanli.sim.options import config_from
from suanli.traces import reader_names

SEED_FIX = "write e.g. 0-9, or 0,3,7, or 0-4,10"
NOT_OPTIONS = ("func", "command", "profiles", "seeds", "out", "address", "workers", "quiet", "no_plots")


@dataclass(frozen=True)
class Task:
    """One simulation: ``profile`` as given (a name or a YAML path), its ``name``, and the options."""

    profile: str
    name: str
    seed: int
    options: argparse.Namespace

    @property
    def label(self) -> str:
        return f"{self.name} seed {self.seed}"

    def metrics_path(self, out: Path) -> Path:
        return out / "runs" / self.name / f"seed-{self.seed}" / "metrics.json"


def parse_seeds(text: str) -> list[int]:
    """``0-9`` -> 0..9; ``0,3,7``; ``0-4,10``: sorted, each once."""
    seeds: set[int] = set()
    for part in (p.strip() for p in text.split(",")):
        lo, sep, hi = part.partition("-")
        try:
            first, last = int(lo), int(hi if sep else lo)
        except ValueError:
            raise InvalidInput("is not a list of seeds", field="--seeds", value=text, fix=SEED_FIX) from None
        if first < 0 or last < first:
            raise InvalidInput(f"{part!r} is not a range of non-negative seeds", field="--seeds", value=text,
                               fix=SEED_FIX)
        seeds.update(range(first, last + 1))
    return sorted(seeds)


def parse_profiles(text: str) -> list[tuple[str, str]]:
    """(as given, the profile's name) for each profile, in order and once; unknown names fail here."""
    out: list[tuple[str, str]] = []
    for spec in (p.strip() for p in text.split(",")):
        if not spec:
            continue
        name = load_profile(spec).name
        if name not in (n for _, n in out):
            out.append((spec, name))
    if not out:
        raise InvalidInput("names no profile", field="--profiles", value=text, fix="write e.g. balanced,fifo-firstfit")
    return out


def options_for(args: Any, seed: int) -> argparse.Namespace:
    """The simulation options of one seed (``{seed}`` in ``--trace-path`` replaced)."""
    opts = {k: v for k, v in vars(args).items() if k not in NOT_OPTIONS}
    if opts.get("trace_path") is not None:
        opts["trace_path"] = Path(str(opts["trace_path"]).replace("{seed}", str(seed)))
    opts["seed"] = seed
    return argparse.Namespace(**opts)


def plan(args: Any) -> list[Task]:
    """The tasks of a sweep, profile by profile, seed by seed; raises ``InvalidInput`` on bad input."""
    seeds = parse_seeds(args.seeds)
    profiles = parse_profiles(args.profiles)
    if args.trace not in reader_names():
        raise UnknownName("trace reader", args.trace, reader_names(), field="--trace")
    first = options_for(args, seeds[0])
    config = config_from(first)
    table = build_pool_table(load_federation(args.federation))
    Simulator(table, [], load_profile(profiles[0][0]), config)   # outage sites and price series exist
    for seed in seeds:
        path = options_for(args, seed).trace_path
        if path is not None and not path.is_file():
            raise InvalidInput("is not a file", field="--trace-path", value=str(path),
                               fix="give a trace file for every seed ({seed} in the path stands for the seed)")
    return [Task(spec, name, seed, options_for(args, seed)) for spec, name in profiles for seed in seeds]

"""Scores: each rates the pools for one job on 0..100 (100 = best); the profile's weights combine
them. A score is ``raw(v, state) -> values over all pools`` (lower is better); ``normalize``
maps them to 0..100 over the federation's range, and ``Combiner`` picks the best feasible pool.
Registered by name in ``SCORES``.
"""

from __future__ import annotations

import operator
from typing import Protocol, cast

import numpy as np

from suanli.domain.registry import Registry
from suanli.scheduling.context import CycleState, JobVectors
from suanli.scheduling.types import BoolArray, FloatArray


class Shared:
    """A raw row that is a positive job scalar times a row shared by many jobs (a per-cycle
    rate). Normalizing removes the scalar, so its normalized form is computed once per cycle.
    (A plain slotted class, not a dataclass: one is made per job and score, on the hot path.)"""

    __slots__ = ("row",)

    def __init__(self, row: FloatArray) -> None:
        self.row = row


class Scored:
    """A row already on the 0..100 scale (higher is better), e.g. a share of a fixed range."""

    __slots__ = ("row",)

    def __init__(self, row: FloatArray) -> None:
        self.row = row


Raw = FloatArray | Shared | Scored


class Score(Protocol):
    name: str

    def raw(self, v: JobVectors, state: CycleState) -> Raw:
        """The quantity to minimize over all pools (the cycle masks the infeasible ones)."""
        ...


SCORES: Registry[Score] = Registry("score")


_row_min = np.minimum.reduce   # what ndarray.min does, without its Python wrapper
_row_max = np.maximum.reduce


def normalize(raw: FloatArray) -> FloatArray:
    """Lower raw is better: 100 for the lowest, 0 for the highest, linear between; all equal -> 100.
    The range is taken over every pool of the federation, so a pool's score for a job does not
    depend on which other pools happen to be full."""
    lo = float(raw.min())
    span = float(raw.max()) - lo
    if span <= 1e-12 * max(1.0, abs(lo)):
        return np.full(raw.shape, 100.0)
    out: FloatArray = (100.0 / span) * (lo + span - raw)
    return out


class Combiner:
    """Weighted normalized scores of one cycle, with the normalized shared rows cached."""

    def __init__(self, scores: list[tuple[Score, float]]) -> None:
        self.scores = scores
        total = sum(w for _, w in scores) or 1.0
        self.weights = [w / total for _, w in scores]
        self._shared: dict[int, tuple[FloatArray, FloatArray]] = {}
        self._totals: dict[tuple[int, ...], tuple[tuple[FloatArray, ...], FloatArray]] = {}
        self._fns = [(s.raw, w, s.name) for (s, _), w in zip(scores, self.weights, strict=True)]

    def normalized(self, raw: Raw) -> FloatArray:
        """``raw`` on the 0..100 scale (higher is better), over every pool."""
        kind = type(raw)
        if kind is Scored:
            return raw.row  # type: ignore[union-attr]
        if kind is Shared:
            return self._shared_norm(raw.row)  # type: ignore[union-attr]
        return normalize(raw)  # type: ignore[arg-type]

    def _shared_norm(self, row: FloatArray) -> FloatArray:
        hit = self._shared.get(id(row))
        if hit is None or hit[0] is not row:
            hit = (row, normalize(row))
            self._shared[id(row)] = hit
        return hit[1]

    def _shared_total(self, rows: list[FloatArray], weights: list[float]) -> FloatArray:
        """The weighted sum of the normalized shared rows, cached per combination of rows."""
        key = tuple(map(id, rows))
        hit = self._totals.get(key)
        if hit is None or not all(map(operator.is_, hit[0], rows)):   # same ids, same (live) rows
            total = np.zeros(len(rows[0]))
            for w, row in zip(weights, rows, strict=True):
                total = total + w * self._shared_norm(row)
            hit = (tuple(rows), total)
            self._totals[key] = hit
        return hit[1]

    def best(self, v: JobVectors, state: CycleState, mask: BoolArray | None) -> tuple[int, float, dict[str, float]]:
        """The pool with the highest weighted score among ``mask`` (None = every pool); ties go to
        the first pool in declared order. Returns (pool, total score, score per plugin there)."""
        return self.pick(self.totals(v, state), mask)

    def totals(self, v: JobVectors, state: CycleState) -> Totals:
        """The weighted score of every pool, up to a constant (for ranking), and what ``pick``
        needs to report the 0..100 scores of one pool.

        A job's own raw row r normalizes to 100 x (hi - r) / span, so its weighted term is a
        constant minus (100 w / span) x r; constants do not move the argmax, so each own row
        costs one scaled subtraction, and its 0..100 value is computed only at the chosen pool.
        """
        shared_rows: list[FloatArray] = []
        shared_weights: list[float] = []
        parts: list[tuple[str, Raw, float, float]] = []  # name, raw, hi, span (span < 0: constant)
        total: FloatArray | None = None
        for raw_fn, w, name in self._fns:
            r = raw_fn(v, state)
            kind = type(r)
            if kind is Shared:
                shared_rows.append(r.row)  # type: ignore[union-attr]
                shared_weights.append(w)
                parts.append((name, r, 0.0, 0.0))
            elif kind is Scored:
                term: FloatArray = w * r.row  # type: ignore[union-attr]
                total = term if total is None else total + term
                parts.append((name, r, 0.0, 0.0))
            else:
                own = cast(FloatArray, r)   # type() above is what isinstance costs, narrowed by hand
                lo = float(_row_min(own))
                hi = float(_row_max(own))
                span = hi - lo
                if span <= 1e-12 * max(1.0, abs(lo)):
                    parts.append((name, r, hi, -1.0))
                    continue
                term = (w * 100.0 / span) * own
                total = -term if total is None else total - term
                parts.append((name, r, hi, span))
        if shared_rows:
            base = self._shared_total(shared_rows, shared_weights)
            total = base if total is None else total + base
        return Totals(total if total is not None else v.table.zeros, parts)

    def pick(self, totals: Totals, mask: BoolArray | None) -> tuple[int, float, dict[str, float]]:
        total = totals.total
        if mask is not None:
            total = np.where(mask, total, -np.inf)
        pool = int(total.argmax())
        breakdown: dict[str, float] = {}
        score = 0.0
        for (name, r, hi, span), w in zip(totals.parts, self.weights, strict=True):
            kind = type(r)
            if kind is Shared:
                value = float(self._shared_norm(r.row)[pool])  # type: ignore[union-attr]
            elif kind is Scored:
                value = float(r.row[pool])  # type: ignore[union-attr]
            elif span < 0:
                value = 100.0
            else:
                value = 100.0 * (hi - float(cast(FloatArray, r)[pool])) / span
            breakdown[name] = value
            score += w * value
        return pool, score, breakdown


class Totals:
    """Every pool's weighted score for one job (up to a constant) and the parts behind it."""

    __slots__ = ("total", "parts")

    def __init__(self, total: FloatArray, parts: list[tuple[str, Raw, float, float]]) -> None:
        self.total = total
        self.parts = parts


class Completion:
    """Predicted completion: queue wait (0 where the job fits now) + data staging + run time on
    that chip."""

    name = "completion"

    def raw(self, v: JobVectors, state: CycleState) -> Raw:
        if v.wait is not None:
            return v.completion_s + v.wait
        return v.completion_s if v.has_data else Shared(v.rates.base)


class Price:
    """Predicted cost: price x PF16-hours on that chip + data egress."""

    name = "price"

    def raw(self, v: JobVectors, state: CycleState) -> Raw:
        return v.cost if v.has_data else Shared(v.rates.price)


class Carbon:
    """Predicted kg CO2: energy x PUE x grid intensity x (1 - green share)."""

    name = "carbon"

    def raw(self, v: JobVectors, state: CycleState) -> Raw:
        return Shared(v.rates.carbon)


class Packing:
    """Best fit: the smallest share of the pool left free after placing the job, on the fixed
    range 0 (pool left empty) .. 100 (pool left full)."""

    name = "packing"

    def raw(self, v: JobVectors, state: CycleState) -> Raw:
        # 100 - (free - gpus) x 100 / capacity, with the percent of the pool free kept by the state
        return Scored(v.table.packing_offset(v.job.gpus) - state.free_pct)


class Locality:
    """Near the job's data and its users: staging time plus RTT from the user region."""

    name = "locality"

    def raw(self, v: JobVectors, state: CycleState) -> Raw:
        t = v.table
        if v.job.user_region in t.regions:
            return v.staging_s + t.rtt_s_from(t.region_index(v.job.user_region or ""))
        return v.staging_s if v.has_data else Shared(t.zeros)


for _s in (Completion(), Price(), Carbon(), Packing(), Locality()):
    SCORES.add(_s.name, _s)

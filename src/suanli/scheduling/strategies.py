"""Placement strategies: how a cycle runs steps 2-5 over its ordered queue. A strategy is
``(cycle, order) -> None``: it places, preempts and leaves pending through the cycle's own steps
(``Cycle.consider``, ``Cycle.place``), so every job it does not place still gets its reasons.
Registered by name in ``STRATEGIES``; a profile's ``placement`` names one.

- ``greedy``: one job after another in queue order, each on its best pool.
- ``milp``: the head of the queue jointly by a mixed-integer program (``milp.py``), then the
  rest greedily with the capacity left.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Protocol

from suanli.domain.jobs import Job
from suanli.domain.registry import Registry
from suanli.scheduling.milp import place_milp

if TYPE_CHECKING:
    from suanli.scheduling.cycle import Cycle


class PlacementStrategy(Protocol):
    def __call__(self, cycle: Cycle, order: Sequence[Job]) -> None: ...


STRATEGIES: Registry[PlacementStrategy] = Registry("placement")


def greedy(cycle: Cycle, order: Sequence[Job]) -> None:
    """Each job in queue order: filter, score, place, else backfill or preempt (``Cycle.consider``)."""
    for job in order:
        cycle.consider(job)


STRATEGIES.add("greedy", greedy)
STRATEGIES.add("milp", place_milp)

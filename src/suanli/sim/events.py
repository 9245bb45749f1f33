"""The event queue and the simulation clock.

Events are ordered by (time, sequence): the sequence number is given at push time, so two
events at the same time come out in the order they were pushed, and a run is reproducible.
The clock only moves forward; everything that needs the time reads ``SimClock.now``.
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass
from enum import IntEnum


class Kind(IntEnum):
    ARRIVE = 0
    CYCLE = 1
    START = 2
    FINISH = 3
    SITE_DOWN = 4
    SITE_UP = 5


@dataclass(frozen=True, slots=True)
class SimEvent:
    """What sinks see: an event that happened, with a short detail."""

    time: float
    kind: str          # arrive, cycle, place, start, finish, preempt, fail, reject, site-down, site-up
    subject: str       # job id or site name
    detail: str = ""

    def line(self) -> str:
        return f"{self.time:.1f} {self.kind} {self.subject}" + (f" {self.detail}" if self.detail else "")


class SimClock:
    """Simulated seconds since the trace start; never goes back."""

    def __init__(self, start: float = 0.0) -> None:
        self._now = start

    @property
    def now(self) -> float:
        return self._now

    def advance(self, t: float) -> None:
        if t < self._now:
            raise ValueError(f"the clock cannot go back from {self._now} to {t}")
        self._now = t


class EventQueue:
    """A heap of (time, seq, kind, subject, attempt) tuples."""

    def __init__(self) -> None:
        self._heap: list[tuple[float, int, int, str, int]] = []
        self._seq = 0

    def push(self, time: float, kind: Kind, subject: str = "", attempt: int = 0) -> None:
        heapq.heappush(self._heap, (time, self._seq, int(kind), subject, attempt))
        self._seq += 1

    def extend_sorted(self, items: list[tuple[float, Kind, str]]) -> None:
        """Push many events at once (e.g. all arrivals); keeps (time, seq) order."""
        for time, kind, subject in items:
            self._heap.append((time, self._seq, int(kind), subject, 0))
            self._seq += 1
        heapq.heapify(self._heap)

    def pop(self) -> tuple[float, int, int, str, int]:
        return heapq.heappop(self._heap)

    def __len__(self) -> int:
        return len(self._heap)

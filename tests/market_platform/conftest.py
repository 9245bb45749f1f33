"""The market world most of these tests share: the demo federation on a real store (SQLite and
PostgreSQL), a settable clock, and billing only when the test calls it (the periodic market step
is held off). ``test_flow`` overrides ``mw`` to let the market step run."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.api.helpers import World
from tests.market_platform.helpers import Clock, market_world


@pytest.fixture
def mw(store_url: str) -> Iterator[tuple[World, Clock]]:
    w, clock = market_world(store_url)
    w.p.cache.market_step_at = float("inf")      # billing runs when the test says
    yield w, clock
    w.p.db.dispose()

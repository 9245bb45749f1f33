"""Ids for the rows the platform creates (jobs, placements, orders, trades, ...)."""

from __future__ import annotations

import random
import secrets
import time

_RANDOM = random.Random(secrets.randbits(64))


def new_id(prefix: str) -> str:
    """Unique and roughly time-ordered: milliseconds, then 32 random bits (ids are not secrets)."""
    return f"{prefix}-{int(time.time() * 1000):x}{_RANDOM.getrandbits(32):08x}"

"""The market's periodic steps in the control loop: one spot clearing round, then billing of what
ended. Run by the scheduler leader every ``SUANLI_MARKET_S`` seconds (default 5); a failure is
logged and retried next time (each step is one transaction, so nothing is half-written)."""

from __future__ import annotations

import logging
from typing import Any

from suanli.services.billing import bill_ended
from suanli.services.market import clear_round
from suanli.services.platform import Platform

log = logging.getLogger("suanli.control.market")


def market_step(p: Platform, now: float, *, force: bool = False) -> dict[str, Any] | None:
    """Clear the spot books and bill ended placements, at most once per period."""
    period = p.settings.market_s
    last = p.cache.market_step_at
    if not force and last is not None and now - last < period:
        return None
    p.cache.market_step_at = now
    out: dict[str, Any] = {}
    try:
        out["clearing"] = clear_round(p, now)
    except Exception:  # the loop must survive; the next step retries
        log.exception("spot clearing failed")
    try:
        out["billing"] = bill_ended(p, now=now)
    except Exception:
        log.exception("billing failed")
    return out

"""Per-tenant submission rate: a token bucket per tenant in each API process
(``SUANLI_SUBMIT_RATE`` tokens a second, ``SUANLI_SUBMIT_BURST`` at most; rate 0 = no limit).
Each process limits on its own, so N replicas admit up to N times the rate."""

from __future__ import annotations

import math
import time

from suanli.services.errors import TooManyRequests
from suanli.services.platform import Platform


def take_submission(p: Platform, tenant: str) -> None:
    """Spend one submission of ``tenant``'s bucket, or raise ``TooManyRequests`` with the whole
    seconds until one is available again."""
    rate = p.settings.submit_rate
    if rate <= 0:
        return
    burst = max(p.settings.submit_burst, 1.0)
    buckets = p.cache.submit_buckets
    now = time.monotonic()
    b = buckets.get(tenant)
    if b is None:
        if len(buckets) > 10000:
            buckets.clear()
        b = buckets[tenant] = [burst, now]
    tokens = min(burst, b[0] + (now - b[1]) * rate)
    b[1] = now
    if tokens < 1.0:
        b[0] = tokens
        wait = max(1, math.ceil((1.0 - tokens) / rate))
        raise TooManyRequests(f"tenant {tenant!r} is over its submission rate ({rate:g}/s, bursts of {burst:g} "
                              f"per API process); fix: retry after {wait} s (Retry-After), or submit more slowly",
                              retry_after=wait)
    b[0] = tokens - 1.0

"""Units as types and the conversions between them.

Compute is metered in **PF16-hours**: one hour of 10^15 FLOP/s of dense FP16 tensor peak.
An A100 for one hour is 0.312 PF16-h. Times are seconds (UTC epoch where absolute);
energy is kWh; carbon is kg CO2; money is ``Decimal`` (see ``suanli.market.money``).
"""

from __future__ import annotations

from typing import NewType

PF16Hours = NewType("PF16Hours", float)
Seconds = float
TFLOPS_PER_PFLOPS = 1000.0
SECONDS_PER_HOUR = 3600.0


def pf16_hours(dense_fp16_tflops: float, count: float, seconds: float) -> PF16Hours:
    """Standard compute delivered: dense FP16 peak x count x hours / 1000."""
    return PF16Hours(dense_fp16_tflops * count * (seconds / SECONDS_PER_HOUR) / TFLOPS_PER_PFLOPS)


def pflops(tflops: float, count: float = 1.0) -> float:
    """Capacity in PFLOPS from a per-chip TFLOPS figure."""
    return tflops * count / TFLOPS_PER_PFLOPS

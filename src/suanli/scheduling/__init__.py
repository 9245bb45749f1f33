"""The pure scheduling core: snapshot -> ``schedule()`` -> decisions, with plugins and profiles.

Public API::

    from suanli.scheduling import build_pool_table, make_snapshot, load_profile, schedule, explain_job
"""

from suanli.scheduling.cycle import schedule
from suanli.scheduling.explain import explain_job
from suanli.scheduling.limits import budget_stops
from suanli.scheduling.profile import Profile, load_profile, packaged_profiles, parse_profile
from suanli.scheduling.snapshot import make_snapshot
from suanli.scheduling.table import PoolTable, build_pool_table
from suanli.scheduling.types import (
    CycleResult,
    PendingReason,
    Placement,
    Preemption,
    QueueState,
    Reservation,
    RunningJob,
    Snapshot,
    TenantState,
)

__all__ = [
    "CycleResult", "PendingReason", "Placement", "PoolTable", "Preemption", "Profile", "QueueState", "Reservation",
    "RunningJob", "Snapshot", "TenantState", "budget_stops", "build_pool_table", "explain_job", "load_profile",
    "make_snapshot", "packaged_profiles", "parse_profile", "schedule",
]

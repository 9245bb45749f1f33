"""One scheduling cycle against the store, in numbered steps, and the loop that repeats it.

1. Reconcile: sites whose agent missed its lease become ``lost``; the active placements of
   sites that are not up end as ``lost`` and their jobs go back to the queue.
2. Snapshot: the store -> ``Snapshot`` (``services.snapshot``), the same value the simulator builds.
3. Decide: ``schedule(snapshot, profile, rng)`` -- the same function the simulator calls; when
   jobs are pending, or a checkpointing job runs and the profile migrates (so a faster pool that
   frees up or comes up takes it over even when nothing waits).
4. Bind: each placement in its own transaction: job pending -> placed (a conditional update, so
   a job cancelled meanwhile is simply forgotten), the placement row, the audit record.
5. Preempt: victims move to ``preempted`` and their agents are asked to kill them; they return
   to ``pending`` when the agent confirms (``services.lifecycle``). The cycle also preempts running
   preemptible work whose tenant or queue has spent a budget (``scheduling.limits.budget_stops``:
   the cycle runs for that even with nothing pending), with that reason in the job and the audit log. A job the profile migrates is
   preempted by itself here (its new placement is skipped in step 4, as it is not pending) and
   placed again by a later cycle, from its last checkpoint.
6. Record why every job left pending was not placed; reject what can never run.
7. The market: a spot round and billing, every ``SUANLI_MARKET_S`` (``control.market``).
8. History: a sample a minute for the compliance report and the dashboard's plots
   (``services.compliance.record_history``); a failure there is logged and the cycle goes on.

A crash anywhere leaves every job either still pending or bound exactly once. On PostgreSQL
every transaction of a cycle is fenced by the leader (``control.leader``): a leader that lost
its lock in the middle of a cycle writes nothing more.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import threading
import time
from dataclasses import dataclass, field

import numpy as np

from suanli.control.leader import LostLeadership
from suanli.control.market import market_step
from suanli.scheduling import CycleResult, budget_stops, load_profile, schedule
from suanli.services.compliance import record_history
from suanli.services.ids import new_id
from suanli.services.lifecycle import end_placement
from suanli.services.platform import SCHEDULER, Platform
from suanli.services.snapshot import build_snapshot
from suanli.store.jobs import ACTIVE_PLACEMENT_STATES

log = logging.getLogger("suanli.control")


@dataclass
class CycleReport:
    placed: int = 0
    preempted: int = 0
    rejected: int = 0
    pending: int = 0
    lost_sites: list[str] = field(default_factory=list)
    seconds: float = 0.0


def reconcile(p: Platform, now: float) -> list[str]:
    """Step 1: mark lapsed sites lost; requeue the active placements of sites that are not up."""
    lost = []
    with p.uow() as uow:
        for s in uow.federation.sites():
            lapsed = s["health"] == "up" and (s["last_heartbeat"] or 0) < now - p.settings.lease_s
            if lapsed:
                uow.federation.update_site(s["name"], bump=False, health="down")
                uow.audit.record(now, SCHEDULER.actor, SCHEDULER.role, "site.down", s["name"],
                                 last_heartbeat=s["last_heartbeat"])
                lost.append(s["name"])
            if lapsed or s["health"] != "up":
                for pl in uow.jobs.placements(site=s["name"], states=ACTIVE_PLACEMENT_STATES):
                    end_placement(p, uow, pl, "lost", now, SCHEDULER, reason=f"site {s['name']} lost its agent")
    return lost


def bind(p: Platform, result: CycleResult, pool_ids: tuple[int, ...], attempts: dict[str, int], now: float) -> int:
    """Step 4: one transaction per placement."""
    placed = 0
    for pl in result.placements:
        pid = new_id("p")
        with p.uow() as uow:
            if not uow.jobs.transition(pl.job_id, "pending", "placed", site=pl.site, placement_id=pid,
                                       attempts=attempts.get(pl.job_id, 0) + 1, updated_at=now, reason=""):
                continue  # cancelled or changed since the snapshot: forget it
            acc = uow.federation.pool(pool_ids[pl.pool]) or {}
            uow.jobs.add_placement(
                id=pid, job_id=pl.job_id, attempt=attempts.get(pl.job_id, 0) + 1, site=pl.site,
                pool_id=pool_ids[pl.pool], pool_name=pl.pool_name, accelerator=acc.get("accelerator", ""),
                count=pl.count, state="assigned", created_at=now, predicted_start=pl.start,
                predicted_end=pl.predicted_end, predicted_cost=pl.cost, score=pl.score,
                breakdown=json.dumps({k: round(float(v), 6) for k, v in pl.breakdown.items()}))
            uow.audit.record(now, SCHEDULER.actor, SCHEDULER.role, "job.placed", pl.job_id, placement=pid,
                             site=pl.site, pool=pl.pool_name, count=pl.count, score=round(pl.score, 6),
                             backfilled=pl.backfilled)
            placed += 1
    return placed


def preempt(p: Platform, result: CycleResult, now: float) -> int:
    """Step 5."""
    done = 0
    for pre in result.preemptions:
        with p.uow() as uow:
            job = uow.jobs.get(pre.victim_id)
            if job is None or job["state"] not in ("placed", "running"):
                continue
            moving = pre.by_job_id == pre.victim_id   # a migration: requeued, then placed on a faster pool
            why = pre.reason or ("moving to a pool that finishes it sooner" if moving
                                 else f"preempted by {pre.by_job_id}")
            if uow.jobs.transition(job["id"], job["state"], "preempted", updated_at=now, reason=why):
                if job["placement_id"]:
                    uow.jobs.update_placement(job["placement_id"], kill_requested=True, kill_reason="preempt")
                uow.audit.record(now, SCHEDULER.actor, SCHEDULER.role, "job.preempted", job["id"],
                                 by=pre.by_job_id, reason=why, lost_pf16h=round(pre.lost_pf16h, 6))
                done += 1
    return done


def run_cycle(p: Platform, rng: np.random.Generator) -> CycleReport:
    t0 = time.perf_counter()
    now = p.now()
    report = CycleReport(lost_sites=reconcile(p, now))                      # 1
    with p.uow() as uow:
        built = build_snapshot(p, uow)                                      # 2
    snap = built.snapshot
    # with nothing pending the cycle still runs while a checkpointing job could move (the
    # profile's migrations: free capacity, e.g. a faster site that came up, takes over running work)
    stops = budget_stops(snap)      # running preemptible work of a tenant or queue whose budget is spent
    profile = load_profile(p.settings.profile) if snap.pending or stops or any(
        r.job.checkpoint_interval_s for r in snap.running) else None
    if profile is not None and (snap.pending or stops or profile.migrate):
        result = schedule(snap, profile, rng)                              # 3
        attempts = {j: r["attempts"] for j, r in built.pending_rows.items()}
        report.placed = bind(p, result, built.pool_ids, attempts, now)      # 4
        report.preempted = preempt(p, result, now)                          # 5
        with p.uow() as uow:                                                # 6
            uow.jobs.set_reasons({j: r.summary for j, r in result.pending.items()
                                  if j in built.pending_rows and built.pending_rows[j]["reason"] != r.summary})
            for job_id, why in result.rejected.items():
                if uow.jobs.transition(job_id, "pending", "rejected", updated_at=now, finished_at=now, reason=why):
                    uow.audit.record(now, SCHEDULER.actor, SCHEDULER.role, "job.rejected", job_id, reason=why)
                    report.rejected += 1
        report.pending = len(result.pending)
    market_step(p, now)                                                     # 7: spot round, billing
    try:
        record_history(p, now)                                              # 8: a history sample a minute
    except LostLeadership:
        raise
    except Exception:  # the plots may miss a sample; scheduling must not stop for it
        log.exception("history sample failed")
    report.seconds = time.perf_counter() - t0
    return report


class SchedulerLoop:
    """Runs ``run_cycle`` every ``settings.cycle_s`` while this process holds the leadership."""

    def __init__(self, p: Platform, leader: object) -> None:
        self.p = p
        self.leader = leader
        self.stop = threading.Event()
        self.rng = np.random.default_rng(p.settings.seed)
        self.cycles = 0
        self.is_leader = False

    def tick(self) -> bool:
        """One turn: try for the leadership and, while holding it, run one cycle whose every
        transaction is fenced by the leader. True if a cycle ran to its end."""
        was = self.is_leader
        try:
            self.is_leader = bool(self.leader.acquire())  # type: ignore[attr-defined]
            if not self.is_leader:
                if was:
                    log.warning("lost the scheduler leadership")
                return False
            fence = getattr(self.leader, "fence", None)
            p = dataclasses.replace(self.p, fence=fence) if fence is not None else self.p
            report = run_cycle(p, self.rng)
            self.p.metrics.cycle_seconds.observe(report.seconds)
            self.cycles += 1
            if report.placed or report.preempted or report.lost_sites or report.rejected:
                log.info("cycle: %s", report)
            return True
        except LostLeadership as exc:
            log.warning("cycle stopped: %s", exc)
        except Exception:  # the loop must survive a bad cycle; the next one retries
            log.exception("scheduler cycle failed")
        self.leader.release()  # type: ignore[attr-defined]
        self.is_leader = False
        return False

    def run(self) -> None:
        while not self.stop.is_set():
            was = self.is_leader
            self.tick()
            # A leader that just lost the lock lets the other replicas take it first.
            self.stop.wait(self.p.settings.cycle_s * (3 if was and not self.is_leader else 1))
        self.leader.release()  # type: ignore[attr-defined]

    def start(self) -> threading.Thread:
        t = threading.Thread(target=self.run, name="suanli-scheduler", daemon=True)
        t.start()
        return t

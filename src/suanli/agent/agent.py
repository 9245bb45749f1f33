"""The agent loop. At start it opens an agent session for its site (which fences out any older
agent of the site: that one's calls are refused and it exits) and adopts what its engine still
runs for the site (a restarted agent neither loses nor repeats work); then, every ``interval``
seconds, in numbered steps:

1. Heartbeat: free accelerators per pool, the engine's inventory (at most every
   ``inventory_s``), and the placements this agent holds; the reply names placements to kill
   (cancelled, preempted, or no longer active on the platform).
2. Kill what was asked.
3. Enforce time limits (kill, report ``failed`` with reason ``time_limit``).
4. Ship new log bytes of every placement, within a budget per step, the head and the tail of a
   long output only (``agent.logs``; chunks carry their byte offset; retries are idempotent).
5. Report placements that ended (once their log is drained), with their exit codes and the
   engine's reason.
6. Lease new placements for this site and start them; report them ``running``.

Failure rules: an engine that does not answer (``EngineUnavailable``) is never taken as "job
gone": the agent keeps every placement it holds and asks again next step. Any other failure to
start a placement is that placement's failure, reported with the reason; one bad job never kills
the agent. If the API cannot be reached the agent keeps its jobs running and retries; if it stays
away past the lease the platform requeues them and the next heartbeat tells the agent to kill them.
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass, field
from typing import Any

from suanli.agent.backends import Backend, EngineError, EngineUnavailable, Handle, PoolInventory, PoolSpec
from suanli.agent.logs import LogShipper
from suanli.api.client import ApiError, ApiUnreachable, Client

log = logging.getLogger("suanli.agent")


def gang_shape(count: int, pool: PoolSpec | None) -> dict[str, int]:
    """Nodes and accelerators per node for ``count`` accelerators of ``pool``: one node when they
    fit on one, else as few nodes as hold them, evenly filled."""
    per_node = pool.per_node if pool is not None and pool.per_node > 0 else count
    nodes = max(1, math.ceil(count / per_node))
    return {"nodes": nodes, "per_node": math.ceil(count / nodes)}


@dataclass
class Running:
    placement: dict[str, Any]
    handle: Handle
    slots: list[int]
    pool: str
    started: float
    killed: str = ""          # "", "requested", "time_limit"
    reported: bool = False    # the platform acknowledged "running"
    logs: LogShipper | None = None
    exit_code: int | None = None   # set once the engine says it ended


@dataclass
class Agent:
    client: Client
    site: str
    backend: Backend
    interval: float = 0.5
    inventory_s: float = 2.0
    log_cap: int = 10 * 2**20          # bytes of a placement's output kept: half head, half tail
    log_step: int = 2**20              # bytes shipped per placement per step
    slot_grace_s: float = 5.0          # how long a placement may wait for slots a preemption frees
    running: dict[str, Running] = field(default_factory=dict)
    waiting: dict[str, dict[str, Any]] = field(default_factory=dict)   # held, not started or adopted yet
    slots: dict[str, set[int]] = field(default_factory=dict)   # free slot indexes per pool
    pools: dict[str, PoolSpec] = field(default_factory=dict)
    inventory: dict[str, PoolInventory] = field(default_factory=dict)
    _inventory_at: float = 0.0
    _adopted: bool = False

    def load_site(self) -> None:
        session = self.client.post("/v1/agent/session")["session"]
        self.client.http.headers["X-Agent-Session"] = session
        site = self.client.get(f"/v1/sites/{self.site}")
        self.pools = {p["name"]: PoolSpec(p["name"], p["accelerator"], int(p["per_node"]), int(p["nodes"]))
                      for p in site["pools"]}
        self.slots = {name: set(range(p.declared)) for name, p in self.pools.items()}

    # -- adoption ------------------------------------------------------------------------------
    def adopt(self) -> None:
        """Once, at start: every placement the platform thinks this site holds is looked up in the
        engine. Found (alive or ended while the agent was away): re-attached, and an end is then
        reported as usual. Leased but never started: started now (start is idempotent). Running
        but unknown to the engine: dropped, so the platform requeues it as lost."""
        for pl in self.client.get("/v1/agent/placements")["items"]:
            self.waiting[pl["placement_id"]] = pl
        self._adopted = True

    def _resolve_waiting(self) -> None:
        for pid, pl in list(self.waiting.items()):
            if pid in self.running:
                del self.waiting[pid]
                continue
            try:
                handle = self.backend.adopt(pl)
            except EngineUnavailable as exc:
                log.warning("cannot ask the engine about %s yet: %s", pid, exc)
                continue
            except Exception:  # noqa: BLE001  (a backend bug must not kill the agent: keep it, ask again)
                log.exception("adopting %s failed", pid)
                continue
            if handle is not None:
                del self.waiting[pid]
                self._attach(pl, handle, pl.get("slots") or [], reported=pl.get("state") == "running",
                             started=pl.get("started_at") or time.time())
                log.info("placement %s adopted from the engine", pid)
            elif pl.get("state") == "leased":
                del self.waiting[pid]
                self.start(pl)
            else:
                del self.waiting[pid]   # running, but the engine has no trace: the platform requeues it
                log.warning("placement %s is not in the engine any more; the platform will requeue it", pid)

    # -- capacity ------------------------------------------------------------------------------
    def refresh_inventory(self) -> None:
        now = time.monotonic()
        if now - self._inventory_at < self.inventory_s:
            return
        try:
            self.inventory = self.backend.inventory(list(self.pools.values()))
            self._inventory_at = now
        except EngineUnavailable as exc:
            log.warning("engine inventory unavailable: %s", exc)

    def free(self) -> dict[str, int]:
        """Per pool: declared slots not held; on an engine, also at most what its healthy nodes
        have left after other users' jobs and every placement this agent holds."""
        out = {}
        for name, s in self.slots.items():
            n = len(s)
            inv = self.inventory.get(name)
            if inv is not None:
                held = sum(r.placement["count"] for r in self.running.values() if r.pool == name)
                n = min(n, inv.healthy - inv.external - held)
            out[name] = max(0, n)
        return out

    # -- the loop --------------------------------------------------------------------------------
    def held(self) -> list[str]:
        return list(self.running) + [pid for pid in self.waiting if pid not in self.running]

    def step(self) -> None:
        if not self._adopted:
            self.adopt()
        self._resolve_waiting()
        self.refresh_inventory()
        reply = self.client.post("/v1/agent/heartbeat", {                                               # 1
            "free": self.free(), "held": self.held(),
            "inventory": {k: v.as_dict() for k, v in self.inventory.items()}})
        for pid in reply.get("kill", []):                                                                # 2
            self.waiting.pop(pid, None)
            r = self.running.get(pid)
            if r is not None and not r.killed:
                r.killed = "requested"
                self._kill(r)
        now = time.time()
        for r in self.running.values():                                                                  # 3
            limit = r.placement.get("time_limit_s")
            if limit and not r.killed and now - r.started > float(limit):
                r.killed = "time_limit"
                self._kill(r)
        for r in list(self.running.values()):
            if not r.reported:
                self.report_running(r)
            if r.exit_code is None:
                self.ship_logs(r)                                                                        # 4
                r.exit_code = self._poll(r)
            if r.exit_code is not None:
                self.ship_logs(r, final=True)
                if self._shipper(r).drained():
                    self.finish(r, r.exit_code)                                                          # 5
        for pl in self.client.post("/v1/agent/lease", {"max": 64})["items"]:                            # 6
            self.start(pl)

    def _kill(self, r: Running) -> None:
        try:
            r.handle.kill()
        except Exception:  # noqa: BLE001  (retried: the next heartbeat names it again)
            log.exception("killing %s failed", r.placement["placement_id"])
            r.killed = ""

    def _poll(self, r: Running) -> int | None:
        try:
            return r.handle.poll()
        except Exception:  # noqa: BLE001  (an engine hiccup is not an end)
            log.exception("polling %s failed", r.placement["placement_id"])
            return None

    def _shipper(self, r: Running) -> LogShipper:
        if r.logs is None:
            pid = r.placement["placement_id"]

            def send(offset: int, text: str) -> None:
                self.client.post(f"/v1/agent/placements/{pid}/logs", {"offset": offset, "data": text})

            r.logs = LogShipper(r.handle.read_log, send, head=self.log_cap // 2, tail=self.log_cap - self.log_cap // 2,
                                step=self.log_step, release=getattr(r.handle, "release_log", None))
        return r.logs

    def ship_logs(self, r: Running, final: bool = False) -> None:
        try:
            self._shipper(r).pump(final=final)
        except (ApiError, ApiUnreachable):
            raise
        except Exception:  # noqa: BLE001  (a log the engine cannot give is not a reason to stop)
            log.exception("reading the log of %s failed", r.placement["placement_id"])
            if final:
                self._shipper(r).done = True

    def finish(self, r: Running, code: int) -> None:
        pid = r.placement["placement_id"]
        reason = getattr(r.handle, "reason", "") or ""
        if r.killed == "requested":
            body: dict[str, Any] = {"state": "killed", "exit_code": code}
        elif r.killed == "time_limit" or reason == "time_limit":
            body = {"state": "failed", "exit_code": code, "reason": "time_limit"}
        else:
            body = {"state": "succeeded" if code == 0 and not reason else "failed", "exit_code": code}
            if reason:
                body["reason"] = reason
        try:
            self.client.post(f"/v1/agent/placements/{pid}/status", body)
        except ApiError as exc:
            if exc.status != 404:
                raise
        self.slots.setdefault(r.pool, set()).update(r.slots)
        del self.running[pid]
        log.info("placement %s ended: %s", pid, body)

    def _attach(self, pl: dict[str, Any], handle: Handle, slots: list[int], *, reported: bool,
                started: float) -> Running:
        pool = pl["pool"]
        self.slots.setdefault(pool, set()).difference_update(slots)
        r = self.running[pl["placement_id"]] = Running(pl, handle, list(slots), pool, started, reported=reported)
        return r

    def start(self, pl: dict[str, Any]) -> None:
        pid, pool, count = pl["placement_id"], pl["pool"], int(pl["count"])
        free = sorted(self.slots.get(pool, ()))
        if len(free) < count:
            # The platform placed it on capacity it is taking back (a preemption: the victims are
            # being killed here, or the heartbeat that names them is still to come); start it once
            # they have given their slots back, and give it up only if they do not within the grace.
            since = float(pl.get("_waiting_since") or time.monotonic())
            freeing = sum(len(r.slots) for r in self.running.values() if r.pool == pool and r.killed)
            if len(free) + freeing >= count or time.monotonic() - since < self.slot_grace_s:
                self.waiting[pid] = {**pl, "state": "leased", "_waiting_since": since}
                return
            self.client.post(f"/v1/agent/placements/{pid}/status",
                             {"state": "killed", "exit_code": -1, "reason": "no free slots at the agent"})
            return
        slots = free[:count]
        order = {**pl, **gang_shape(count, self.pools.get(pool))}
        try:
            handle = self.backend.start(order, slots)
        except EngineUnavailable as exc:
            log.warning("engine unavailable, %s will be started later: %s", pid, exc)
            self.waiting[pid] = {**pl, "state": "leased"}
            return
        except Exception as exc:  # noqa: BLE001  (any failure to start is the placement's, never the agent's)
            self._start_failed(pid, exc)
            return
        r = self._attach(order, handle, slots, reported=False, started=time.time())
        log.info("placement %s started on %s slots %s", pid, pool, slots)
        self.report_running(r)

    def _start_failed(self, pid: str, exc: Exception) -> None:
        why = str(exc).splitlines()[0][:300] if str(exc) else type(exc).__name__
        if not isinstance(exc, (EngineError, OSError)):
            log.exception("starting %s failed", pid)
        self.client.post(f"/v1/agent/placements/{pid}/logs", {"offset": 0, "data": f"cannot start: {why}\n"})
        self.client.post(f"/v1/agent/placements/{pid}/status", {"state": "failed", "exit_code": 127,
                                                                "reason": f"cannot start the command: {why}"})

    def report_running(self, r: Running) -> None:
        """Retried every step until the platform answers (a lost reply is not a lost state)."""
        pid = r.placement["placement_id"]
        self.client.post(f"/v1/agent/placements/{pid}/status", {"state": "running", "slots": r.slots})
        r.reported = True

    def run(self, stop: Any = None) -> None:
        while True:
            try:
                if not self.pools:
                    self.load_site()
                self.step()
            except ApiUnreachable as exc:
                log.warning("%s", exc)
            except ApiError as exc:
                log.warning("API refused: %s", exc)
                if exc.status == 401:
                    raise
                if exc.code == "fenced":
                    log.error("another agent took over site %s; this one stops (its work is left to it)", self.site)
                    return
            except Exception:  # noqa: BLE001  (the agent outlives any one bad step)
                log.exception("agent step failed; retrying")
            if stop is not None and stop.is_set():
                break
            time.sleep(self.interval)

    def shutdown(self) -> None:
        """Stop the agent, not the work: placements keep running in an engine that outlives the
        agent (a restarted agent adopts them); local processes end with the agent."""
        for r in self.running.values():
            if getattr(self.backend, "kill_on_shutdown", True):
                self._kill(r)

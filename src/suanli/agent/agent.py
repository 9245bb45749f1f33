"""The agent loop, in numbered steps, every ``interval`` seconds:

1. Heartbeat: live free slots per pool and the placements this agent holds; the reply names
   placements to kill (cancelled, preempted, or no longer active on the platform).
2. Kill what was asked.
3. Enforce time limits (kill, report ``failed`` with reason ``time_limit``).
4. Ship new log bytes of every placement (chunks carry their byte offset; retries are idempotent).
5. Report placements that ended, with their exit codes.
6. Lease new placements for this site and start them on free slots; report them ``running``.

If the API cannot be reached the agent keeps its jobs running and retries; if it stays away past
the lease the platform requeues them and the next heartbeat tells the agent to kill them.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import Any

from suanli.agent.backends import Backend, Handle
from suanli.api.client import ApiError, ApiUnreachable, Client

log = logging.getLogger("suanli.agent")
CHUNK = 64 * 1024


@dataclass
class Running:
    placement: dict[str, Any]
    handle: Handle
    slots: list[int]
    pool: str
    started: float
    log_offset: int = 0
    killed: str = ""          # "", "requested", "time_limit"
    reported: bool = False    # the platform acknowledged "running"


@dataclass
class Agent:
    client: Client
    site: str
    backend: Backend
    interval: float = 0.5
    running: dict[str, Running] = field(default_factory=dict)
    slots: dict[str, set[int]] = field(default_factory=dict)   # free slot indexes per pool
    capacity: dict[str, int] = field(default_factory=dict)

    def load_site(self) -> None:
        site = self.client.get(f"/v1/sites/{self.site}")
        self.capacity = {p["name"]: p["per_node"] * p["nodes"] for p in site["pools"]}
        self.slots = {name: set(range(n)) for name, n in self.capacity.items()}

    def free(self) -> dict[str, int]:
        return {name: len(s) for name, s in self.slots.items()}

    def step(self) -> None:
        reply = self.client.post("/v1/agent/heartbeat", {"free": self.free(), "held": list(self.running)})  # 1
        for pid in reply.get("kill", []):                                                                # 2
            r = self.running.get(pid)
            if r is not None and not r.killed:
                r.killed = "requested"
                r.handle.kill()
        now = time.time()
        for r in self.running.values():                                                                  # 3
            limit = r.placement.get("time_limit_s")
            if limit and not r.killed and now - r.started > float(limit):
                r.killed = "time_limit"
                r.handle.kill()
        for r in list(self.running.values()):
            if not r.reported:
                self.report_running(r)
            self.ship_logs(r)                                                                            # 4
            code = r.handle.poll()
            if code is not None:
                self.finish(r, code)                                                                     # 5
        for pl in self.client.post("/v1/agent/lease", {"max": 64})["items"]:                            # 6
            self.start(pl)

    def ship_logs(self, r: Running) -> None:
        while True:
            data = r.handle.read_log(r.log_offset, CHUNK)
            if not data:
                return
            pid = r.placement["placement_id"]
            self.client.post(f"/v1/agent/placements/{pid}/logs",
                             {"offset": r.log_offset, "data": data.decode("utf-8", errors="replace")})
            r.log_offset += len(data)

    def finish(self, r: Running, code: int) -> None:
        self.ship_logs(r)
        pid = r.placement["placement_id"]
        if r.killed == "requested":
            body: dict[str, Any] = {"state": "killed", "exit_code": code}
        elif r.killed == "time_limit":
            body = {"state": "failed", "exit_code": code, "reason": "time_limit"}
        else:
            body = {"state": "succeeded" if code == 0 else "failed", "exit_code": code}
        try:
            self.client.post(f"/v1/agent/placements/{pid}/status", body)
        except ApiError as exc:
            if exc.status != 404:
                raise
        self.slots[r.pool].update(r.slots)
        del self.running[pid]
        log.info("placement %s ended: %s", pid, body)

    def start(self, pl: dict[str, Any]) -> None:
        pid, pool, count = pl["placement_id"], pl["pool"], int(pl["count"])
        free = sorted(self.slots.get(pool, ()))
        if len(free) < count:
            self.client.post(f"/v1/agent/placements/{pid}/status",
                             {"state": "killed", "exit_code": -1, "reason": "no free slots at the agent"})
            return
        slots = free[:count]
        try:
            handle = self.backend.start(pl, slots)
        except OSError as exc:
            self.client.post(f"/v1/agent/placements/{pid}/logs", {"offset": 0, "data": f"cannot start: {exc}\n"})
            self.client.post(f"/v1/agent/placements/{pid}/status", {"state": "failed", "exit_code": 127,
                                                                    "reason": "cannot start the command"})
            return
        self.slots[pool].difference_update(slots)
        self.running[pid] = Running(pl, handle, slots, pool, time.time())
        log.info("placement %s started on %s slots %s", pid, pool, slots)
        self.report_running(self.running[pid])

    def report_running(self, r: Running) -> None:
        """Retried every step until the platform answers (a lost reply is not a lost state)."""
        pid = r.placement["placement_id"]
        self.client.post(f"/v1/agent/placements/{pid}/status", {"state": "running", "slots": r.slots})
        r.reported = True

    def run(self, stop: Any = None) -> None:
        while True:
            try:
                if not self.capacity:
                    self.load_site()
                self.step()
            except ApiUnreachable as exc:
                log.warning("%s", exc)
            except ApiError as exc:
                log.warning("API refused: %s", exc)
                if exc.status == 401:
                    raise
            if stop is not None and stop.is_set():
                break
            time.sleep(self.interval)

    def shutdown(self) -> None:
        for r in self.running.values():
            r.handle.kill()

"""What a site agent does over the API: heartbeat (live capacity, which placements it holds),
lease new placements, report status and exit codes, ship logs. An agent token acts only for
its own site.

Sessions: an agent opens a session for its site (``open_session``) and sends its id with every
call; opening a new one fences the previous agent out: its heartbeats, leases, reports and logs
are refused with ``Fenced`` and it exits. So two agents never act for one site at once (a
platform restart that leaves an old agent alive next to a new one cannot livelock). Calls without
a session are accepted only while the site has never had one.

Leases: a placement goes assigned -> leased exactly once (a conditional update), so no two
agents ever start the same placement. An agent that stops sending heartbeats for
``settings.lease_s`` loses its site (the control loop requeues its jobs); a heartbeat that no
longer lists a placement the store thinks is leased or running means the agent lost it (e.g. it
restarted), and the job is requeued.
"""

from __future__ import annotations

import json
import secrets
from typing import Any

from suanli.domain.errors import InvalidInput, UnknownName
from suanli.services.access import require
from suanli.services.errors import Conflict, Fenced, NotFound
from suanli.services.lifecycle import end_placement
from suanli.services.platform import Caller, Platform

REPORT_STATES = ("running", "succeeded", "failed", "killed")


def _site(caller: Caller) -> str:
    require(caller, "agent")
    return caller.site or ""


def _check_session(row: dict[str, Any], session: str | None) -> None:
    current = row.get("agent_session")
    if current is not None and session != current:
        raise Fenced(f"another agent session took over site {row['name']!r}; this agent must stop",
                     field="session")


def open_session(p: Platform, caller: Caller) -> dict[str, Any]:
    """Start this agent's session for its site; every earlier session is fenced out from now on."""
    site = _site(caller)
    now = p.now()
    session = secrets.token_hex(16)
    with p.uow() as uow:
        row = uow.federation.site(site, for_update=True)
        if row is None:
            raise NotFound(f"no site {site!r}", field="site")
        uow.federation.update_site(site, bump=False, agent_session=session)
        uow.audit.record(now, caller.actor, caller.role, "agent.session", site, fenced=row.get("agent_session"))
    return {"site": site, "session": session}


def check_session(p: Platform, caller: Caller, session: str | None) -> None:
    """Refuse a call from an agent session that is not the site's current one (``Fenced``)."""
    with p.uow() as uow:
        row = uow.federation.site(_site(caller))
        if row is not None:
            _check_session(row, session)


def heartbeat(p: Platform, caller: Caller, *, free: dict[str, int], held: list[str],
              info: dict[str, Any] | None = None, inventory: dict[str, dict[str, Any]] | None = None,
              session: str | None = None) -> dict[str, Any]:
    """``free``: what the site can take now per pool; ``inventory``: what its engine reports per
    pool (total, free, healthy, external, nodes), kept on the pool with the time it was seen; the
    pool's ``observed_total`` is the healthy count (what the engine can schedule)."""
    site = _site(caller)
    now = p.now()
    with p.uow() as uow:
        row = uow.federation.site(site, for_update=True)
        if row is None:
            raise NotFound(f"no site {site!r}", field="site")
        _check_session(row, session)
        pools = {pl["name"] for pl in uow.federation.pools(site)}
        for key, names in (("free", free), ("inventory", inventory or {})):
            for name in names:
                if name not in pools:
                    raise UnknownName("pool", name, sorted(pools), field=key)
        for name, inv in (inventory or {}).items():
            # What the engine can schedule: its healthy accelerators (a drained or down node is a
            # shortfall against the declared size); the raw total is kept beside it.
            usable = min(int(inv["total"]), int(inv["healthy"])) if "healthy" in inv else int(inv["total"])
            uow.federation.observe_pool(site, name, observed_total=usable, observed_free=int(inv["free"]),
                                        observed_at=now, observed=json.dumps(
                                            {k: inv[k] for k in ("total", "healthy", "external", "nodes") if k in inv}))
        live = {"free": free, "held": len(held), "info": info or {}, "at": now}
        uow.federation.update_site(site, bump=False, health="up", last_heartbeat=now, live=json.dumps(live))
        if row["health"] != "up":
            uow.audit.record(now, caller.actor, caller.role, "site.up", site, was=row["health"])
        held_set = set(held)
        active = {pl["id"] for pl in uow.jobs.placements(site=site, states=("leased", "running"), limit=100000)}
        kill = [pid for pid in held if pid not in active]  # ended on the platform (e.g. requeued): stop it
        for pl in uow.jobs.placements(site=site, states=("leased", "running"), limit=100000):
            if pl["id"] not in held_set:
                end_placement(p, uow, pl, "lost", now, caller, reason="the agent no longer runs it")
            elif pl["kill_requested"]:
                kill.append(pl["id"])
    return {"site": site, "lease_s": p.settings.lease_s, "kill": kill, "at": now}


def lease(p: Platform, caller: Caller, *, max_placements: int = 16) -> list[dict[str, Any]]:
    site = _site(caller)
    now = p.now()
    out = []
    with p.uow() as uow:
        row = uow.federation.site(site)
        if row is None or row["health"] != "up":
            raise Conflict(f"site {site!r} is not up; send a heartbeat first", field="site")
        for pl in uow.jobs.placements(site=site, states=("assigned",), limit=max_placements):
            lease_id = secrets.token_hex(8)
            if not uow.jobs.placement_transition(pl["id"], ("assigned",), "leased", lease_id=lease_id, leased_at=now):
                continue
            job = uow.jobs.get(pl["job_id"]) or {}
            if job.get("state") != "placed" or job.get("placement_id") != pl["id"]:
                end_placement(p, uow, {**pl, "state": "leased"}, "killed", now, caller, reason="job changed")
                continue
            uow.audit.record(now, caller.actor, caller.role, "placement.leased", pl["id"], job=job["id"])
            out.append(_work_order(pl, job))
    return out


def _work_order(pl: dict[str, Any], job: dict[str, Any]) -> dict[str, Any]:
    """What an agent needs to run (or adopt) a placement."""
    spec = json.loads(job["spec"])
    return {"placement_id": pl["id"], "job_id": job["id"], "tenant": job["tenant"],
            "pool": pl["pool_name"], "accelerator": pl["accelerator"], "count": pl["count"],
            "command": spec.get("command") or [], "env": spec.get("env") or {},
            "time_limit_s": spec.get("time_limit_s"), "attempt": pl["attempt"], "state": pl["state"],
            "started_at": pl.get("started_at"),
            "slots": [int(s) for s in (pl.get("slots") or "").split(",") if s.strip()]}


def held(p: Platform, caller: Caller) -> list[dict[str, Any]]:
    """The placements the platform thinks this agent's site holds (leased or running), as work
    orders: what a restarted agent adopts from its engine."""
    site = _site(caller)
    with p.uow() as uow:
        out = []
        for pl in uow.jobs.placements(site=site, states=("leased", "running"), limit=100000):
            job = uow.jobs.get(pl["job_id"])
            if job is not None:
                out.append(_work_order(pl, job))
    return out


def report(p: Platform, caller: Caller, placement_id: str, *, state: str, exit_code: int | None = None,
           slots: list[int] | None = None, reason: str = "") -> dict[str, Any]:
    """Idempotent: reporting a state the placement already passed is a no-op."""
    site = _site(caller)
    if state not in REPORT_STATES:
        raise UnknownName("state", state, list(REPORT_STATES), field="state")
    now = p.now()
    with p.uow() as uow:
        pl = uow.jobs.placement(placement_id)
        if pl is None or pl["site"] != site:
            raise NotFound(f"no placement {placement_id!r} at site {site!r}", field="placement_id")
        if state == "running":
            if uow.jobs.placement_transition(placement_id, ("leased",), "running", started_at=now,
                                             slots=",".join(str(s) for s in slots or ())):
                job = uow.jobs.get(pl["job_id"]) or {}
                if job.get("placement_id") == placement_id and uow.jobs.transition(
                        job["id"], "placed", "running", updated_at=now, reason=""):
                    uow.audit.record(now, caller.actor, caller.role, "job.running", job["id"], placement=placement_id,
                                     slots=slots)
        else:
            if exit_code is None and state != "killed":
                raise InvalidInput("a finished placement needs its exit code", field="exit_code", value=None,
                                   fix="send the process's exit code")
            pl = uow.jobs.placement(placement_id) or pl
            outcome = "killed" if pl["kill_requested"] else state
            end_placement(p, uow, pl, outcome, now, caller, exit_code=exit_code, reason=reason)
        pl = uow.jobs.placement(placement_id) or pl
    return {"placement_id": placement_id, "state": pl["state"], "kill": bool(pl["kill_requested"])}


def append_logs(p: Platform, caller: Caller, placement_id: str, *, offset: int, data: str) -> dict[str, Any]:
    site = _site(caller)
    if offset < 0:
        raise InvalidInput("must not be negative", field="offset", value=offset, fix="send the byte offset of the chunk")
    with p.uow() as uow:
        pl = uow.jobs.placement(placement_id)
        if pl is None or pl["site"] != site:
            raise NotFound(f"no placement {placement_id!r} at site {site!r}", field="placement_id")
        stored = uow.jobs.append_log(pl["job_id"], placement_id, offset, data, cap=p.settings.log_cap)
    return {"placement_id": placement_id, "stored": stored}


def list_placements(p: Platform, caller: Caller, *, site: str | None = None, job_id: str | None = None,
                    states: list[str] | None = None, limit: int = 200) -> list[dict[str, Any]]:
    """Operators: all; providers: their sites; agents: their site; tenants: their jobs'."""
    from suanli.services.jobs import _placement_view

    with p.uow() as uow:
        sites = None
        if caller.role == "provider":
            sites = [s["name"] for s in uow.federation.sites(provider=caller.provider)]
        elif caller.role == "agent":
            sites = [caller.site or ""]
        if site is not None:
            if sites is not None and site not in sites:
                raise NotFound(f"no site {site!r} among the sites you can see", field="site")
            sites = [site]
        rows = uow.jobs.placements(sites=sites, job_id=job_id, states=states or (), limit=limit)
        if caller.role == "tenant":
            rows = [r for r in rows if (uow.jobs.get(r["job_id"]) or {}).get("tenant") == caller.tenant]
    return [_placement_view(r) for r in rows]

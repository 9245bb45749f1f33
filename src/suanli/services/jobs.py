"""Jobs: submit (idempotent), list (scoped, filtered, paged), get, cancel, logs, explain.

Submission is one transaction: the job row and its audit record. The same
``Idempotency-Key`` from the same tenant returns the job it first created, never a second one.
Cancel of a placed or running job marks the job cancelled and asks the site's agent to kill it
(the placement keeps its accelerators until the agent confirms).
"""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import dataclass
from typing import Any

from sqlalchemy.exc import IntegrityError

from suanli.domain.errors import InvalidInput, UnknownName
from suanli.domain.jobs import JobState, check_transition, validate_job
from suanli.scheduling import PoolTable, load_profile
from suanli.scheduling.feasibility import check_runs
from suanli.services.access import require, tenant_scope
from suanli.services.errors import Conflict, NotFound
from suanli.services.ids import new_id
from suanli.services.platform import Caller, Platform
from suanli.services.snapshot import pool_table
from suanli.store.jobs import domain_job, job_from_spec

STATES = [s.value for s in JobState]

def _pool_table(p: Platform) -> tuple[PoolTable, tuple[str, ...]]:
    """The federation's pool table and the profile's filters, what a submission is checked against."""
    hit = p.cache.federation_ttl
    now = time.monotonic()
    if hit is None or hit[0] < now:
        with p.uow() as uow:
            table = pool_table(p, uow)[0]
        hit = (now + 2.0, table, load_profile(p.settings.profile).filters)
        p.cache.federation_ttl = hit
    return hit[1], hit[2]


def _queues(p: Platform) -> dict[tuple[str, str], int]:
    hit = p.cache.queues
    now = time.monotonic()
    if hit is None or hit[0] < now:
        with p.uow() as uow:
            rows = uow.tenancy.queues()
        hit = (now + 2.0, {(q["tenant"], q["name"]): q["priority_class"] for q in rows})
        p.cache.queues = hit
    return hit[1]


def _priority_above_class(queues: dict[tuple[str, str], int], tenant: str, queue: str, priority: int,
                          bound: int) -> None:
    """A tenant's priority is bounded by its queue's priority class (operators may set any)."""
    higher = sorted((c, q) for (t, q), c in queues.items() if t == tenant and c >= priority)
    fix = (f"submit to queue {higher[0][1]!r} (priority class {higher[0][0]})" if higher
           else "ask an operator for a queue with a higher priority class")
    raise InvalidInput(f"is above the priority class of queue {queue!r} ({bound}); a tenant's priority is at "
                       f"most its queue's class", field="priority", value=priority,
                       fix=f"give a priority <= {bound}, leave it out, or {fix}")


@dataclass(frozen=True)
class Submission:
    """A checked submission, ready to store: the job row and its audit record."""

    row: dict[str, Any]
    audit: dict[str, Any]
    spec: dict[str, Any]


def prepare(p: Platform, caller: Caller, spec: dict[str, Any], *, tenant: str | None = None,
            idempotency_key: str | None = None) -> Submission:
    """Check a submission (role, tenant, queue, the job's fields, its fit in the federation: a
    job no pool could ever run is refused with the reason and a fix)."""
    require(caller, "tenant", "operator")
    tenant = caller.tenant if caller.role == "tenant" else tenant
    if not tenant:
        raise InvalidInput("an operator submits on behalf of a tenant", field="tenant", value=tenant,
                           fix="give the tenant's name")
    queue = spec.get("queue") or "default"
    queues = _queues(p)
    if (tenant, queue) not in queues:
        if not any(t == tenant for t, _ in queues):
            raise NotFound(f"no tenant {tenant!r}", field="tenant")
        raise UnknownName("queue", queue, [q for t, q in queues if t == tenant], field="queue")
    bound = queues[(tenant, queue)]
    if spec.get("priority") is None:
        spec["priority"] = bound
    elif spec["priority"] > bound and caller.role != "operator":
        _priority_above_class(queues, tenant, queue, spec["priority"], bound)
    if not spec.get("command"):
        raise InvalidInput("a job needs a command", field="command", value=spec.get("command"),
                           fix='give the command as a list of arguments, e.g. ["python", "train.py"]')
    now = p.now()
    job_id = new_id("j")
    job = job_from_spec(job_id, tenant, now, spec)
    validate_job(job, now=now)
    table, filters = _pool_table(p)
    table.federation.check_job(job, p.catalog)
    check_runs(table, job, filters)   # no pool of the federation could ever run it: 422 with a fix
    text = json.dumps(spec, sort_keys=True)     # canonical: defaults filled in, keys sorted
    row = dict(id=job_id, tenant=tenant, queue=queue, state="pending", job_class=job.job_class.value,
               gpus=job.gpus, priority=job.priority, spec=text, spec_hash=hashlib.sha256(text.encode()).hexdigest(),
               submit_time=now, updated_at=now, idempotency_key=idempotency_key, attempts=0,
               reason="waiting for the next cycle")
    audit = dict(at=now, actor=caller.actor, role=caller.role, action="job.submit", subject=job_id,
                 detail=json.dumps({"tenant": tenant, "gpus": job.gpus, "job_class": job.job_class.value}))
    return Submission(row, audit, spec)


Result = tuple[dict[str, Any], bool]


def _spec_hash(row: dict[str, Any]) -> str:
    """The stored hash, or (jobs stored before it existed) the hash of the stored spec text."""
    return row.get("spec_hash") or hashlib.sha256(str(row["spec"]).encode()).hexdigest()


def _reused(s: Submission, first_id: str) -> Conflict:
    return Conflict(f"Idempotency-Key {s.row['idempotency_key']!r} was first used for job {first_id} with a "
                    "different body; fix: send a new key for a different job, or the same body to get that job back",
                    field="idempotency-key")


def store(p: Platform, subs: list[Submission]) -> list[Result | Conflict]:
    """Store submissions in one transaction (group commit), each job with its audit record.
    A repeated idempotency key -- in the store or earlier in the batch -- returns the first job
    when the spec is the same, and a ``Conflict`` (in place of the result) when it is not."""
    first: dict[tuple[str, str], int] = {}
    fresh: list[Submission] = []
    for i, s in enumerate(subs):
        key = s.row["idempotency_key"]
        if key is not None and (s.row["tenant"], key) in first:
            continue
        if key is not None:
            first[(s.row["tenant"], key)] = i
        fresh.append(s)
    try:
        with p.uow() as uow:
            uow.jobs.add_many([s.row for s in fresh])
            uow.audit.record_many([s.audit for s in fresh])
    except IntegrityError:
        if len(fresh) == 1 and fresh[0].row["idempotency_key"] is None:
            raise
        return [_store_one(p, s) for s in subs]     # isolate the duplicate keys
    out: list[Result | Conflict] = []
    for i, s in enumerate(subs):
        key = s.row["idempotency_key"]
        j = first.get((s.row["tenant"], key), i) if key is not None else i
        if j != i and subs[j].row["spec_hash"] != s.row["spec_hash"]:
            out.append(_reused(s, subs[j].row["id"]))
        else:
            out.append((_fresh_view(subs[j]), j == i))
    return out


def _fresh_view(s: Submission) -> dict[str, Any]:
    return {**s.row, "spec": s.spec, "site": None, "placement_id": None, "exit_code": None, "finished_at": None}


def _seen(s: Submission, seen: dict[str, Any]) -> Result | Conflict:
    if _spec_hash(seen) != s.row["spec_hash"]:
        return _reused(s, seen["id"])
    return _view(seen), False


def _store_one(p: Platform, s: Submission) -> Result | Conflict:
    key = s.row["idempotency_key"]
    if key is not None:
        with p.uow() as uow:
            seen = uow.jobs.by_idempotency_key(s.row["tenant"], key)
        if seen is not None:
            return _seen(s, seen)
    try:
        with p.uow() as uow:
            uow.jobs.add_many([s.row])
            uow.audit.record_many([s.audit])
    except IntegrityError:
        with p.uow() as uow:
            seen = uow.jobs.by_idempotency_key(s.row["tenant"], key or "")
        if seen is None:
            raise
        return _seen(s, seen)
    return _fresh_view(s), True


def submit(p: Platform, caller: Caller, spec: dict[str, Any], *, tenant: str | None = None,
           idempotency_key: str | None = None) -> Result:
    """Return (the job, created?). ``created`` is False when the idempotency key was seen before
    (with the same spec; with another one, ``Conflict``)."""
    out = store(p, [prepare(p, caller, spec, tenant=tenant, idempotency_key=idempotency_key)])[0]
    if isinstance(out, Conflict):
        raise out
    return out


def _view(row: dict[str, Any]) -> dict[str, Any]:
    out = dict(row)
    out["spec"] = json.loads(row["spec"]) if isinstance(row["spec"], str) else row["spec"]
    return out


def _visible(p: Platform, caller: Caller, job_id: str) -> dict[str, Any]:
    with p.read() as uow:
        row = uow.jobs.get(job_id)
        if row is not None and caller.role == "provider":
            mine = {s["name"] for s in uow.federation.sites(provider=caller.provider)}
            if row["site"] not in mine:
                row = None
    if row is None or (caller.role == "tenant" and row["tenant"] != caller.tenant) or caller.role == "agent":
        raise NotFound(f"no job {job_id!r} that you can see", field="job_id")
    return row


def get_job(p: Platform, caller: Caller, job_id: str) -> dict[str, Any]:
    row = _visible(p, caller, job_id)
    with p.read() as uow:
        placements = uow.jobs.placements(job_id=job_id)
    out = _view(row)
    out["placements"] = [_placement_view(pl) for pl in placements]
    return out


def _placement_view(pl: dict[str, Any]) -> dict[str, Any]:
    out = dict(pl)
    out["breakdown"] = json.loads(pl.get("breakdown") or "{}")
    out.pop("lease_id", None)
    return out


def list_jobs(p: Platform, caller: Caller, *, tenant: str | None = None, states: list[str] | None = None,
              site: str | None = None, queue: str | None = None, cursor: str | None = None,
              limit: int = 50) -> tuple[list[dict[str, Any]], str | None]:
    """Newest first. ``cursor`` is the ``next`` value of the previous page."""
    for s in states or ():
        if s not in STATES:
            raise UnknownName("state", s, STATES, field="state")
    if not 1 <= limit <= 1000:
        raise InvalidInput("must be between 1 and 1000", field="limit", value=limit, fix="ask for 1..1000 jobs a page")
    before = None
    if cursor:
        try:
            t, jid = cursor.split(":", 1)
            before = (float(t), jid)
        except ValueError:
            raise InvalidInput("is not a cursor this API returned", field="cursor", value=cursor,
                               fix="pass the 'next' value of the previous page, or leave it out") from None
    provider_sites = None
    if caller.role == "provider":
        with p.read() as uow:
            provider_sites = [s["name"] for s in uow.federation.sites(provider=caller.provider)]
        scope = tenant
    else:
        scope = tenant_scope(caller, tenant)
    with p.read() as uow:
        rows = uow.jobs.find(tenant=scope, states=states or (), site=site, queue=queue, before=before, limit=limit,
                             sites_of_provider=provider_sites)
    nxt = f"{rows[-1]['submit_time']!r}:{rows[-1]['id']}" if len(rows) == limit else None
    return [_view(r) for r in rows], nxt


def cancel(p: Platform, caller: Caller, job_id: str) -> dict[str, Any]:
    require(caller, "tenant", "operator")
    row = _visible(p, caller, job_id)
    now = p.now()
    with p.uow() as uow:
        row = uow.jobs.get(job_id) or row
        old = JobState(row["state"])
        if old.terminal:
            raise Conflict(f"job {job_id} is already {old.value}; only pending, placed or running jobs can be "
                           "cancelled", field="state")
        check_transition(old, JobState.CANCELLED)
        if not uow.jobs.transition(job_id, old.value, "cancelled", updated_at=now, finished_at=now,
                                   reason="cancelled by " + caller.role):
            raise Conflict(f"job {job_id} changed state while cancelling; try again", field="state")
        if row["placement_id"]:
            uow.jobs.update_placement(row["placement_id"], kill_requested=True, kill_reason="cancel")
        uow.audit.record(now, caller.actor, caller.role, "job.cancel", job_id, old=old.value)
    return get_job(p, caller, job_id)


def logs(p: Platform, caller: Caller, job_id: str, *, after: int = 0, limit: int = 1000) -> dict[str, Any]:
    _visible(p, caller, job_id)
    with p.uow() as uow:
        chunks = uow.jobs.logs(job_id, after_id=after, limit=limit)
    return {"job_id": job_id, "text": "".join(c["data"] for c in chunks),
            "next": chunks[-1]["id"] if chunks else after}


def explain(p: Platform, caller: Caller, job_id: str) -> dict[str, Any]:
    """Per pool: fits, or the filter that said no and why, with predicted run time, cost, carbon.
    A pending job is explained as ``suanli explain`` does over files (``explain_in_cycle``): the
    next cycle runs on the store's snapshot, then the job is explained against what it left."""
    import numpy as np

    from suanli.scheduling import explain_job, load_profile
    from suanli.scheduling.explain import explain_in_cycle
    from suanli.services.snapshot import build_snapshot

    row = _visible(p, caller, job_id)
    with p.uow() as uow:
        built = build_snapshot(p, uow)
    profile = load_profile(p.settings.profile)
    out: dict[str, Any] = {"job_id": job_id, "state": row["state"], "reason": row["reason"]}
    if any(j.id == job_id for j in built.snapshot.pending):
        ex = explain_in_cycle(built.snapshot, job_id, profile, np.random.default_rng(p.settings.seed)).as_dict()
        out.update(status=ex["status"], summary=ex["summary"], placement=ex["placement"], pools=ex["pools"])
        return out
    out["pools"] = [r.as_dict() for r in explain_job(built.snapshot, domain_job(row), profile)]
    return out

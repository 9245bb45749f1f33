"""The append-only audit log: who did what to which subject, when. The repository has no update
or delete, and the migration adds triggers that refuse UPDATE and DELETE on the table."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import Column, Float, Integer, String, Table, Text, case, func, insert, literal, select
from sqlalchemy.engine import Connection

from suanli.store.db import metadata

audit_log = Table(
    "audit_log", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("at", Float, nullable=False, index=True),
    Column("actor", String(64), nullable=False),
    Column("role", String(16), nullable=False),
    Column("action", String(64), nullable=False),
    Column("subject", String(128), nullable=False, index=True),
    Column("detail", Text, nullable=False, default="{}"),
)


_INSERT = insert(audit_log)


class AuditRepo:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def record(self, at: float, actor: str, role: str, action: str, subject: str, /, **detail: Any) -> None:
        self.conn.execute(_INSERT, {"at": at, "actor": actor, "role": role, "action": action, "subject": subject,
                                    "detail": json.dumps(detail, default=str, sort_keys=True)})

    def record_many(self, rows: list[dict[str, Any]]) -> None:
        if rows:
            self.conn.execute(_INSERT, rows)

    def find(self, *, subject: str | None = None, action: str | None = None, after_id: int = 0,
             limit: int = 100) -> list[dict[str, Any]]:
        q = select(audit_log).where(audit_log.c.id > after_id).order_by(audit_log.c.id).limit(limit)
        if subject is not None:
            q = q.where(audit_log.c.subject == subject)
        if action is not None:
            q = q.where(audit_log.c.action == action)
        out = []
        for r in self.conn.execute(q):
            d = dict(r._mapping)
            d["detail"] = json.loads(d["detail"])
            out.append(d)
        return out

    def count_preemptions(self) -> tuple[int, int]:
        """(preemptions, migrations) the scheduler made: both are recorded as ``job.preempted``; a
        migration is the one a job made of itself (``by`` is its own id, control.loop.preempt)."""
        q = select(func.count(), func.sum(case((audit_log.c.detail.like(
            literal('%"by": "') + audit_log.c.subject + literal('"%')), 1), else_=0))
        ).where(audit_log.c.action == "job.preempted")
        n, moved = self.conn.execute(q).one()
        return int(n or 0) - int(moved or 0), int(moved or 0)


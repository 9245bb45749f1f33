"""The platform's history: one sample a minute (``SUANLI_HISTORY_S``) written by the scheduler
leader (services/compliance.py), read for the compliance report's time range and the dashboard's
plots. A sample is a JSON document (``services.compliance.sample`` says what it holds); samples
older than the retention are deleted by the same writer."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import Column, Float, Integer, Table, Text, delete, func, insert, select
from sqlalchemy.engine import Connection

from suanli.store.db import metadata
from suanli.store.uow import register_repository

history = Table(
    "history", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("at", Float, nullable=False, index=True),
    Column("sample", Text, nullable=False),
)


class HistoryRepo:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def add(self, at: float, sample: dict[str, Any]) -> None:
        self.conn.execute(insert(history).values(at=at, sample=json.dumps(sample, sort_keys=True)))

    def last_at(self) -> float | None:
        v = self.conn.execute(select(func.max(history.c.at))).scalar()
        return None if v is None else float(v)

    def between(self, since: float, until: float, limit: int) -> list[dict[str, Any]]:
        """Samples with ``since <= at <= until``, oldest first; when there are more than ``limit``,
        every k-th one (and the last), so a long range still draws in one page."""
        n = int(self.conn.execute(select(func.count()).select_from(history)
                                  .where(history.c.at >= since, history.c.at <= until)).scalar_one())
        q = select(history.c.id, history.c.at, history.c.sample).where(history.c.at >= since, history.c.at <= until)
        out = [{"at": at, **json.loads(s)} for _, at, s in self.conn.execute(q.order_by(history.c.at, history.c.id))]
        if n > limit:
            step = -(-n // limit)
            out = out[::step] + ([out[-1]] if (n - 1) % step else [])
        return out

    def prune(self, before: float) -> int:
        return int(self.conn.execute(delete(history).where(history.c.at < before)).rowcount or 0)


register_repository("history", HistoryRepo)

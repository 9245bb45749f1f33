"""Tenants and their queues. Quotas are PF16 (PFLOPS FP16 held at once); a budget is money
(``budget``) and/or PF16-hours (``budget_pf16h``), counted over ``budget_per`` (``day``, ``month``, or
None: all time)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Column, Float, ForeignKey, Integer, Numeric, String, Table, insert, select, update
from sqlalchemy.engine import Connection

from suanli.store.db import metadata
from suanli.store.rows import row, rows

tenants = Table(
    "tenants", metadata,
    Column("name", String(64), primary_key=True),
    Column("home_region", String(64), nullable=True),
    Column("quota_pf16", Float, nullable=True),
    Column("budget", Numeric(18, 6), nullable=True),
    Column("budget_pf16h", Float, nullable=True),
    Column("budget_per", String(8), nullable=True),
    Column("weight", Float, nullable=False, default=1.0),
    Column("created_at", Float, nullable=False),
)

queues = Table(
    "queues", metadata,
    Column("tenant", String(64), ForeignKey("tenants.name"), primary_key=True),
    Column("name", String(64), primary_key=True),
    Column("quota_pf16", Float, nullable=True),
    Column("priority_class", Integer, nullable=False, default=0),
    Column("budget", Numeric(18, 6), nullable=True),
    Column("budget_pf16h", Float, nullable=True),
    Column("budget_per", String(8), nullable=True),
)


class TenancyRepo:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def add_tenant(self, **row: Any) -> None:
        self.conn.execute(insert(tenants).values(**row))

    def tenant(self, name: str) -> dict[str, Any] | None:
        r = self.conn.execute(select(tenants).where(tenants.c.name == name)).first()
        return row(r)

    def tenants(self) -> list[dict[str, Any]]:
        return rows(self.conn.execute(select(tenants).order_by(tenants.c.name)))

    def update_tenant(self, name: str, **values: Any) -> None:
        self.conn.execute(update(tenants).where(tenants.c.name == name).values(**values))

    def add_queue(self, **row: Any) -> None:
        self.conn.execute(insert(queues).values(**row))

    def queue(self, tenant: str, name: str) -> dict[str, Any] | None:
        r = self.conn.execute(select(queues).where(queues.c.tenant == tenant, queues.c.name == name)).first()
        return row(r)

    def queues(self, tenant: str | None = None) -> list[dict[str, Any]]:
        q = select(queues).order_by(queues.c.tenant, queues.c.name)
        if tenant is not None:
            q = q.where(queues.c.tenant == tenant)
        return rows(self.conn.execute(q))

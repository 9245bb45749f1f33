"""The unit of work: one transaction, with a repository per aggregate bound to it.

    with UnitOfWork(db) as uow:
        uow.jobs.add(...)
        uow.audit.record(...)
    # committed here; rolled back if the block raised

New aggregates (the market's tables) add a repository module and a migration; they reach the
connection as ``uow.conn``.
"""

from __future__ import annotations

from types import TracebackType

from sqlalchemy.engine import Connection

from suanli.store.audit import AuditRepo
from suanli.store.db import Database
from suanli.store.federation import FederationRepo
from suanli.store.jobs import JobRepo
from suanli.store.tenancy import TenancyRepo
from suanli.store.tokens import TokenRepo


class UnitOfWork:
    conn: Connection

    def __init__(self, db: Database) -> None:
        self.db = db

    def __enter__(self) -> UnitOfWork:
        self._ctx = self.db.engine.begin()
        self.conn = self._ctx.__enter__()
        self.federation = FederationRepo(self.conn)
        self.tenancy = TenancyRepo(self.conn)
        self.tokens = TokenRepo(self.conn)
        self.jobs = JobRepo(self.conn)
        self.audit = AuditRepo(self.conn)
        return self

    def __exit__(self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None) -> None:
        self._ctx.__exit__(et, ev, tb)

"""The unit of work: one transaction, with a repository per aggregate bound to it.

    with UnitOfWork(db) as uow:
        uow.jobs.add(...)
        uow.audit.record(...)
    # committed here; rolled back if the block raised

A new aggregate (the market's tables) is a new module in ``suanli.store`` with its tables on the
shared ``metadata``, a repository class registered with ``register_repository("market", MarketRepo)``
(then reachable as ``uow.market``), and an Alembic migration in ``store/migrations/versions``.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import ExitStack
from types import TracebackType
from typing import Any

from sqlalchemy.engine import Connection

from suanli.domain.registry import Registry
from suanli.store.audit import AuditRepo
from suanli.store.db import READ_ONLY, Database
from suanli.store.federation import FederationRepo
from suanli.store.jobs import JobRepo
from suanli.store.tenancy import TenancyRepo
from suanli.store.tokens import TokenRepo

REPOSITORIES: Registry[type] = Registry("repository")


def register_repository(name: str, repo: type) -> None:
    """Make ``uow.<name>`` an instance of ``repo(connection)`` in every unit of work."""
    REPOSITORIES.add(name, repo)


class UnitOfWork:
    conn: Connection
    federation: FederationRepo
    tenancy: TenancyRepo
    tokens: TokenRepo
    jobs: JobRepo
    audit: AuditRepo

    def __init__(self, db: Database, fence: Callable[[Connection], None] | None = None, *,
                 read_only: bool = False) -> None:
        """``fence``: called first in the transaction; if it raises, nothing is written (the
        scheduler leader's check that it still leads). ``read_only``: the block only reads (on
        SQLite it then takes no writer lock, so reads do not queue behind submissions, agents and
        the scheduler); writing in it may fail with "database is locked"."""
        self.db = db
        self.fence = fence
        self.read_only = read_only

    def __enter__(self) -> UnitOfWork:
        with ExitStack() as stack:
            if self.read_only:
                reader = stack.enter_context(self.db.engine.connect().execution_options(**{READ_ONLY: True}))
                stack.enter_context(reader.begin())
                self.conn = reader
            else:
                self.conn = stack.enter_context(self.db.engine.begin())
            if self.fence is not None:
                self.fence(self.conn)      # raises: the stack rolls the transaction back
            self._stack = stack.pop_all()
        self.federation = FederationRepo(self.conn)
        self.tenancy = TenancyRepo(self.conn)
        self.tokens = TokenRepo(self.conn)
        self.jobs = JobRepo(self.conn)
        self.audit = AuditRepo(self.conn)
        for name, repo in REPOSITORIES.items():
            setattr(self, name, repo(self.conn))
        return self

    def __exit__(self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None) -> None:
        self._stack.__exit__(et, ev, tb)

    def __getattr__(self, name: str) -> Any:
        raise AttributeError(f"no repository {name!r} in this unit of work; registered: "
                             f"federation, tenancy, tokens, jobs, audit{''.join(', ' + n for n in REPOSITORIES.names())}")

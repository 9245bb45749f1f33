"""The composition root: one ``Platform`` holds the database, the clock, the catalog and the
settings that every service and the control loop share. ``bootstrap(url)`` builds it."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from suanli.domain.accelerators import Catalog, default_catalog
from suanli.store.db import Database
from suanli.store.uow import UnitOfWork

ROLES = ("operator", "provider", "tenant", "agent")


@dataclass(frozen=True)
class Settings:
    lease_s: float = 10.0          # an agent that has not sent a heartbeat for this long is lost
    cycle_s: float = 0.5           # scheduler loop period
    profile: str = "balanced"
    seed: int = 0
    token_cache_s: float = 5.0     # how long a verified token stays cached in a process

    @classmethod
    def from_env(cls) -> Settings:
        env = os.environ
        return cls(lease_s=float(env.get("SUANLI_LEASE_S", cls.lease_s)),
                   cycle_s=float(env.get("SUANLI_CYCLE_S", cls.cycle_s)),
                   profile=env.get("SUANLI_PROFILE", cls.profile))


@dataclass(frozen=True, slots=True)
class Caller:
    """Who is calling: a token's id, role and scope."""

    token_id: str
    role: str
    tenant: str | None = None
    provider: str | None = None
    site: str | None = None

    @property
    def actor(self) -> str:
        return self.token_id


SYSTEM = Caller(token_id="system", role="operator")
SCHEDULER = Caller(token_id="scheduler", role="operator")


@dataclass
class Platform:
    db: Database
    settings: Settings = field(default_factory=Settings)
    clock: Callable[[], float] = time.time
    catalog: Catalog = field(default_factory=default_catalog)
    cache: dict[str, Any] = field(default_factory=dict)

    def uow(self) -> UnitOfWork:
        return UnitOfWork(self.db)

    def now(self) -> float:
        return self.clock()


def bootstrap(url: str, settings: Settings | None = None, *, migrate: bool = True, pool_size: int = 10) -> Platform:
    db = Database(url, pool_size=pool_size)
    if migrate:
        db.migrate()
    return Platform(db=db, settings=settings or Settings.from_env())

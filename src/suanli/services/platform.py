"""The composition root: one ``Platform`` holds the database, the clock, the catalog and the
settings that every service and the control loop share. ``bootstrap(url)`` builds it."""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from suanli.domain.accelerators import Catalog, default_catalog
from suanli.domain.errors import InvalidInput
from suanli.services.metrics import ProcessMetrics
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
    market_s: float = 5.0          # the market's periodic step (spot clearing, billing)
    meter_s: float = 3600.0        # metering period: running work is billed at least this often
    market_prices: str | None = None   # a price book YAML instead of the packaged one
    market_grades: str | None = None   # grade rules YAML instead of the packaged ones
    log_cap: int = 10 * 2**20 + 2**16  # bytes of one placement's output the store keeps (agents keep 10 MiB)
    max_body: int = 1 << 20        # bytes of a request body; larger ones get 413 (0 = no limit)
    submit_rate: float = 2000.0    # job submissions per second per tenant per API process (0 = no limit)
    submit_burst: float = 4000.0   # ... of which this many at once (the token bucket's size)
    history_s: float = 60.0        # the leader writes a history sample this often (services.compliance)
    history_days: float = 90.0     # ... and keeps this many days of them

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        """The one place that reads the server's ``SUANLI_*`` variables (the CLI reads its own
        ``SUANLI_URL``/``SUANLI_TOKEN``/``SUANLI_CONFIG`` in ``api.client``)."""
        env = os.environ if env is None else env
        return cls(lease_s=float(env.get("SUANLI_LEASE_S", cls.lease_s)),
                   cycle_s=float(env.get("SUANLI_CYCLE_S", cls.cycle_s)),
                   profile=env.get("SUANLI_PROFILE", cls.profile),
                   market_s=float(env.get("SUANLI_MARKET_S", cls.market_s)),
                   meter_s=_positive(env, "SUANLI_METER_S", cls.meter_s),
                   market_prices=env.get("SUANLI_MARKET_PRICES") or None,
                   market_grades=env.get("SUANLI_MARKET_GRADES") or None,
                   log_cap=int(env.get("SUANLI_LOG_CAP", cls.log_cap)),
                   max_body=int(env.get("SUANLI_MAX_BODY", cls.max_body)),
                   submit_rate=float(env.get("SUANLI_SUBMIT_RATE", cls.submit_rate)),
                   submit_burst=float(env.get("SUANLI_SUBMIT_BURST", cls.submit_burst)),
                   history_s=float(env.get("SUANLI_HISTORY_S", cls.history_s)),
                   history_days=float(env.get("SUANLI_HISTORY_DAYS", cls.history_days)))


def _positive(env: Mapping[str, str], name: str, default: float) -> float:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = float(raw)
    except ValueError:
        value = float("nan")
    if not value > 0 or value == float("inf"):
        raise InvalidInput("must be a number of seconds > 0", field=name, value=raw,
                           fix=f"set {name} to e.g. {default:g}, or unset it")
    return value


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
class Caches:
    """What one process keeps between requests and cycles; each field names the service that owns
    it and when it is renewed. Nothing here is the truth: the store is."""

    federation: Any = None          # services.federation: (Federation, pool ids, version), per version
    federation_ttl: Any = None      # services.jobs: (expires, Federation), 2 s
    queues: Any = None              # services.jobs: (expires, {(tenant, queue): priority class}), 2 s
    pool_table: Any = None          # services.snapshot: (version, PoolTable, pool ids), per version
    domain_jobs: dict[str, Any] = field(default_factory=dict)   # services.snapshot: job id -> Job
    tokens: dict[str, tuple[float, Caller]] = field(default_factory=dict)  # services.tokens: digest -> caller
    meter_sites: dict[str, Any] = field(default_factory=dict)  # services.usage: site -> (version, facts)
    price_book: Any = None          # services.market: the PriceBook
    pool_prices: Any = None         # services.market: (PoolTable, prices per pool)
    market_step_at: float | None = None  # control.market: when the market step last ran
    submit_buckets: dict[str, list[float]] = field(default_factory=dict)  # services.ratelimit: tenant -> bucket


@dataclass
class Platform:
    db: Database
    settings: Settings = field(default_factory=Settings)
    clock: Callable[[], float] = time.time
    catalog: Catalog = field(default_factory=default_catalog)
    cache: Caches = field(default_factory=Caches)
    metrics: ProcessMetrics = field(default_factory=ProcessMetrics)  # services.metrics: this process's /metrics
    loop: Any = None                # the scheduler loop this process runs, if any (api.server sets it)
    submit_batcher: Any = None      # api.routes.jobs: the submission batcher of this process
    fence: Any = None               # control.loop: the leader's fence, on the cycle's copy of the platform

    def uow(self) -> UnitOfWork:
        return UnitOfWork(self.db, self.fence)

    def read(self) -> UnitOfWork:
        """A unit of work that only reads (on SQLite: without the writer lock)."""
        return UnitOfWork(self.db, read_only=True)

    def now(self) -> float:
        return self.clock()


def bootstrap(url: str, settings: Settings | None = None, *, migrate: bool = True, pool_size: int = 10) -> Platform:
    db = Database(url, pool_size=pool_size)
    if migrate:
        db.migrate()
    return Platform(db=db, settings=settings or Settings.from_env())

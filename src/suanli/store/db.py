"""Engines, the shared ``metadata`` and migrations.

``Database(url)`` owns one engine. SQLite gets WAL, ``synchronous=NORMAL``, a short busy timeout
and ``BEGIN IMMEDIATE`` write transactions (so two writers queue instead of failing on upgrade),
while a connection with the ``READ_ONLY`` execution option begins a plain (deferred) transaction
that never waits for the writer lock;
PostgreSQL gets a connection pool sized for API replicas. ``migrate()`` runs Alembic to head.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import MetaData, create_engine, event
from sqlalchemy.engine import Engine

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}
metadata = MetaData(naming_convention=NAMING)

MIGRATIONS = Path(__file__).parent / "migrations"


SQLITE_POOL = 40
READ_ONLY = "suanli_read_only"   # execution option: a transaction that only reads (SQLite: a plain BEGIN)


def sqlite_url(data_dir: str | Path) -> str:
    path = Path(data_dir).expanduser().resolve()
    path.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{path / 'suanli.db'}"


def _sqlite_pragmas(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _connect(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None  # we issue BEGIN ourselves
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.execute("PRAGMA busy_timeout=5000")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.close()

    @event.listens_for(engine, "begin")
    def _begin(conn: Any) -> None:
        # a reader (``READ_ONLY``) takes no lock: in WAL it reads a snapshot beside the one writer
        conn.exec_driver_sql("BEGIN" if conn.get_execution_options().get(READ_ONLY) else "BEGIN IMMEDIATE")


class Database:
    """One engine for one URL; ``dialect`` is ``sqlite`` or ``postgresql``."""

    def __init__(self, url: str, *, pool_size: int = 10) -> None:
        self.url = url
        if url.startswith("postgresql://"):
            url = "postgresql+psycopg://" + url[len("postgresql://"):]
            self.url = url
        if url.startswith("sqlite"):
            # a connection kept for each of the API's worker threads (anyio's 40): an overflow
            # connection is closed on return, and opening one (with its PRAGMAs) cost ~5% of the
            # server's time under `suanli bench load`
            pool_size = max(pool_size, SQLITE_POOL)
            self.engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 5},
                                        pool_size=pool_size, max_overflow=pool_size)
            _sqlite_pragmas(self.engine)
        else:
            self.engine = create_engine(url, pool_size=pool_size, max_overflow=pool_size, pool_pre_ping=True)
        self.dialect = self.engine.dialect.name

    def migrate(self) -> None:
        """Bring the schema to the newest Alembic revision (idempotent)."""
        from alembic import command
        from alembic.config import Config

        cfg = Config()
        cfg.set_main_option("script_location", str(MIGRATIONS))
        cfg.set_main_option("sqlalchemy.url", self.url.replace("%", "%%"))
        with self.engine.begin() as conn:
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, "head")

    def dispose(self) -> None:
        self.engine.dispose()

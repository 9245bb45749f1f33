"""The durable store: SQLAlchemy Core tables (one module per aggregate, one shared ``metadata``),
repositories over a connection, a ``UnitOfWork`` (one transaction), and Alembic migrations.

SQLite (WAL, synchronous=NORMAL) by default in a data directory; PostgreSQL by URL.
Times are float seconds UTC; money is NUMERIC/Decimal.
"""

from suanli.store.db import Database, metadata, sqlite_url
from suanli.store.uow import UnitOfWork

__all__ = ["Database", "UnitOfWork", "metadata", "sqlite_url"]

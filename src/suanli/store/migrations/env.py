"""Alembic environment: runs migrations on the connection ``Database.migrate`` hands over."""

from __future__ import annotations

from alembic import context

import suanli.store.audit  # noqa: F401  (register tables on metadata)
import suanli.store.federation  # noqa: F401
import suanli.store.jobs  # noqa: F401
import suanli.store.tenancy  # noqa: F401
import suanli.store.tokens  # noqa: F401
from suanli.store.db import metadata

target_metadata = metadata
connection = context.config.attributes.get("connection")
if connection is None:
    from sqlalchemy import create_engine

    engine = create_engine(context.config.get_main_option("sqlalchemy.url") or "sqlite://")
    with engine.begin() as connection:
        context.configure(connection=connection, target_metadata=target_metadata, render_as_batch=True)
        with context.begin_transaction():
            context.run_migrations()
else:
    context.configure(connection=connection, target_metadata=target_metadata, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()

"""Alembic environment: runs migrations on the connection ``Database.migrate`` hands over."""

from __future__ import annotations

import importlib
import pkgutil

from alembic import context

import suanli.store
from suanli.store.db import metadata

for _info in pkgutil.iter_modules(suanli.store.__path__):   # every aggregate module registers its tables
    if _info.name not in ("migrations",):
        importlib.import_module(f"suanli.store.{_info.name}")

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

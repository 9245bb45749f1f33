"""API tokens: only a SHA-256 of the secret is stored; the secret is shown once at creation.

A token has one role (operator, provider, tenant, agent) and the scope that role needs
(``tenant`` for tenants, ``provider`` for providers, ``site`` for agents).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Column, Float, String, Table, insert, select, text, update
from sqlalchemy.engine import Connection

from suanli.store.db import metadata
from suanli.store.rows import row, rows

api_tokens = Table(
    "api_tokens", metadata,
    Column("id", String(32), primary_key=True),
    Column("hash", String(64), nullable=False, unique=True),
    Column("role", String(16), nullable=False),
    Column("name", String(200), nullable=False, default=""),
    Column("tenant", String(64), nullable=True),
    Column("provider", String(64), nullable=True),
    Column("site", String(64), nullable=True),
    Column("created_at", Float, nullable=False),
    Column("created_by", String(32), nullable=True),
    Column("revoked_at", Float, nullable=True),
    Column("expires_at", Float, nullable=True),     # NULL: never expires
)

CHANNEL = "suanli_tokens"   # PostgreSQL NOTIFY channel: a token was revoked or rotated


class TokenRepo:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def add(self, **row: Any) -> None:
        self.conn.execute(insert(api_tokens).values(**row))

    def by_hash(self, digest: str) -> dict[str, Any] | None:
        r = self.conn.execute(select(api_tokens).where(api_tokens.c.hash == digest)).first()
        return row(r)

    def get(self, token_id: str) -> dict[str, Any] | None:
        r = self.conn.execute(select(api_tokens).where(api_tokens.c.id == token_id)).first()
        return row(r)

    def find(self) -> list[dict[str, Any]]:
        q = select(api_tokens).order_by(api_tokens.c.created_at)
        return rows(self.conn.execute(q))

    def revoke(self, token_id: str, at: float) -> None:
        self.conn.execute(update(api_tokens).where(api_tokens.c.id == token_id).values(revoked_at=at))
        self.changed()

    def set_hash(self, token_id: str, digest: str) -> None:
        self.conn.execute(update(api_tokens).where(api_tokens.c.id == token_id).values(hash=digest))
        self.changed()

    def changed(self) -> None:
        """Tell every API replica, at commit, to drop the tokens it verified (PostgreSQL NOTIFY;
        one SQLite file has one server process, whose own cache the service clears)."""
        if self.conn.dialect.name == "postgresql":
            self.conn.execute(text(f"NOTIFY {CHANNEL}"))

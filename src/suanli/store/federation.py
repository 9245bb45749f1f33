"""Regions, links, providers, sites and pools: the federation as the store holds it.

A site is placeable when ``state == 'active'`` (operators/providers drain it) and
``health == 'up'`` (its agent's lease is current; ``lost`` when the lease lapsed).
``version`` of the ``federation_version`` row bumps on every change of sites or pools so the
control loop rebuilds its pool table only then.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    Column,
    Float,
    ForeignKey,
    Integer,
    Numeric,
    String,
    Table,
    Text,
    UniqueConstraint,
    insert,
    select,
    update,
)
from sqlalchemy.engine import Connection

from suanli.store.db import metadata
from suanli.store.rows import row, rows, where_equal

regions = Table(
    "regions", metadata,
    Column("name", String(64), primary_key=True),
    Column("grid_zone", String(64), nullable=False, default=""),
    Column("carbon_g_per_kwh", Float, nullable=False, default=500.0),
)

links = Table(
    "links", metadata,
    Column("src", String(64), ForeignKey("regions.name"), primary_key=True),
    Column("dst", String(64), ForeignKey("regions.name"), primary_key=True),
    Column("rtt_ms", Float, nullable=False),
    Column("bandwidth_gbps", Float, nullable=False, default=10.0),
    Column("egress_per_gb", Float, nullable=False, default=0.0),
)

providers = Table(
    "providers", metadata,
    Column("name", String(64), primary_key=True),
    Column("display_name", String(200), nullable=False, default=""),
    Column("created_at", Float, nullable=False),
)

sites = Table(
    "sites", metadata,
    Column("name", String(64), primary_key=True),
    Column("provider", String(64), ForeignKey("providers.name"), nullable=False, index=True),
    Column("region", String(64), ForeignKey("regions.name"), nullable=False),
    Column("tier", String(16), nullable=False, default="hub"),
    Column("engine", String(16), nullable=False, default="local"),
    Column("engine_options", Text, nullable=False, default="{}", server_default="{}"),
    Column("pue", Float, nullable=False, default=1.4),
    Column("green_share", Float, nullable=False, default=0.0),
    Column("carbon_g_per_kwh", Float, nullable=True),
    Column("price_per_pf16h", Numeric(18, 6), nullable=False),
    Column("state", String(16), nullable=False, default="active"),
    Column("health", String(16), nullable=False, default="unknown"),
    Column("last_heartbeat", Float, nullable=True),
    Column("lease_s", Float, nullable=False, default=15.0),
    Column("live", Text, nullable=False, default="{}"),
    Column("agent_session", String(64), nullable=True),   # the agent session that may act for the site
    Column("created_at", Float, nullable=False),
)

pools = Table(
    "pools", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("site", String(64), ForeignKey("sites.name"), nullable=False, index=True),
    Column("name", String(64), nullable=False),
    Column("accelerator", String(64), nullable=False),
    Column("per_node", Integer, nullable=False),
    Column("nodes", Integer, nullable=False),
    Column("cpus_per_node", Integer, nullable=False, default=64),
    Column("memory_gb_per_node", Float, nullable=False, default=512.0),
    # what the site's engine last reported (its agent's heartbeat); NULL until it reports
    Column("observed_total", Integer, nullable=True),
    Column("observed_free", Integer, nullable=True),
    Column("observed_at", Float, nullable=True),
    Column("observed", Text, nullable=False, default="{}", server_default="{}"),   # nodes, external, healthy
    UniqueConstraint("site", "name"),
)

federation_version = Table(
    "federation_version", metadata,
    Column("id", Integer, primary_key=True),
    Column("version", Integer, nullable=False, default=0),
)


class FederationRepo:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    # -- regions and links -------------------------------------------------------------------
    def add_region(self, **row: Any) -> None:
        self.conn.execute(insert(regions).values(**row))
        self.bump()

    def regions(self) -> list[dict[str, Any]]:
        return rows(self.conn.execute(select(regions).order_by(regions.c.name)))

    def region(self, name: str) -> dict[str, Any] | None:
        r = self.conn.execute(select(regions).where(regions.c.name == name)).first()
        return row(r)

    def add_link(self, **row: Any) -> None:
        self.conn.execute(insert(links).values(**row))
        self.bump()

    def links(self) -> list[dict[str, Any]]:
        return rows(self.conn.execute(select(links).order_by(links.c.src, links.c.dst)))

    # -- providers ---------------------------------------------------------------------------
    def add_provider(self, **row: Any) -> None:
        self.conn.execute(insert(providers).values(**row))

    def providers(self) -> list[dict[str, Any]]:
        return rows(self.conn.execute(select(providers).order_by(providers.c.name)))

    def provider(self, name: str) -> dict[str, Any] | None:
        r = self.conn.execute(select(providers).where(providers.c.name == name)).first()
        return row(r)

    # -- sites and pools ---------------------------------------------------------------------
    def add_site(self, **row: Any) -> None:
        self.conn.execute(insert(sites).values(**row))
        self.bump()

    def site(self, name: str, *, for_update: bool = False) -> dict[str, Any] | None:
        q = select(sites).where(sites.c.name == name)
        if for_update and self.conn.dialect.name == "postgresql":
            q = q.with_for_update()
        r = self.conn.execute(q).first()
        return row(r)

    def sites(self, provider: str | None = None) -> list[dict[str, Any]]:
        q = select(sites).order_by(sites.c.name)
        q = where_equal(q, sites, provider=provider)
        return rows(self.conn.execute(q))

    def update_site(self, name: str, *, bump: bool = True, **values: Any) -> None:
        self.conn.execute(update(sites).where(sites.c.name == name).values(**values))
        if bump:
            self.bump()

    def add_pool(self, **row: Any) -> int:
        res = self.conn.execute(insert(pools).values(**row))
        self.bump()
        return int(res.inserted_primary_key[0])  # type: ignore[index]

    def pools(self, site: str | None = None) -> list[dict[str, Any]]:
        q = select(pools).order_by(pools.c.site, pools.c.id)
        if site is not None:
            q = q.where(pools.c.site == site)
        return rows(self.conn.execute(q))

    def pool(self, pool_id: int) -> dict[str, Any] | None:
        r = self.conn.execute(select(pools).where(pools.c.id == pool_id)).first()
        return row(r)

    def observe_pool(self, site: str, name: str, **values: Any) -> None:
        """Record what the site's engine reports for a pool (no version bump: not a federation change)."""
        self.conn.execute(update(pools).where(pools.c.site == site, pools.c.name == name).values(**values))

    def update_pool(self, pool_id: int, **values: Any) -> None:
        self.conn.execute(update(pools).where(pools.c.id == pool_id).values(**values))
        self.bump()

    # -- version -----------------------------------------------------------------------------
    def version(self) -> int:
        v = self.conn.execute(select(federation_version.c.version).where(federation_version.c.id == 1)).scalar()
        return int(v or 0)

    def bump(self) -> None:
        res = self.conn.execute(update(federation_version).where(federation_version.c.id == 1)
                                .values(version=federation_version.c.version + 1))
        if res.rowcount == 0:
            self.conn.execute(insert(federation_version).values(id=1, version=1))

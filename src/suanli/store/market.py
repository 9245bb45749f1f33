"""The market's tables: pool asks, spot orders, clearing rounds, trades and reservations.

Money and quantities of orders, trades and reservations are ``NUMERIC``/``Decimal`` (exact on both
dialects). The ledger, invoice lines and billed placements are in ``suanli.store.ledger``.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from sqlalchemy import (
    Column,
    Float,
    Index,
    Integer,
    Numeric,
    String,
    Table,
    Text,
    func,
    insert,
    select,
    text,
    update,
)
from sqlalchemy.engine import Connection

from suanli.market.catalog import ProductClass
from suanli.market.reserved import ReservationState, ReservedContract
from suanli.store.db import metadata
from suanli.store.rows import row, rows, where_equal
from suanli.store.uow import register_repository

QTY = Numeric(24, 6)
PRICE = Numeric(18, 4)

market_asks = Table(
    "market_asks", metadata,
    Column("site", String(64), primary_key=True),
    Column("pool", String(64), primary_key=True),
    Column("provider", String(64), nullable=False),
    Column("price", PRICE, nullable=False),
    Column("min_qty", QTY, nullable=False),
    Column("updated_at", Float, nullable=False),
)

market_orders = Table(
    "market_orders", metadata,
    Column("id", String(160), primary_key=True),
    Column("side", String(8), nullable=False),            # bid | ask
    Column("owner", String(80), nullable=False),          # tenant:<name> | provider:<name>
    Column("tenant", String(64), nullable=True),          # bids and resale asks: the tenant
    Column("provider", String(64), nullable=True),        # provider asks: the provider
    Column("grade", String(32), nullable=False),
    Column("region", String(64), nullable=False),
    Column("qty", QTY, nullable=False),
    Column("filled", QTY, nullable=False),
    Column("price", PRICE, nullable=False),               # a bid's limit, an ask's minimum
    Column("time", Float, nullable=False),
    Column("status", String(16), nullable=False),         # open | filled | closed
    Column("pool", String(140), nullable=False, default=""),
    Column("contract", String(64), nullable=False, default=""),
    Column("round_id", String(64), nullable=True),
    Index("ix_market_orders_status_grade", "status", "grade", "region"),
    Index("ix_market_orders_tenant_time", "tenant", "time"),
)

market_rounds = Table(
    "market_rounds", metadata,
    Column("id", String(64), primary_key=True),
    Column("grade", String(32), nullable=False),
    Column("region", String(64), nullable=False),
    Column("at", Float, nullable=False),
    Column("price", PRICE, nullable=True),
    Column("volume", QTY, nullable=False),
    Column("bids", Integer, nullable=False),
    Column("asks", Integer, nullable=False),
    Index("ix_market_rounds_at", "at"),
)

market_trades = Table(
    "market_trades", metadata,
    Column("id", String(320), primary_key=True),
    Column("round_id", String(64), nullable=False),
    Column("bid_id", String(160), nullable=False),
    Column("ask_id", String(160), nullable=False),
    Column("buyer", String(64), nullable=False),          # the tenant
    Column("seller", String(80), nullable=False),         # provider:<name> | tenant:<name>
    Column("grade", String(32), nullable=False),
    Column("region", String(64), nullable=False),
    Column("pool", String(140), nullable=False, default=""),
    Column("contract", String(64), nullable=False, default=""),
    Column("qty", QTY, nullable=False),
    Column("used", QTY, nullable=False),
    Column("price", PRICE, nullable=False),
    Column("at", Float, nullable=False),
    Index("ix_market_trades_buyer", "buyer", "grade", "region"),
)

market_reservations = Table(
    "market_reservations", metadata,
    Column("id", String(64), primary_key=True),
    Column("tenant", String(64), nullable=False, index=True),
    Column("provider", String(64), nullable=False),
    Column("site", String(64), nullable=False),
    Column("pool", String(64), nullable=False),
    Column("grade", String(32), nullable=False),
    Column("region", String(64), nullable=False),
    Column("product_class", String(16), nullable=False),
    Column("qty", QTY, nullable=False),
    Column("used", QTY, nullable=False),
    Column("offered", QTY, nullable=False),
    Column("start", Float, nullable=False),
    Column("end", Float, nullable=False),
    Column("price", PRICE, nullable=False),
    Column("status", String(16), nullable=False),         # open | settled
    Column("created_at", Float, nullable=False),
)

market_price_versions = Table(
    "market_price_versions", metadata,
    Column("version", Integer, primary_key=True, autoincrement=False),   # 1, 2, ...: 0 is the prices file
    Column("at", Float, nullable=False),                  # in force from
    Column("actor", String(64), nullable=False),
    Column("document", Text, nullable=False),             # JSON: {fee_rate, grades: [...], list_prices: {...}}
)


class MarketRepo:
    """Rows of the market tables over one connection (inside a ``UnitOfWork``)."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    # -- asks per pool -------------------------------------------------------------------------
    def pool_asks(self) -> dict[tuple[str, str], dict[str, Any]]:
        return {(r["site"], r["pool"]): r for r in rows(self.conn.execute(select(market_asks)))}

    def set_pool_ask(self, **row: Any) -> None:
        done = self.conn.execute(update(market_asks).where(market_asks.c.site == row["site"],
                                                           market_asks.c.pool == row["pool"]).values(**row))
        if done.rowcount == 0:
            self.conn.execute(insert(market_asks).values(**row))

    # -- list-price versions -------------------------------------------------------------------
    def price_versions(self) -> list[dict[str, Any]]:
        return rows(self.conn.execute(select(market_price_versions).order_by(market_price_versions.c.version)))

    def lock_prices(self) -> None:
        """Make this transaction the only writer of a price version until it ends (PostgreSQL's
        transaction advisory lock; SQLite transactions here begin IMMEDIATE, one writer at a time)."""
        if self.conn.dialect.name == "postgresql":
            self.conn.execute(text("SELECT pg_advisory_xact_lock(hashtext('suanli.prices'))"))

    def last_price_version(self) -> int:
        """The number of the latest stored version (0: none, the prices file is in force)."""
        return int(self.conn.execute(select(func.coalesce(func.max(market_price_versions.c.version), 0))).scalar()
                   or 0)

    def add_price_version(self, **row: Any) -> None:
        self.conn.execute(insert(market_price_versions).values(**row))

    # -- orders --------------------------------------------------------------------------------
    def add_order(self, **row: Any) -> None:
        self.conn.execute(insert(market_orders).values(**row))

    def add_orders(self, rows: list[dict[str, Any]]) -> None:
        if rows:
            self.conn.execute(insert(market_orders), rows)

    def open_orders(self) -> list[dict[str, Any]]:
        q = select(market_orders).where(market_orders.c.status == "open").order_by(market_orders.c.time,
                                                                                     market_orders.c.id)
        return rows(self.conn.execute(q))

    def orders(self, *, tenant: str | None = None, provider: str | None = None, status: str | None = None,
               limit: int = 200) -> list[dict[str, Any]]:
        q = select(market_orders).order_by(market_orders.c.time.desc(), market_orders.c.id).limit(limit)
        q = where_equal(q, market_orders, tenant=tenant, provider=provider, status=status)
        return rows(self.conn.execute(q))

    def order(self, order_id: str) -> dict[str, Any] | None:
        r = self.conn.execute(select(market_orders).where(market_orders.c.id == order_id)).first()
        return row(r)

    def update_order(self, order_id: str, **values: Any) -> None:
        self.conn.execute(update(market_orders).where(market_orders.c.id == order_id).values(**values))

    # -- rounds and trades ---------------------------------------------------------------------
    def add_round(self, **row: Any) -> None:
        self.conn.execute(insert(market_rounds).values(**row))

    def rounds(self, limit: int = 50) -> list[dict[str, Any]]:
        return rows(self.conn.execute(select(market_rounds).order_by(market_rounds.c.at.desc()).limit(limit)))

    def add_trades(self, rows: list[dict[str, Any]]) -> None:
        if rows:
            self.conn.execute(insert(market_trades), rows)

    def trades(self, *, buyer: str | None = None, seller: str | None = None, since: float | None = None,
               unused_only: bool = False) -> list[dict[str, Any]]:
        q = select(market_trades).order_by(market_trades.c.at, market_trades.c.id)
        if since is not None:
            q = q.where(market_trades.c.at > since)
        if unused_only:
            q = q.where(market_trades.c.used < market_trades.c.qty)
        return rows(self.conn.execute(where_equal(q, market_trades, buyer=buyer, seller=seller)))

    def set_trade_used(self, trade_id: str, used: Any) -> None:
        self.conn.execute(update(market_trades).where(market_trades.c.id == trade_id).values(used=used))

    # -- reservations --------------------------------------------------------------------------
    def add_reservation(self, **row: Any) -> None:
        self.conn.execute(insert(market_reservations).values(**row))

    def reservations(self, *, tenant: str | None = None, status: str | None = None) -> list[dict[str, Any]]:
        q = select(market_reservations).order_by(market_reservations.c.start, market_reservations.c.id)
        return rows(self.conn.execute(where_equal(q, market_reservations, tenant=tenant, status=status)))

    def reservation(self, rid: str) -> dict[str, Any] | None:
        r = self.conn.execute(select(market_reservations).where(market_reservations.c.id == rid)).first()
        return row(r)

    def update_reservation(self, rid: str, **values: Any) -> None:
        self.conn.execute(update(market_reservations).where(market_reservations.c.id == rid).values(**values))


# -- rows -> market values --------------------------------------------------------------------
def contract_of(r: dict[str, Any]) -> ReservedContract:
    """The reserved contract a ``market_reservations`` row holds."""
    return ReservedContract(r["id"], r["tenant"], r["provider"], r["grade"], r["region"], Decimal(r["qty"]),
                            r["start"], r["end"], Decimal(r["price"]), f"{r['site']}/{r['pool']}",
                            ProductClass(r["product_class"]))


def state_of(r: dict[str, Any]) -> ReservationState:
    """A reservation row's state: its contract, what was drawn and what is offered for resale."""
    return ReservationState(contract_of(r), Decimal(r["used"]), Decimal(r["offered"]))


register_repository("market", MarketRepo)

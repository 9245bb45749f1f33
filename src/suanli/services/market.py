"""Market use cases over the store: prices, pool asks, spot bids, reservations and their resale,
orders, and one clearing round of the spot market.

The rules live in the pure ``suanli.market`` package; this module reads and writes rows and
converts at the edges (``Decimal`` in and out, strings in JSON). Every write is one unit of work
together with its audit record.

- **Prices**: the operator's list prices and fee (``data/market/prices.yaml``, or the file named by
  ``SUANLI_MARKET_PRICES``), the grade rules, and per pool its grade and the provider's ask. A pool
  without a posted ask offers its idle capacity at its site's ``price_per_pf16h``.
- **Spot**: tenants' bids wait ``open`` until filled. ``clear_round`` turns each pool's idle PF16-hours
  over the next ``SPOT_HORIZON_S`` (free accelerators x dense FP16 x horizon, minus spot already sold
  there and not yet used) into provider asks, adds open resale asks, clears every (grade, region)
  book with ``market.auction.clear_market`` and stores the rounds, the trades and the fills.
- **Reserved**: a tenant buys ``qty`` PF16-hours of a pool's grade in a window at the reserved list
  price; the pool's capacity over the window caps what all overlapping reservations may hold.
  Unused quantity can be offered back on spot (``resell``); a buyer's usage on such a trade is
  paid to the reselling tenant.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import numpy as np

from suanli.config.market_file import packaged_market
from suanli.domain.errors import InvalidInput, UnknownName
from suanli.market.auction import Ask, Bid, clear_market
from suanli.market.catalog import PoolAsk, Term, product_class_of
from suanli.market.ledger import provider_account, tenant_account
from suanli.market.money import (
    QTY_QUANTUM,
    ROUND_DOWN_QTY,
    ZERO,
    parse_price,
    parse_quantity,
    quantity_from_float,
    round_money,
)
from suanli.market.pricing import class_price_columns
from suanli.market.reserved import ReservedContract, resale_ask
from suanli.market.spot import asks_from_idle
from suanli.services.access import require
from suanli.services.errors import Conflict, NotFound
from suanli.services.ids import new_id
from suanli.services.platform import Caller, Platform
from suanli.services.prices import price_book, price_history
from suanli.store.ledger import LedgerRepo  # noqa: F401  (registers uow.ledger)
from suanli.store.market import state_of  # (importing it registers uow.market)
from suanli.store.uow import UnitOfWork

SPOT_HORIZON_S = 3600.0       # a round sells the idle capacity of the next hour


# -- catalog --------------------------------------------------------------------------------------
def pool_rows(p: Platform, uow: UnitOfWork) -> list[dict[str, Any]]:
    """Every pool with its site, provider, region, accelerator, grade and ask (price, min_qty). A pool
    without a posted ask asks its site's ``price_per_pf16h`` (the provider's default ask)."""
    book = price_book(p, uow)
    asks = uow.market.pool_asks()
    out = []
    for s in uow.federation.sites():
        for pl in uow.federation.pools(s["name"]):
            acc = p.catalog.get(pl["accelerator"])
            ask = asks.get((s["name"], pl["name"]))
            out.append({"site": s["name"], "pool": pl["name"], "pool_id": pl["id"], "provider": s["provider"],
                        "region": s["region"], "accelerator": acc.name, "grade": book.grades.grade_of(acc),
                        "slots": pl["per_node"] * pl["nodes"], "fp16_tflops": acc.fp16_tflops,
                        "ask_price": Decimal(ask["price"] if ask else s["price_per_pf16h"]).quantize(Decimal("0.0001")),
                        "ask_min_qty": Decimal(ask["min_qty"]) if ask else ZERO,
                        "ask_posted": ask is not None, "site_state": s["state"], "site_health": s["health"],
                        "live": s["live"]})
    return out


def market_class_prices(p: Platform, uow: UnitOfWork, table: Any) -> dict[str, np.ndarray]:
    """Per job class, each pool's price per PF16-hour now (``market.pricing.class_price_columns``,
    the one price of a job): what the price score, a job's price cap and the budget estimate
    compare against. Cached per pool table and price version."""
    history = price_history(p, uow)
    version = history.version_at(p.now()).version
    hit = p.cache.pool_prices
    if hit is not None and hit[0] is table and hit[1] == version:
        return hit[2]  # type: ignore[no-any-return]
    cols = class_price_columns(history, table.accelerators, p.now())
    out = {c: np.array(v, dtype=np.float64) for c, v in cols.items()}
    p.cache.pool_prices = (table, version, out)
    return out


def prices(p: Platform, caller: Caller) -> dict[str, Any]:
    """The catalog: every product's list price, the fee, grade rules, each pool's grade and ask, and
    the last clearing price per spot book."""
    require(caller, "operator", "provider", "tenant")
    with p.read() as uow:
        history = price_history(p, uow)
    book = history.book_at(p.now())
    products = []
    for prod in book.products():
        price = book.list_prices.get(prod)
        products.append({"product": prod.key, "class": prod.product_class.value, "grade": prod.grade,
                         "term": prod.term.value, "price": price})
    with p.uow() as uow:
        pools = pool_rows(p, uow)
        last: dict[tuple[str, str], dict[str, Any]] = {}
        for r in uow.market.rounds(limit=500):
            last.setdefault((r["grade"], r["region"]), r)
    spot = [{"grade": g, "region": reg, "price": r["price"], "volume": r["volume"], "at": r["at"]}
            for (g, reg), r in sorted(last.items())]
    return {"currency": str(packaged_market().get("currency", "")), "fee_rate": book.fee_rate,
            "version": history.version_at(p.now()).version,
            "unit": "PF16-hour", "grades": [{"grade": g.grade, "min_fp16_tflops": g.min_fp16_tflops,
                                              "min_memory_gb": g.min_memory_gb} for g in book.grades.rules],
            "products": products,
            "pools": [{k: r[k] for k in ("site", "pool", "provider", "region", "accelerator", "grade", "ask_price",
                                         "ask_min_qty", "ask_posted")} for r in pools],
            "spot": spot}


def set_ask(p: Platform, caller: Caller, *, site: str, pool: str, price: Any, min_qty: Any = "0") -> dict[str, Any]:
    """A provider posts (or replaces) its ask for one pool."""
    require(caller, "operator", "provider")
    price_d = parse_price(price, "price")
    min_d = parse_quantity(min_qty, "min_qty", positive=False)
    now = p.now()
    with p.uow() as uow:
        s = uow.federation.site(site)
        if s is None or (caller.role == "provider" and s["provider"] != caller.provider):
            raise NotFound(f"no site {site!r} among your sites", field="site")
        if pool not in {x["name"] for x in uow.federation.pools(site)}:
            raise NotFound(f"no pool {pool!r} at site {site}", field="pool")
        row = {"site": site, "pool": pool, "provider": s["provider"], "price": price_d, "min_qty": min_d,
               "updated_at": now}
        uow.market.set_pool_ask(**row)
        uow.audit.record(now, caller.actor, caller.role, "market.ask", f"{site}/{pool}", price=str(price_d),
                         min_qty=str(min_d))
    return row


# -- orders ---------------------------------------------------------------------------------------
def _tenant_of(caller: Caller, tenant: str | None) -> str:
    require(caller, "operator", "tenant")
    if caller.role == "tenant":
        if tenant not in (None, caller.tenant):
            raise NotFound(f"no tenant {tenant!r} that you can see", field="tenant")
        return str(caller.tenant)
    if not tenant:
        raise InvalidInput("an operator must name the tenant", field="tenant", value=tenant,
                           fix="give tenant=<name>")
    return tenant


def _check_book(p: Platform, uow: UnitOfWork, grade: str, region: str) -> None:
    price_book(p, uow).grades.check(grade, "grade")
    if uow.federation.region(region) is None:
        raise UnknownName("region", region, [r["name"] for r in uow.federation.regions()], field="region")


def bid(p: Platform, caller: Caller, *, grade: str, region: str, qty: Any, limit: Any,
        tenant: str | None = None) -> dict[str, Any]:
    """A tenant bids for ``qty`` PF16-hours of spot compute of ``grade`` in ``region`` at most ``limit``
    per PF16-hour. It waits for the next clearing round."""
    who = _tenant_of(caller, tenant)
    now = p.now()
    order_id = new_id("b")
    b = Bid(order_id, who, parse_quantity(qty, "qty").quantize(QTY_QUANTUM), parse_price(limit, "limit"), now,
            grade, region)
    with p.uow() as uow:
        if uow.tenancy.tenant(who) is None:
            raise NotFound(f"no tenant {who!r}", field="tenant")
        _check_book(p, uow, grade, region)
        row = {"id": order_id, "side": "bid", "owner": tenant_account(who), "tenant": who, "provider": None,
               "grade": grade, "region": region, "qty": b.qty, "filled": ZERO, "price": b.limit, "time": now,
               "status": "open", "pool": "", "contract": "", "round_id": None}
        uow.market.add_order(**row)
        uow.audit.record(now, caller.actor, caller.role, "market.bid", order_id, tenant=who, grade=grade,
                         region=region, qty=str(b.qty), limit=str(b.limit))
    return row


def cancel_order(p: Platform, caller: Caller, order_id: str) -> dict[str, Any]:
    now = p.now()
    with p.uow() as uow:
        row: dict[str, Any] | None = uow.market.order(order_id)
        if row is None or (caller.role == "tenant" and row["tenant"] != caller.tenant) or caller.role not in (
                "operator", "tenant"):
            raise NotFound(f"no order {order_id!r} that you can see", field="order_id")
        if row["status"] != "open":
            raise Conflict(f"order {order_id} is {row['status']}; only open orders can be cancelled")
        uow.market.update_order(order_id, status="closed")
        if row["contract"]:
            res = uow.market.reservation(row["contract"])
            if res is not None:
                uow.market.update_reservation(res["id"], offered=Decimal(res["offered"]) - (
                    Decimal(row["qty"]) - Decimal(row["filled"])))
        uow.audit.record(now, caller.actor, caller.role, "market.cancel", order_id)
        row["status"] = "closed"
    return row


def reserve(p: Platform, caller: Caller, *, site: str, pool: str, qty: Any, start: float, end: float,
            job_class: str = "train", tenant: str | None = None) -> dict[str, Any]:
    """Buy ``qty`` PF16-hours of a pool's grade over ``[start, end)`` at the reserved list price."""
    who = _tenant_of(caller, tenant)
    q = parse_quantity(qty, "qty").quantize(QTY_QUANTUM)      # exact: the parser refuses finer input
    pclass = product_class_of(job_class)
    now = p.now()
    if not end > start:
        raise InvalidInput("the window must end after it starts", field="end", value=end, fix="give end > start")
    if end <= now:
        raise InvalidInput("the window is over", field="end", value=end, fix="give an end in the future")
    with p.uow() as uow:
        if uow.tenancy.tenant(who) is None:
            raise NotFound(f"no tenant {who!r}", field="tenant")
        row = next((r for r in pool_rows(p, uow) if r["site"] == site and r["pool"] == pool), None)
        if row is None:
            raise NotFound(f"no pool {pool!r} at site {site!r}", field="pool")
        price = price_book(p, uow).list_price(pclass, row["grade"], Term.RESERVED)   # the contract's price
        capacity = quantity_from_float(row["slots"] * row["fp16_tflops"] / 1000.0 * (end - start) / 3600.0,
                                       "capacity")
        held = sum((Decimal(r["qty"]) for r in uow.market.reservations(status="open")
                    if r["site"] == site and r["pool"] == pool and r["start"] < end and start < r["end"]), ZERO)
        if held + q > capacity:
            raise Conflict(f"pool {site}/{pool} can hold {capacity} PF16-h over this window and {held} is "
                           f"already reserved; at most {max(capacity - held, ZERO)} is left", field="qty")
        rid = new_id("r")
        contract = ReservedContract(rid, who, row["provider"], row["grade"], row["region"], q, start, end, price,
                                    f"{site}/{pool}", pclass)
        out = {"id": rid, "tenant": who, "provider": row["provider"], "site": site, "pool": pool,
               "grade": row["grade"], "region": row["region"], "product_class": pclass.value, "qty": contract.qty,
               "used": ZERO, "offered": ZERO, "start": start, "end": end, "price": price, "status": "open",
               "created_at": now}
        uow.market.add_reservation(**out)
        uow.audit.record(now, caller.actor, caller.role, "market.reserve", rid, tenant=who, site=site, pool=pool,
                         qty=str(q), price=str(price), start=start, end=end)
    out["commitment"] = round_money(q * price)
    return out


def resell(p: Platform, caller: Caller, reservation_id: str, *, qty: Any, min_price: Any) -> dict[str, Any]:
    """Offer part of a reservation's unused quantity on spot; sales are paid to the tenant."""
    require(caller, "operator", "tenant")
    now = p.now()
    with p.uow() as uow:
        r = uow.market.reservation(reservation_id)
        if r is None or (caller.role == "tenant" and r["tenant"] != caller.tenant):
            raise NotFound(f"no reservation {reservation_id!r} that you can see", field="reservation_id")
        order_id = new_id("a")
        ask, state = resale_ask(state_of(r), parse_quantity(qty, "qty"), parse_price(min_price, "min_price"),
                                now, order_id)
        uow.market.update_reservation(r["id"], offered=state.offered)
        row = {"id": order_id, "side": "ask", "owner": ask.seller, "tenant": r["tenant"], "provider": None,
               "grade": ask.grade, "region": ask.region, "qty": ask.qty, "filled": ZERO, "price": ask.price,
               "time": now, "status": "open", "pool": ask.pool, "contract": r["id"], "round_id": None}
        uow.market.add_order(**row)
        uow.audit.record(now, caller.actor, caller.role, "market.resell", order_id, reservation=r["id"],
                         qty=str(ask.qty), min_price=str(ask.price))
    return row


def orders(p: Platform, caller: Caller, *, status: str | None = None, tenant: str | None = None,
           limit: int = 200) -> dict[str, Any]:
    """Orders, trades and reservations the caller may see: a tenant its own; a provider the asks of
    its pools and the trades it sold; an operator everything (or one tenant's)."""
    require(caller, "operator", "provider", "tenant")
    if caller.role == "tenant":
        if tenant not in (None, caller.tenant):
            raise NotFound(f"no tenant {tenant!r} that you can see", field="tenant")
        tenant = caller.tenant
    if status is not None and status not in ("open", "filled", "closed"):
        raise UnknownName("order status", status, ["open", "filled", "closed"], field="status")
    with p.uow() as uow:
        if caller.role == "provider":
            items = uow.market.orders(provider=caller.provider, status=status, limit=limit)
            trades = uow.market.trades(seller=provider_account(str(caller.provider)))
            reservations = [r for r in uow.market.reservations() if r["provider"] == caller.provider]
        else:
            items = uow.market.orders(tenant=tenant, status=status, limit=limit)
            trades = uow.market.trades(buyer=tenant)
            if tenant is not None:
                trades += [t for t in uow.market.trades(seller=tenant_account(tenant)) if t["buyer"] != tenant]
            reservations = uow.market.reservations(tenant=tenant)
    return {"items": items, "trades": trades[-limit:], "reservations": reservations}


# -- a clearing round -----------------------------------------------------------------------------
def _idle(p: Platform, uow: UnitOfWork, pools: list[dict[str, Any]], now: float) -> dict[tuple[str, str], Decimal]:
    """Idle PF16-hours per (site, pool) over the next horizon: free accelerators of up, active sites
    x dense FP16 x horizon, minus spot sold there and not used yet."""
    import json

    sold: dict[str, Decimal] = {}
    for t in uow.market.trades(since=now - SPOT_HORIZON_S, unused_only=True):
        if t["pool"] and not t["contract"]:
            sold[t["pool"]] = sold.get(t["pool"], ZERO) + Decimal(t["qty"]) - Decimal(t["used"])
    out = {}
    for r in pools:
        if r["site_state"] != "active" or r["site_health"] != "up":
            continue
        free = (json.loads(r["live"] or "{}").get("free") or {}).get(r["pool"])
        if free is None:
            continue
        qty = Decimal(repr(float(free) * r["fp16_tflops"] / 1000.0 * SPOT_HORIZON_S / 3600.0))
        qty -= sold.get(f"{r['site']}/{r['pool']}", ZERO)
        if qty > 0:
            out[(r["site"], r["pool"])] = qty.quantize(QTY_QUANTUM, rounding=ROUND_DOWN_QTY)
    return out


def clear_round(p: Platform, now: float | None = None) -> dict[str, Any]:
    """One clearing of every spot book with open bids, in one transaction."""
    now = p.now() if now is None else now
    round_id = new_id("round")
    with p.uow() as uow:
        open_orders = uow.market.open_orders()
        bid_rows = [o for o in open_orders if o["side"] == "bid"]
        if not bid_rows:
            return {"round": None, "books": [], "trades": 0}
        pools = pool_rows(p, uow)
        standing = [PoolAsk(r["provider"], r["site"], r["pool"], r["grade"], r["region"], r["ask_price"],
                            r["ask_min_qty"]) for r in pools]
        asks, _skipped = asks_from_idle(standing, _idle(p, uow, pools, now), now, round_id)
        resale_rows = {o["id"]: o for o in open_orders if o["side"] == "ask"}
        bids = [Bid(o["id"], o["tenant"], Decimal(o["qty"]) - Decimal(o["filled"]), Decimal(o["price"]), o["time"],
                    o["grade"], o["region"]) for o in bid_rows]
        asks += [Ask(o["id"], o["owner"], Decimal(o["qty"]) - Decimal(o["filled"]), Decimal(o["price"]), o["time"],
                     o["grade"], o["region"], o["pool"], o["contract"]) for o in resale_rows.values()]
        books = clear_market(bids, asks)
        filled: dict[str, Decimal] = {}
        trades = []
        for (grade, region), c in books.items():
            book_id = f"{round_id}/{grade}/{region}"
            uow.market.add_round(id=book_id, grade=grade, region=region, at=now, price=c.price, volume=c.volume,
                                 bids=sum(1 for b in bids if (b.grade, b.region) == (grade, region)),
                                 asks=sum(1 for a in asks if (a.grade, a.region) == (grade, region)))
            for t in c.trades:
                filled[t.bid_id] = filled.get(t.bid_id, ZERO) + t.qty
                filled[t.ask_id] = filled.get(t.ask_id, ZERO) + t.qty
                trades.append({"id": t.id, "round_id": book_id, "bid_id": t.bid_id, "ask_id": t.ask_id,
                               "buyer": t.buyer, "seller": t.seller, "grade": grade, "region": region,
                               "pool": t.pool, "contract": t.contract, "qty": t.qty, "used": ZERO, "price": t.price,
                               "at": now})
        uow.market.add_trades(trades)
        for o in [*bid_rows, *resale_rows.values()]:
            got = filled.get(o["id"], ZERO)
            if got:
                total = Decimal(o["filled"]) + got
                uow.market.update_order(o["id"], filled=total, round_id=round_id,
                                        status="filled" if total >= Decimal(o["qty"]) else "open")
        # the providers' asks of this round are kept as closed orders: what was offered and what sold
        uow.market.add_orders([{"id": a.id, "side": "ask", "owner": a.seller, "tenant": None,
                                "provider": a.seller.partition(":")[2], "grade": a.grade, "region": a.region,
                                "qty": a.qty, "filled": filled.get(a.id, ZERO), "price": a.price, "time": now,
                                "status": "closed", "pool": a.pool, "contract": "", "round_id": round_id}
                               for a in asks if a.id not in resale_rows])
        if trades:
            uow.audit.record(now, "scheduler", "operator", "market.clear", round_id, trades=len(trades),
                             books={f"{g}/{r}": str(c.price) for (g, r), c in books.items()})
    return {"round": round_id, "trades": len(trades),
            "books": [{"grade": g, "region": r, "price": c.price, "volume": c.volume} for (g, r), c in books.items()]}

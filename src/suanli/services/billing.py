"""Billing on the platform store: meter records from ended placements, priced by the contract they
ran under, posted to the double-entry ledger; invoices, payouts, fees and balances.

``bill_ended`` is the periodic billing step, in numbered steps, all in **one** unit of work (one
database transaction), so a crash anywhere - including between pricing and posting - leaves
nothing, and the next run bills those placements:

1. read ended placements not billed yet (``market_billed_placements`` names the billed ones);
2. turn each into meter records: its PF16-hours (metered when it ended) drawn first on the
   tenant's spot trades of that grade and region (preemptible jobs only), then on its open
   reservation there (``market.reserved.draw``), the rest on-demand; a placement ``lost`` because
   its site lost its agent is the site's fault: its records carry the SLA flag (credited back);
3. add one record per reservation whose window has ended, charging what was not drawn
   (``market.billing.unused_reservation_record``);
4. price and post them with ``settlement.run.bill_batch`` over ``SqlLedger`` (``after_pricing`` is
   the crash test's hook) and mark the placements billed;
5. commit.

``SqlLedger`` is ``settlement.ports.LedgerStore`` over a SQLAlchemy connection (SQLite and
PostgreSQL); its ``writing()`` is a savepoint inside the caller's unit of work.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from decimal import Decimal
from typing import Any

from sqlalchemy import func, insert, select
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError

from suanli.market.auction import Trade
from suanli.market.billing import (
    Billing,
    InvoiceLine,
    MeterRecord,
    TermsBook,
    invoice,
    payouts,
    unused_reservation_record,
)
from suanli.market.catalog import Term, product_class_of
from suanli.market.ledger import PLATFORM_FEES, Posting, Transaction, provider_account
from suanli.market.money import ZERO, cents_to_money, quantity_from_float
from suanli.market.reserved import draw
from suanli.services.access import require
from suanli.services.errors import NotFound
from suanli.services.ids import new_id
from suanli.services.market import price_book
from suanli.services.platform import Caller, Platform
from suanli.settlement.run import bill_batch
from suanli.store.market import (
    LINE_FIELDS,
    ledger_postings,
    ledger_transactions,
    market_invoice_lines,
    state_of,
)


class SqlLedger:
    """``LedgerStore`` over one SQLAlchemy connection already in a transaction."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    @contextmanager
    def writing(self) -> Iterator[None]:
        with self.conn.begin_nested():
            yield

    def billed(self, meter_ids: Sequence[str]) -> set[str]:
        if not meter_ids:
            return set()
        q = select(market_invoice_lines.c.meter_id).where(market_invoice_lines.c.meter_id.in_(list(meter_ids)))
        return {r[0] for r in self.conn.execute(q)}

    def post(self, tx: Transaction) -> None:
        self.conn.execute(insert(ledger_transactions).values(id=tx.id, at=tx.at, memo=tx.memo))
        self.conn.execute(insert(ledger_postings), [{"tx_id": tx.id, "account": p.account,
                                                     "amount_cents": int(p.amount.scaleb(2))} for p in tx.postings])

    def record_billing(self, billing: Billing) -> None:
        tx_id = ""
        if billing.transaction is not None:
            self.post(billing.transaction)
            tx_id = billing.transaction.id
        if len(billing.columns):
            rows = [dict(zip(LINE_FIELDS, r, strict=True)) for r in billing.columns.rows()]
            for r in rows:
                r["term"] = Term(r["term"]).value
                r["tx_id"] = tx_id
            self.conn.execute(insert(market_invoice_lines), rows)

    def try_record_billing(self, billing: Billing) -> bool:
        try:
            with self.conn.begin_nested():
                self.record_billing(billing)
        except IntegrityError:
            return False
        return True

    def balances(self) -> dict[str, Decimal]:
        q = select(ledger_postings.c.account, func.sum(ledger_postings.c.amount_cents)).group_by(
            ledger_postings.c.account)
        return {a: cents_to_money(int(c)) for a, c in self.conn.execute(q)}

    def invoice_lines(self, tenant: str | None = None, start: float = float("-inf"),
                      end: float = float("inf")) -> list[InvoiceLine]:
        t = market_invoice_lines
        q = select(*[t.c[f] for f in LINE_FIELDS]).order_by(t.c.start, t.c.meter_id)
        if tenant is not None:
            q = q.where(t.c.tenant == tenant)
        if start != float("-inf"):
            q = q.where(t.c.start >= start)
        if end != float("inf"):
            q = q.where(t.c.start < end)
        out = []
        for r in self.conn.execute(q):
            v = list(r)
            v[9] = Term(v[9])
            out.append(InvoiceLine(*v))
        return out

    def transactions(self) -> list[Transaction]:
        postings: dict[str, list[Posting]] = {}
        for tx_id, account, cents in self.conn.execute(
                select(ledger_postings.c.tx_id, ledger_postings.c.account, ledger_postings.c.amount_cents)
                .order_by(ledger_postings.c.id)):
            postings.setdefault(tx_id, []).append(Posting(account, cents_to_money(int(cents))))
        return [Transaction(i, at, memo, tuple(postings.get(i, ()))) for i, at, memo in self.conn.execute(
            select(ledger_transactions).order_by(ledger_transactions.c.at, ledger_transactions.c.id))]


def _trade(t: dict[str, Any]) -> Trade:
    return Trade(t["id"], t["bid_id"], t["ask_id"], t["buyer"], t["seller"], Decimal(t["qty"]), Decimal(t["price"]),
                 t["grade"], t["region"], t["pool"], t["contract"])


def bill_ended(p: Platform, *, limit: int = 1000, after_pricing: Callable[[Billing], None] | None = None,
               now: float | None = None) -> dict[str, Any]:
    """Bill what ended since the last run (see the module docstring). Returns counts."""
    now = p.now() if now is None else now
    book = price_book(p)
    with p.uow() as uow:
        rows = uow.market.unbilled_placements(limit)                                     # 1
        ended_res = [r for r in uow.market.reservations(status="open") if r["end"] <= now]
        if not rows and not ended_res:
            return {"placements": 0, "lines": 0}
        sites = {s["name"]: s for s in uow.federation.sites()}
        trades = {t["id"]: t for t in uow.market.trades(unused_only=True)}        # what can still be drawn
        reservations = {r["id"]: r for r in uow.market.reservations(status="open")}
        states = {rid: state_of(r) for rid, r in reservations.items()}
        used = {tid: Decimal(t["used"]) for tid, t in trades.items()}
        records: list[MeterRecord] = []
        for row in rows:                                                                   # 2
            records += _records(book.grades.grade_of(p.catalog.get(row["accelerator"])), row,
                                sites.get(row["site"], {}), trades, used, states, now)
        for r in ended_res:                                                                # 3
            records.append(unused_reservation_record(states[r["id"]]))
        terms = TermsBook(book, reservations={rid: s.contract for rid, s in states.items()},
                          trades={tid: _trade(t) for tid, t in trades.items()})
        uow.market.mark_billed([r["id"] for r in rows], now)
        result = bill_batch(SqlLedger(uow.conn), records, terms, batch_id=new_id("bill"), at=now,   # 4
                            after_pricing=after_pricing)
        for tid, u in used.items():
            if u != Decimal(trades[tid]["used"]):
                uow.market.set_trade_used(tid, u)
        ended_ids = {r["id"] for r in ended_res}
        for rid, s in states.items():
            if s.used != Decimal(reservations[rid]["used"]) or rid in ended_ids:
                uow.market.update_reservation(rid, used=s.used,
                                              **({"status": "settled"} if rid in ended_ids else {}))
        if rows or ended_res:
            uow.audit.record(now, "scheduler", "operator", "billing.run",
                             result.transaction.id if result.transaction else "-", placements=len(rows),
                             lines=len(result.columns))
    return {"placements": len(rows), "lines": len(result.columns)}                         # 5


def _records(grade: str, row: dict[str, Any], site: dict[str, Any], trades: dict[str, dict[str, Any]],
             used: dict[str, Decimal], states: dict[str, Any], now: float) -> list[MeterRecord]:
    import json

    tenant, region, start = row["tenant"], site.get("region", ""), float(row["started_at"])
    seconds = max(0.0, float(row["ended_at"]) - start)
    left = quantity_from_float(float(row["pf16h"] or 0.0))
    spec = json.loads(row["spec"] or "{}")
    base = {"job": row["job_id"], "tenant": tenant, "provider": site.get("provider", ""), "site": row["site"],
            "grade": grade, "region": region, "start": start, "seconds": seconds,
            "product_class": product_class_of(row["job_class"]), "sla_failed": row["state"] == "lost"}
    out: list[MeterRecord] = []
    if spec.get("preemptible"):
        for tid, t in trades.items():
            if left <= 0:
                break
            if t["buyer"] != tenant or t["grade"] != grade or t["region"] != region:
                continue
            take = min(left, Decimal(t["qty"]) - used[tid])
            if take > 0:
                used[tid] += take
                left -= take
                out.append(MeterRecord(id=f"{row['id']}:spot:{tid}", pf16h=take, term=Term.SPOT, contract=tid,
                                       **base))
    for rid, s in list(states.items()):
        c = s.contract
        if left <= 0:
            break
        if c.tenant != tenant or c.grade != grade or c.region != region or c.end <= now:
            continue        # another tenant's, another book, or settled (its unused part is charged)
        d = draw(s, left, start)
        if d.covered > 0:
            states[rid] = d.state
            left = d.overflow
            out.append(MeterRecord(id=f"{row['id']}:reserved:{rid}", pf16h=d.covered, term=Term.RESERVED,
                                   contract=rid, **base))
    if left > 0 or not out:
        out.append(MeterRecord(id=f"{row['id']}:on-demand", pf16h=left, **base))
    return out


# -- reading --------------------------------------------------------------------------------------
def _line(x: InvoiceLine) -> dict[str, Any]:
    return {"meter_id": x.meter_id, "job": x.job, "site": x.site, "provider": x.provider, "grade": x.grade,
            "region": x.region, "start": x.start, "term": x.term.value, "contract": x.contract, "pf16h": x.pf16h,
            "unit_price": x.unit_price, "amount": x.amount, "fee": x.fee, "credit": x.credit, "due": x.due,
            "payee": x.payee}


def invoice_of(p: Platform, caller: Caller, *, tenant: str | None = None, start: float = 0.0,
               end: float | None = None) -> dict[str, Any]:
    """A tenant's invoice for ``[start, end)``: one line per priced meter record."""
    require(caller, "operator", "tenant")
    if caller.role == "tenant":
        if tenant not in (None, caller.tenant):
            raise NotFound(f"no tenant {tenant!r} that you can see", field="tenant")
        tenant = caller.tenant
    end = p.now() + 1 if end is None else end
    with p.uow() as uow:
        lines = SqlLedger(uow.conn).invoice_lines(tenant, start, end)
    if tenant is None:
        tenants = sorted({x.tenant for x in lines})
    else:
        tenants = [tenant]
    out = []
    for t in tenants:
        inv = invoice(lines, t, start, end)
        out.append({"tenant": t, "start": start, "end": end, "pf16h": inv.pf16h, "charges": inv.charges,
                    "credits": inv.credits, "total": inv.total, "lines": [_line(x) for x in inv.lines]})
    return {"items": out}


def payouts_of(p: Platform, caller: Caller, *, provider: str | None = None) -> dict[str, Any]:
    """Net earnings per payee (providers; tenants reselling reserved compute), from invoice lines."""
    require(caller, "operator", "provider")
    if caller.role == "provider":
        if provider not in (None, caller.provider):
            raise NotFound(f"no provider {provider!r} that you can see", field="provider")
        provider = caller.provider
    with p.uow() as uow:
        lines = SqlLedger(uow.conn).invoice_lines()
    gross: dict[str, Decimal] = {}
    fees: dict[str, Decimal] = {}
    by_site: dict[str, dict[str, Decimal]] = {}
    for x in lines:
        gross[x.payee] = gross.get(x.payee, ZERO) + x.amount
        fees[x.payee] = fees.get(x.payee, ZERO) + x.fee
        if x.site:
            sites = by_site.setdefault(x.payee, {})
            sites[x.site] = sites.get(x.site, ZERO) + x.amount - x.fee
        if x.credit_cents:
            sites = by_site.setdefault(provider_account(x.provider), {})
            sites[x.site] = sites.get(x.site, ZERO) - x.credit
    net = payouts(lines)
    accounts = sorted(net) if provider is None else [provider_account(provider)]
    return {"items": [{"account": a, "gross": gross.get(a, ZERO), "fees": fees.get(a, ZERO),
                       "net": net.get(a, ZERO), "by_site": dict(sorted(by_site.get(a, {}).items()))}
                      for a in accounts]}


def balances(p: Platform, caller: Caller) -> dict[str, Any]:
    """Every account's balance from the postings; their sum (always 0); the platform's fees."""
    require(caller, "operator")
    with p.uow() as uow:
        b = SqlLedger(uow.conn).balances()
    return {"balances": dict(sorted(b.items())), "sum": sum(b.values(), ZERO), "fees": b.get(PLATFORM_FEES, ZERO)}



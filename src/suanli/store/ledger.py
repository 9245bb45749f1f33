"""The ledger's tables and their repository: ledger transactions with their postings, invoice
lines, and the placements whose usage is billed.

- Postings and invoice lines are integer cents and integer units (10**-6 PF16-h, 10**-4 money per
  PF16-h), exactly as ``market.invoice.InvoiceLine`` holds them, so SQL sums are exact.
- ``market_invoice_lines.meter_id`` is the primary key: a meter record is billed once only.
- ``market_billed_placements`` names every ended placement whose usage is billed to its end
  (written in the same transaction as its lines): the billing step's "what is left to bill" and a
  second guard.
- ``market_meter_marks`` holds, per placement, how many of its metering periods are billed (hourly
  while it runs; written in the same transaction as their lines), so a period is offered once.
- Every posting belongs to a transaction whose postings sum to zero (checked by ``market.ledger``
  before anything is written).

``LedgerRepo`` (``uow.ledger``) is ``services.billing.LedgerStore`` over the unit of work's
connection (SQLite and PostgreSQL); its ``writing()`` is a savepoint inside that unit of work.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    BigInteger,
    Column,
    Float,
    Index,
    Integer,
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
from sqlalchemy.exc import IntegrityError

from suanli.market.billing import Billing
from suanli.market.catalog import Term
from suanli.market.invoice import InvoiceLine
from suanli.market.ledger import Posting, Transaction
from suanli.market.money import cents_to_money
from suanli.store.db import metadata
from suanli.store.rows import rows
from suanli.store.uow import register_repository

ledger_transactions = Table(
    "ledger_transactions", metadata,
    Column("id", String(80), primary_key=True),
    Column("at", Float, nullable=False),
    Column("memo", Text, nullable=False),
)

ledger_postings = Table(
    "ledger_postings", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("tx_id", String(80), nullable=False, index=True),
    Column("account", String(80), nullable=False, index=True),
    Column("amount_cents", BigInteger, nullable=False),
)

market_invoice_lines = Table(
    "market_invoice_lines", metadata,
    Column("meter_id", String(120), primary_key=True),
    Column("tenant", String(64), nullable=False),
    Column("provider", String(64), nullable=False),
    Column("payee", String(80), nullable=False),
    Column("job", String(64), nullable=False),
    Column("site", String(64), nullable=False),
    Column("grade", String(32), nullable=False),
    Column("region", String(64), nullable=False),
    Column("start", Float, nullable=False),
    Column("term", String(16), nullable=False),
    Column("contract", String(320), nullable=False),
    Column("pf16h_units", BigInteger, nullable=False),
    Column("price_units", BigInteger, nullable=False),
    Column("amount_cents", BigInteger, nullable=False),
    Column("fee_cents", BigInteger, nullable=False),
    Column("credit_cents", BigInteger, nullable=False),
    Column("tx_id", String(80), nullable=False),
    Index("ix_market_invoice_lines_tenant_start", "tenant", "start"),
    Index("ix_market_invoice_lines_payee", "payee"),
    Index("ix_market_invoice_lines_job", "job"),
)

market_billed_placements = Table(
    "market_billed_placements", metadata,
    Column("placement_id", String(32), primary_key=True),
    Column("at", Float, nullable=False),
)

market_meter_marks = Table(
    "market_meter_marks", metadata,
    Column("placement_id", String(32), primary_key=True),
    Column("periods", Integer, nullable=False),
)

LINE_FIELDS = ("meter_id", "tenant", "provider", "payee", "job", "site", "grade", "region", "start", "term",
               "contract", "pf16h_units", "price_units", "amount_cents", "fee_cents", "credit_cents")


class LedgerRepo:
    """The ledger's rows over one connection already in a transaction (inside a ``UnitOfWork``)."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def lock_for_billing(self) -> None:
        """Make this transaction the only biller until it ends, so billers that start together never
        race on the same placements: PostgreSQL's transaction advisory lock (SQLite transactions
        here begin IMMEDIATE, one writer at a time, so there is nothing more to take)."""
        if self.conn.dialect.name == "postgresql":
            self.conn.execute(text("SELECT pg_advisory_xact_lock(hashtext('suanli.billing'))"))

    # -- ledger and invoice lines (``services.billing.LedgerStore``) -----------------------------
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

    def job_line_amounts(self, job_ids: Sequence[str]) -> list[tuple[str, int]]:
        """(meter id, amount in cents) of every invoice line of these jobs."""
        if not job_ids:
            return []
        t = market_invoice_lines
        q = select(t.c.meter_id, t.c.amount_cents).where(t.c.job.in_(list(job_ids)))
        return [(m, int(a)) for m, a in self.conn.execute(q)]

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


    # -- billed placements ---------------------------------------------------------------------
    def billed_placements(self, ids: list[str]) -> set[str]:
        if not ids:
            return set()
        q = select(market_billed_placements.c.placement_id).where(market_billed_placements.c.placement_id.in_(ids))
        return {r[0] for r in self.conn.execute(q)}

    def placements_to_meter(self, now: float, period_s: float, limit: int = 1000) -> list[dict[str, Any]]:
        """Placements that ran (had a start) with usage due for billing: ended and not billed to
        their end, or running with a complete metering period not billed yet. Oldest first, with
        their job's tenant, class and spec, and ``periods``: how many of their periods are billed."""
        from suanli.store.jobs import jobs, placements

        done = func.coalesce(market_meter_marks.c.periods, 0)
        due = placements.c.ended_at.is_not(None) | (placements.c.started_at + (done + 1) * period_s <= now)
        q = (select(placements, jobs.c.tenant, jobs.c.job_class, jobs.c.spec, done.label("periods"))
             .join(jobs, jobs.c.id == placements.c.job_id)
             .outerjoin(market_billed_placements, market_billed_placements.c.placement_id == placements.c.id)
             .outerjoin(market_meter_marks, market_meter_marks.c.placement_id == placements.c.id)
             .where(placements.c.started_at.is_not(None), market_billed_placements.c.placement_id.is_(None), due)
             .order_by(func.coalesce(placements.c.ended_at, placements.c.started_at), placements.c.id).limit(limit))
        return rows(self.conn.execute(q))

    def set_meter_marks(self, periods: dict[str, int]) -> None:
        """Record how many metering periods of each placement are billed (inside the billing unit)."""
        if not periods:
            return
        known = {r[0] for r in self.conn.execute(select(market_meter_marks.c.placement_id).where(
            market_meter_marks.c.placement_id.in_(list(periods))))}
        for pid in known:
            self.conn.execute(update(market_meter_marks).where(market_meter_marks.c.placement_id == pid)
                              .values(periods=periods[pid]))
        fresh = [{"placement_id": pid, "periods": n} for pid, n in periods.items() if pid not in known]
        if fresh:
            self.conn.execute(insert(market_meter_marks), fresh)

    def spent_since(self, since: float) -> dict[tuple[str, str | None], tuple[int, int]]:
        """Per (tenant, queue) - queue None for lines of no job (a reservation's unused part) - what
        the invoice lines of usage that started at ``since`` or later charged, net of SLA credits
        (cents), and their PF16-hours (10**-6 units)."""
        from suanli.store.jobs import jobs

        li = market_invoice_lines
        q = (select(li.c.tenant, jobs.c.queue, func.sum(li.c.amount_cents - li.c.credit_cents),
                    func.sum(li.c.pf16h_units))
             .outerjoin(jobs, jobs.c.id == li.c.job).where(li.c.start >= since).group_by(li.c.tenant, jobs.c.queue))
        return {(t, qn): (int(c or 0), int(u or 0)) for t, qn, c, u in self.conn.execute(q)}

    def unbilled_usage(self) -> list[dict[str, Any]]:
        """Placements that ran and are not billed to their end, with their job's tenant and queue
        and how many of their metering periods are billed (``periods``)."""
        from suanli.store.jobs import jobs, placements

        q = (select(placements.c.id, placements.c.pool_id, placements.c.accelerator, placements.c.count,
                    placements.c.started_at, placements.c.ended_at, placements.c.pf16h, placements.c.cost,
                    jobs.c.tenant, jobs.c.queue, jobs.c.job_class,
                    func.coalesce(market_meter_marks.c.periods, 0).label("periods"))
             .join(jobs, jobs.c.id == placements.c.job_id)
             .outerjoin(market_billed_placements, market_billed_placements.c.placement_id == placements.c.id)
             .outerjoin(market_meter_marks, market_meter_marks.c.placement_id == placements.c.id)
             .where(placements.c.started_at.is_not(None), market_billed_placements.c.placement_id.is_(None)))
        return rows(self.conn.execute(q))

    def mark_billed(self, placement_ids: list[str], at: float) -> None:
        if placement_ids:
            self.conn.execute(insert(market_billed_placements), [{"placement_id": i, "at": at} for i in placement_ids])



register_repository("ledger", LedgerRepo)

"""Billing, the use cases: price and post batches of meter records to a ledger store; bill what
ended on the platform; read invoices, payouts and balances.

``bill_batch`` runs one batch against any ``LedgerStore`` (the platform's ``uow.ledger``, or the
bench's SQLite file), all inside one ``store.writing()`` unit (an exclusive write transaction):

1. price the batch (pure: ``suanli.market.billing.bill``), optimistically assuming none of its
   records is billed yet - the common case, which saves a look-up per record;
2. call ``after_pricing`` if given - a **test-only hook**: the crash tests pass a callback that
   SIGKILLs the process here, between pricing and posting;
3. store the lines and the batch's transaction; if the store's unique meter-id guard finds a
   record already billed, nothing of the batch is stored and instead:
4. ask the store which records are billed, price the others, store them;
5. commit.

A crash before step 5 leaves nothing; a re-run bills those records then. Records already billed
are skipped, so offering a record twice (or from two processes at once) bills it once.
``batch_id`` names the batch's ledger transaction and must not have been used by an earlier batch
that stored lines (``bill_all`` derives ids from a ``run_id``: give each run its own).

``bill_ended`` is the platform's periodic billing step. It bills running work every metering
period (``Settings.meter_s``, an hour by default) and ended work to its end, in numbered steps, all
in **one** unit of work (one database transaction), so a crash anywhere - including between pricing
and posting - leaves nothing, and the next run bills those periods:

1. read the placements with usage due (``uow.ledger.placements_to_meter``): running ones with a
   complete period not billed yet, ended ones not billed to their end;
2. turn each due period into meter records (pure: ``market.usage.due_periods`` then
   ``placement_records``): its PF16-hours drawn first on the tenant's spot trades of that grade and
   region (preemptible jobs only), then on its open reservation there, the rest on-demand; a
   placement ``lost`` because its site lost its agent is the site's fault: its records carry the
   SLA flag;
3. add one record per reservation whose window has ended, charging what was not drawn
   (``market.billing.unused_reservation_record``);
4. price and post them with ``bill_batch`` over ``uow.ledger`` (``after_pricing`` is the crash
   test's hook; on-demand records at the list-price version in force at their start), record
   how many periods of each placement are billed, mark ended placements billed and set each one's
   cost to what all its lines charged;
5. commit.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import AbstractContextManager
from decimal import Decimal
from itertools import islice
from typing import Any, Protocol

from suanli.market.auction import Trade
from suanli.market.billing import Billing, TermsBook, bill, invoice, payouts, unused_reservation_record
from suanli.market.invoice import InvoiceLine, MeterRecord
from suanli.market.ledger import PLATFORM_FEES, Transaction, provider_account
from suanli.market.money import ZERO, cents_to_money
from suanli.market.usage import due_periods, placement_records
from suanli.services.access import require
from suanli.services.errors import NotFound
from suanli.services.ids import new_id
from suanli.services.platform import Caller, Platform
from suanli.services.prices import price_history
from suanli.store.ledger import LedgerRepo  # noqa: F401  (registers uow.ledger)
from suanli.store.market import state_of


class LedgerStore(Protocol):
    """What billing needs from a ledger store. It keeps transactions with their postings, invoice
    lines, and - through the lines' unique meter ids - which meter records are billed. Writes
    happen inside ``writing()``, one atomic unit: either every row of a batch is stored or none is.
    ``writing()`` also serialises writers, so the "already billed?" check and the insert of a batch
    cannot interleave with another writer's."""

    def writing(self) -> AbstractContextManager[None]:
        """One atomic, exclusive write unit."""

    def billed(self, meter_ids: Sequence[str]) -> set[str]:
        """Which of these meter records are already billed."""

    def record_billing(self, billing: Billing) -> None:
        """Store a billing result's lines and transaction (inside ``writing()``)."""

    def try_record_billing(self, billing: Billing) -> bool:
        """Like ``record_billing``, but if a meter record of it is already billed store nothing
        and return False (inside ``writing()``)."""

    def post(self, tx: Transaction) -> None:
        """Store a transaction (inside ``writing()``)."""

    def balances(self) -> dict[str, Decimal]:
        """Balance per account, summed from the postings."""

    def invoice_lines(self, tenant: str | None = None, start: float = float("-inf"),
                      end: float = float("inf")) -> list[InvoiceLine]:
        """Stored lines of a tenant (or all) whose usage started in ``[start, end)``."""

    def transactions(self) -> Iterable[Transaction]:
        """Every stored transaction with its postings."""


def bill_batch(store: LedgerStore, records: Sequence[MeterRecord], book: TermsBook, *, batch_id: str, at: float,
               after_pricing: Callable[[Billing], None] | None = None) -> Billing:
    """Price and post one batch (see the module docstring)."""
    with store.writing():
        result = bill(records, book, batch_id=batch_id, at=at)                            # 1
        if after_pricing is not None:                                                     # 2
            after_pricing(result)
        if len(result.columns) and not store.try_record_billing(result):                         # 3
            already = store.billed([r.id for r in records])                               # 4
            result = bill(records, book, already_billed=already, batch_id=batch_id, at=at)
            if len(result.columns):
                store.record_billing(result)
    return result                                                                         # 5


def batches(records: Iterable[MeterRecord], size: int) -> Iterator[list[MeterRecord]]:
    it = iter(records)
    while chunk := list(islice(it, size)):
        yield chunk


def bill_all(store: LedgerStore, records: Iterable[MeterRecord], book: TermsBook, *, run_id: str, at: float,
             batch_size: int = 10_000) -> int:
    """Bill a stream of records in batches ``<run_id>-<n>``; returns how many lines were new."""
    new = 0
    for n, chunk in enumerate(batches(records, batch_size)):
        new += len(bill_batch(store, chunk, book, batch_id=f"{run_id}-{n}", at=at).columns)
    return new


def _trade(t: dict[str, Any]) -> Trade:
    return Trade(t["id"], t["bid_id"], t["ask_id"], t["buyer"], t["seller"], Decimal(t["qty"]), Decimal(t["price"]),
                 t["grade"], t["region"], t["pool"], t["contract"])


def bill_ended(p: Platform, *, limit: int = 1000, after_pricing: Callable[[Billing], None] | None = None,
               now: float | None = None) -> dict[str, Any]:
    """Bill the usage due since the last run (see the module docstring). Returns counts."""
    now = p.now() if now is None else now
    with p.uow() as uow:
        uow.ledger.lock_for_billing()
        history = price_history(p, uow)
        rows = uow.ledger.placements_to_meter(now, p.settings.meter_s, limit)             # 1
        ended_res = [r for r in uow.market.reservations(status="open") if r["end"] <= now]
        if not rows and not ended_res:
            return {"placements": 0, "lines": 0}
        sites = {s["name"]: s for s in uow.federation.sites()}
        trades = {t["id"]: t for t in uow.market.trades(unused_only=True)}        # what can still be drawn
        reservations = {r["id"]: r for r in uow.market.reservations(status="open")}
        states = {rid: state_of(r) for rid, r in reservations.items()}
        used = {tid: Decimal(t["used"]) for tid, t in trades.items()}
        records: list[MeterRecord] = []
        marks: dict[str, int] = {}
        for row in rows:                                                                   # 2
            acc = p.catalog.get(row["accelerator"])
            ended = row["ended_at"] is not None
            periods = due_periods(float(row["started_at"]), float(row["ended_at"]) if ended else now, ended=ended,
                                  period_s=p.settings.meter_s, done=int(row["periods"]), fp16_tflops=acc.fp16_tflops,
                                  count=int(row["count"]), total_pf16h=float(row["pf16h"] or 0.0))
            for period in periods:        # each period's grade under the rules in force when it started
                grade = history.book_at(period.start).grades.grade_of(acc)
                records += placement_records(grade, row, sites.get(row["site"], {}), trades, used, states, now,
                                             period)
            if periods:
                marks[row["id"]] = periods[-1].n + 1
        for r in ended_res:                                                                # 3
            records.append(unused_reservation_record(states[r["id"]]))
        terms = TermsBook(history.book_at(now), reservations={rid: s.contract for rid, s in states.items()},
                          trades={tid: _trade(t) for tid, t in trades.items()}, history=history)
        ended_rows = [r["id"] for r in rows if r["ended_at"] is not None]
        uow.ledger.mark_billed(ended_rows, now)
        uow.ledger.set_meter_marks(marks)
        result = bill_batch(uow.ledger, records, terms, batch_id=new_id("bill"), at=now,   # 4
                            after_pricing=after_pricing)
        _set_billed_cost(uow, [r for r in rows if r["ended_at"] is not None])
        for tid, u in used.items():
            if u != Decimal(trades[tid]["used"]):
                uow.market.set_trade_used(tid, u)
        ended_ids = {r["id"] for r in ended_res}
        for rid, s in states.items():
            if s.used != Decimal(reservations[rid]["used"]) or rid in ended_ids:
                uow.market.update_reservation(rid, used=s.used,
                                              **({"status": "settled"} if rid in ended_ids else {}))
        uow.audit.record(now, "scheduler", "operator", "billing.run",
                         result.transaction.id if result.transaction else "-", placements=len(rows),
                         ended=len(ended_rows), lines=len(result.columns))
    return {"placements": len(rows), "lines": len(result.columns)}                         # 5


def _set_billed_cost(uow: Any, ended: list[dict[str, Any]]) -> None:
    """An ended placement billed to its end costs what all its invoice lines charged (usage reads it)."""
    if not ended:
        return
    cents = {r["id"]: 0 for r in ended}
    for meter_id, amount in uow.ledger.job_line_amounts(sorted({r["job_id"] for r in ended})):
        pid = meter_id.split(":", 1)[0]
        if pid in cents:
            cents[pid] += amount
    for pid, c in cents.items():
        uow.jobs.update_placement(pid, cost=cents_to_money(c))


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
        lines = uow.ledger.invoice_lines(tenant, start, end)
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
        lines = uow.ledger.invoice_lines()
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
        b = uow.ledger.balances()
    return {"balances": dict(sorted(b.items())), "sum": sum(b.values(), ZERO), "fees": b.get(PLATFORM_FEES, ZERO)}



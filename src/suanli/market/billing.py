"""Billing: meter records -> priced invoice lines -> one balanced ledger transaction per batch;
invoices per tenant and period; payouts per provider; budgets. The values (``MeterRecord``,
``Terms``, ``InvoiceLine``) and the one-record pricing rule (``price_record``) are in
``suanli.market.invoice``; this module finds terms, bills batches and reads lines back.

1. A **meter record** is measured usage of one job (or one reservation's unused commitment).
2. Its **terms** come from the contract it ran under (``TermsBook.terms_for``): on-demand at the
   operator's list price, paid to the provider; reserved at the contract price, paid to the
   provider holding it; spot at the trade's clearing price, paid to the trade's seller (a
   provider, or a tenant reselling reserved compute).
3. A **line** prices it (``invoice.price_record``): ``amount = round_money(pf16h x price)``, ``fee = round_money(amount x
   fee_rate)`` (computed on exact fixed-point integers and rounded by ``money.round_units``, the
   same half-even rule); if the site failed the job through its own fault (SLA) the line also carries a
   ``credit = amount`` back to the tenant, borne by the provider that ran it (who still pays the
   platform's fee).
4. Per line the postings are: tenant ``-amount + credit``, payee ``+amount - fee``, provider
   ``-credit``, ``platform:fees`` ``+fee`` - they sum to zero. A batch's transaction adds the lines'
   postings up per account (no rounding after step 3).
5. ``bill`` prices a whole batch at once on numpy arrays (``suanli.market.batch``), with results
   equal to ``price_record`` record by record (property-tested).

Invariants: billing is idempotent per meter record id (``bill`` is given the ids already billed
and skips them and in-batch duplicates); the sum of a tenant's invoice lines equals minus its
postings; every transaction sums to zero.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from functools import cached_property

from suanli.domain.errors import InvalidInput
from suanli.market.auction import Trade
from suanli.market.batch import LineColumns, batch_postings, price_batch
from suanli.market.catalog import PriceBook, Term
from suanli.market.invoice import InvoiceLine, MeterRecord, Terms
from suanli.market.ledger import Transaction, provider_account, transaction
from suanli.market.money import QTY_EXP, RATE_SCALE, ZERO, cents_to_money, round_money
from suanli.market.pricing import PriceHistory, unit_price
from suanli.market.reserved import ReservationState, ReservedContract, unused_record_fields


def unused_reservation_record(state: ReservationState) -> MeterRecord:
    """The record that charges a reservation's undrawn quantity at window end."""
    return MeterRecord(**unused_record_fields(state))  # type: ignore[arg-type]


@dataclass(frozen=True)
class TermsBook:
    """Where records' prices come from: the price book, reservations and spot trades by id.
    Terms are memoised (a pure cache: same inputs, same terms)."""

    prices: PriceBook
    reservations: Mapping[str, ReservedContract] = field(default_factory=dict)
    trades: Mapping[str, Trade] = field(default_factory=dict)
    history: PriceHistory | None = None     # list-price versions; None: ``prices`` in force forever
    _memo: dict[tuple[object, ...], Terms] = field(default_factory=dict, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.history is None:
            object.__setattr__(self, "history", PriceHistory.of(self.prices))

    def terms_for(self, r: MeterRecord) -> Terms:
        if r.term is Term.ON_DEMAND:
            assert self.history is not None
            version = self.history.version_at(r.start).version if len(self.history.versions) > 1 else 0
            key: tuple[object, ...] = (r.term, r.product_class, r.grade, r.provider, version)
        else:
            key = (r.term, r.contract, r.tenant)
        terms = self._memo.get(key)
        if terms is None:
            terms = self._memo[key] = self._terms(r)
        return terms

    def _terms(self, r: MeterRecord) -> Terms:
        """The record's price is ``pricing.unit_price``: the one price of a job."""
        assert self.history is not None
        contract: ReservedContract | Trade | None = None
        payee = provider_account(r.provider)
        if r.term is Term.RESERVED:
            contract = self.reservations.get(r.contract)
            if contract is None or contract.tenant != r.tenant:
                raise InvalidInput("no such reservation for this tenant", field="meter.contract", value=r.contract,
                                   fix="bill reserved usage against the tenant's own reservation")
            payee = provider_account(contract.provider)
        elif r.term is Term.SPOT:
            contract = self.trades.get(r.contract)
            if contract is None or contract.buyer != r.tenant:
                raise InvalidInput("no such spot trade for this tenant", field="meter.contract", value=r.contract,
                                   fix="bill spot usage against a trade the tenant bought")
            payee = contract.seller
        price = unit_price(self.history, grade=r.grade, product_class=r.product_class, term=r.term, at=r.start,
                           contract=contract)
        return Terms(r.term, contract.id if contract is not None else "", price, payee)


def fee_units(book: TermsBook) -> int:
    return int(book.prices.fee_rate * RATE_SCALE)


@dataclass(frozen=True)
class Billing:
    """The result of billing a batch: the new lines (as columns; ``lines`` builds the tuples),
    their transaction (None if no money moves) and the ids skipped as already billed."""

    columns: LineColumns
    transaction: Transaction | None
    skipped: tuple[str, ...]

    @cached_property
    def lines(self) -> tuple[InvoiceLine, ...]:
        return self.columns.lines()


def bill(records: Iterable[MeterRecord], book: TermsBook, *, already_billed: Collection[str] = (),
         batch_id: str, at: float) -> Billing:
    """Price the records not billed yet and post them as one transaction ``batch_id``.

    1. Skip records already billed, and repeats of an id within the batch (first one wins).
    2. Find each record's terms; price them all at once (``batch.price_batch``, equal to
       ``price_record`` per record).
    3. Add the lines' postings up per account into one balanced transaction."""
    records = list(records)
    ids = [r.id for r in records]
    billed = set(already_billed)
    skipped: list[str] = []
    if not billed.isdisjoint(ids) or len(set(ids)) != len(ids):                   # 1
        fresh = []
        for r in records:
            if r.id in billed:
                skipped.append(r.id)
            else:
                billed.add(r.id)
                fresh.append(r)
        records = fresh
    terms = list(map(book.terms_for, records))                                     # 2
    cols = price_batch(records, terms, fee_units(book))
    moved = {a: cents_to_money(c) for a, c in sorted(batch_postings(cols).items()) if c != 0}   # 3
    # a batch whose lines all price to zero moves no money: its lines are still recorded
    tx = transaction(batch_id, at, f"billing {len(cols)} meter records", moved) if moved else None
    return Billing(cols, tx, tuple(skipped))


@dataclass(frozen=True)
class Invoice:
    tenant: str
    start: float
    end: float
    lines: tuple[InvoiceLine, ...]

    @property
    def pf16h(self) -> Decimal:
        return Decimal(sum(x.pf16h_units for x in self.lines)).scaleb(-QTY_EXP)

    @property
    def charges(self) -> Decimal:
        return cents_to_money(sum(x.amount_cents for x in self.lines))

    @property
    def credits(self) -> Decimal:
        return cents_to_money(sum(x.credit_cents for x in self.lines))

    @property
    def total(self) -> Decimal:
        """Charges minus credits: exactly the sum of the lines' ``due``."""
        return self.charges - self.credits


def invoice(lines: Iterable[InvoiceLine], tenant: str, start: float, end: float) -> Invoice:
    """The tenant's lines whose usage started in ``[start, end)``, in time then id order."""
    mine = sorted((x for x in lines if x.tenant == tenant and start <= x.start < end),
                  key=lambda x: (x.start, x.meter_id))
    return Invoice(tenant, start, end, tuple(mine))


def payouts(lines: Iterable[InvoiceLine]) -> dict[str, Decimal]:
    """Net earnings per payee account (providers, and tenants reselling): sales net of fees, minus
    SLA credits borne."""
    out: dict[str, int] = defaultdict(int)
    for x in lines:
        out[x.payee] += x.amount_cents - x.fee_cents
        if x.credit_cents:
            out[provider_account(x.provider)] -= x.credit_cents
    return {a: cents_to_money(c) for a, c in out.items()}


def budget_refusal(tenant: str, budget: Decimal | None, spent: Decimal, estimate: Decimal = ZERO) -> str | None:
    """Why a new placement is refused on budget, or None if it is allowed. ``spent`` is what the
    tenant has been charged (net of credits); ``estimate`` the placement's predicted cost."""
    if budget is None:
        return None
    if spent >= budget:
        return f"budget spent: tenant {tenant} has been charged {spent} of its budget {budget}"
    if spent + estimate > budget:
        return (f"over budget: this placement is estimated at {round_money(estimate)}, "
                f"tenant {tenant} has {budget - spent} of its budget {budget} left")
    return None

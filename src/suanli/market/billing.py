"""Billing: meter records -> priced invoice lines -> one balanced ledger transaction per batch;
invoices per tenant and period; payouts per provider; budgets.

1. A **meter record** is measured usage of one job (or one reservation's unused commitment).
2. Its **terms** come from the contract it ran under (``TermsBook.terms_for``): on-demand at the
   operator's list price, paid to the provider; reserved at the contract price, paid to the
   provider holding it; spot at the trade's clearing price, paid to the trade's seller (a
   provider, or a tenant reselling reserved compute).
3. A **line** prices it: ``amount = round_money(pf16h x price)``, ``fee = round_money(amount x
   fee_rate)``; if the site failed the job through its own fault (SLA) the line also carries a
   ``credit = amount`` back to the tenant, borne by the provider that ran it (who still pays the
   platform's fee).
4. Per line the postings are: tenant ``-amount + credit``, payee ``+amount - fee``, provider
   ``-credit``, ``platform:fees`` ``+fee`` - they sum to zero. A batch's transaction adds the lines'
   postings up per account (no rounding after step 3).

Invariants: billing is idempotent per meter record id (``bill`` is given the ids already billed
and skips them and in-batch duplicates); the sum of a tenant's invoice lines equals minus its
postings; every transaction sums to zero.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import NamedTuple

from suanli.domain.errors import InvalidInput
from suanli.market.auction import Trade
from suanli.market.catalog import PriceBook, ProductClass, Term
from suanli.market.ledger import PLATFORM_FEES, Transaction, provider_account, tenant_account, transaction
from suanli.market.money import ZERO, parse_quantity, round_money
from suanli.market.reserved import ReservationState, ReservedContract, unused_record_fields


@dataclass(frozen=True, slots=True)
class MeterRecord:
    """Usage of one job at one site: ``pf16h`` PF16-hours over ``seconds`` from ``start``."""

    id: str
    job: str
    tenant: str
    provider: str
    site: str
    grade: str
    region: str
    start: float
    seconds: float
    pf16h: Decimal
    energy_kwh: float = 0.0
    carbon_kg: float = 0.0
    product_class: ProductClass = ProductClass.GENERAL
    term: Term = Term.ON_DEMAND
    contract: str = ""
    sla_failed: bool = False

    def __post_init__(self) -> None:
        if not self.id:
            raise InvalidInput("a meter record needs an id", field="meter.id", value=self.id, fix="give an id")
        parse_quantity(self.pf16h, "meter.pf16h", positive=False)
        if self.seconds < 0:
            raise InvalidInput("seconds must be >= 0", field="meter.seconds", value=self.seconds,
                               fix="check the meter")
        if self.term is not Term.ON_DEMAND and not self.contract:
            raise InvalidInput(f"a {self.term.value} record must name its contract", field="meter.contract",
                               value=self.contract, fix="give the reservation or trade id")


def unused_reservation_record(state: ReservationState) -> MeterRecord:
    """The record that charges a reservation's undrawn quantity at window end."""
    return MeterRecord(**unused_record_fields(state))  # type: ignore[arg-type]


@dataclass(frozen=True, slots=True)
class Terms:
    term: Term
    contract: str
    price: Decimal
    payee: str


@dataclass(frozen=True)
class TermsBook:
    """Where records' prices come from: the price book, reservations and spot trades by id."""

    prices: PriceBook
    reservations: Mapping[str, ReservedContract] = field(default_factory=dict)
    trades: Mapping[str, Trade] = field(default_factory=dict)
    _memo: dict[tuple[str, str, str], Terms] = field(default_factory=dict, init=False, repr=False, compare=False)

    def terms_for(self, r: MeterRecord) -> Terms:
        if r.term is Term.ON_DEMAND:
            key = (r.product_class, r.grade, r.provider)
            terms = self._memo.get(key)
            if terms is None:
                price = self.prices.list_price(r.product_class, r.grade, Term.ON_DEMAND)
                terms = self._memo[key] = Terms(Term.ON_DEMAND, "", price, provider_account(r.provider))
            return terms
        if r.term is Term.RESERVED:
            c = self.reservations.get(r.contract)
            if c is None or c.tenant != r.tenant:
                raise InvalidInput("no such reservation for this tenant", field="meter.contract", value=r.contract,
                                   fix="bill reserved usage against the tenant's own reservation")
            return Terms(Term.RESERVED, c.id, c.price, provider_account(c.provider))
        t = self.trades.get(r.contract)
        if t is None or t.buyer != r.tenant:
            raise InvalidInput("no such spot trade for this tenant", field="meter.contract", value=r.contract,
                               fix="bill spot usage against a trade the tenant bought")
        return Terms(Term.SPOT, t.id, t.price, t.seller)


class InvoiceLine(NamedTuple):
    """One priced meter record (a NamedTuple: a billing run makes millions of them)."""

    meter_id: str
    tenant: str
    provider: str
    payee: str
    job: str
    site: str
    grade: str
    region: str
    start: float
    term: Term
    contract: str
    pf16h: Decimal
    unit_price: Decimal
    amount: Decimal
    fee: Decimal
    credit: Decimal

    @property
    def due(self) -> Decimal:
        """What the tenant pays for this line."""
        return self.amount - self.credit

    def postings(self) -> dict[str, Decimal]:
        out: dict[str, Decimal] = defaultdict(lambda: ZERO)
        out[tenant_account(self.tenant)] -= self.amount - self.credit
        out[self.payee] += self.amount - self.fee
        out[provider_account(self.provider)] -= self.credit
        out[PLATFORM_FEES] += self.fee
        return out


def price_record(r: MeterRecord, terms: Terms, fee_rate: Decimal) -> InvoiceLine:
    """Price one record under its terms (the only place billing rounds, via ``round_money``)."""
    amount = round_money(r.pf16h * terms.price)
    fee = round_money(amount * fee_rate)
    return InvoiceLine(r.id, r.tenant, r.provider, terms.payee, r.job, r.site, r.grade, r.region, r.start,
                       terms.term, terms.contract, r.pf16h, terms.price, amount, fee,
                       amount if r.sla_failed else ZERO)


@dataclass(frozen=True)
class Billing:
    """The result of billing a batch: new lines, their transaction (None if no line), skipped ids."""

    lines: tuple[InvoiceLine, ...]
    transaction: Transaction | None
    skipped: tuple[str, ...]


def bill(records: Iterable[MeterRecord], book: TermsBook, *, already_billed: Collection[str] = (),
         batch_id: str, at: float) -> Billing:
    """Price the records not billed yet and post them as one transaction ``batch_id``."""
    fee_rate = book.prices.fee_rate
    seen = set(already_billed)
    lines: list[InvoiceLine] = []
    skipped: list[str] = []
    totals: dict[str, Decimal] = defaultdict(lambda: ZERO)
    fees = ZERO
    for r in records:
        if r.id in seen:
            skipped.append(r.id)
            continue
        seen.add(r.id)
        x = price_record(r, book.terms_for(r), fee_rate)
        lines.append(x)
        # the postings of InvoiceLine.postings, accumulated without a dict per line
        totals["tenant:" + x.tenant] -= x.amount - x.credit
        totals[x.payee] += x.amount - x.fee
        if x.credit:
            totals["provider:" + x.provider] -= x.credit
        fees += x.fee
    totals[PLATFORM_FEES] += fees
    moved = {a: v for a, v in sorted(totals.items()) if v != 0}
    # a batch whose lines all price to zero moves no money: its lines are still recorded
    tx = transaction(batch_id, at, f"billing {len(lines)} meter records", moved) if moved else None
    return Billing(tuple(lines), tx, tuple(skipped))


@dataclass(frozen=True)
class Invoice:
    tenant: str
    start: float
    end: float
    lines: tuple[InvoiceLine, ...]

    @property
    def pf16h(self) -> Decimal:
        return sum((x.pf16h for x in self.lines), ZERO)

    @property
    def charges(self) -> Decimal:
        return sum((x.amount for x in self.lines), ZERO)

    @property
    def credits(self) -> Decimal:
        return sum((x.credit for x in self.lines), ZERO)

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
    out: dict[str, Decimal] = defaultdict(lambda: ZERO)
    for x in lines:
        out[x.payee] += x.amount - x.fee
        if x.credit:
            out[provider_account(x.provider)] -= x.credit
    return dict(out)


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

"""The values billing is made of, and the rule that prices one meter record.

- ``MeterRecord``: measured usage of one job (or one reservation's unused commitment);
- ``Terms``: the price and payee it is billed under (found by ``billing.TermsBook``);
- ``InvoiceLine``: one priced record, exact fixed-point integers, with its ledger postings;
- ``price_record``: ``amount = round_money(pf16h x price)``, ``fee = round_money(amount x
  fee_rate)``, ``credit = amount`` on an SLA failure.

``batch`` (prices many records at once) and ``billing`` (terms, batches, invoices) both build on
this module; it imports neither.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal
from typing import NamedTuple

from suanli.domain.errors import InvalidInput
from suanli.market.catalog import ProductClass, Term
from suanli.market.ledger import PLATFORM_FEES, provider_account, tenant_account
from suanli.market.money import (
    AMOUNT_DIVISOR,
    PRICE_EXP,
    QTY_EXP,
    RATE_SCALE,
    cents_to_money,
    parse_price,
    parse_quantity,
    round_units,
)


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
    pf16h_units: int = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not self.id:
            raise InvalidInput("a meter record needs an id", field="meter.id", value=self.id, fix="give an id")
        qty = parse_quantity(self.pf16h, "meter.pf16h", positive=False)
        object.__setattr__(self, "pf16h_units", int(qty.scaleb(QTY_EXP)))
        if self.seconds < 0:
            raise InvalidInput("seconds must be >= 0", field="meter.seconds", value=self.seconds,
                               fix="check the meter")
        if self.term is not Term.ON_DEMAND and not self.contract:
            raise InvalidInput(f"a {self.term.value} record must name its contract", field="meter.contract",
                               value=self.contract, fix="give the reservation or trade id")


@dataclass(frozen=True, slots=True)
class Terms:
    term: Term
    contract: str
    price: Decimal
    payee: str
    price_units: int = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "price_units", int(parse_price(self.price, "price").scaleb(PRICE_EXP)))


class InvoiceLine(NamedTuple):
    """One priced meter record. A NamedTuple holding exact fixed-point integers (a billing run
    makes millions of lines, and a store writes them as they are); read the money as ``Decimal``
    through ``amount``, ``fee``, ``credit``, ``due``, ``pf16h`` and ``unit_price``."""

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
    pf16h_units: int        # 10**-6 PF16-h
    price_units: int        # 10**-4 money per PF16-h
    amount_cents: int
    fee_cents: int
    credit_cents: int

    @property
    def pf16h(self) -> Decimal:
        return Decimal(self.pf16h_units).scaleb(-QTY_EXP)

    @property
    def unit_price(self) -> Decimal:
        return Decimal(self.price_units).scaleb(-PRICE_EXP)

    @property
    def amount(self) -> Decimal:
        return cents_to_money(self.amount_cents)

    @property
    def fee(self) -> Decimal:
        return cents_to_money(self.fee_cents)

    @property
    def credit(self) -> Decimal:
        return cents_to_money(self.credit_cents)

    @property
    def due(self) -> Decimal:
        """What the tenant pays for this line."""
        return cents_to_money(self.amount_cents - self.credit_cents)

    def postings(self) -> dict[str, Decimal]:
        out: dict[str, int] = defaultdict(int)
        out[tenant_account(self.tenant)] -= self.amount_cents - self.credit_cents
        out[self.payee] += self.amount_cents - self.fee_cents
        out[provider_account(self.provider)] -= self.credit_cents
        out[PLATFORM_FEES] += self.fee_cents
        return {a: cents_to_money(c) for a, c in out.items()}


def price_record(r: MeterRecord, terms: Terms, fee_units: int) -> InvoiceLine:
    """Price one record under its terms: ``amount = round_money(pf16h x price)``, ``fee =
    round_money(amount x fee_rate)``, computed exactly on integers (``fee_units`` is the fee rate in
    ``RATE_SCALE`` units) and rounded by ``money.round_units``."""
    amount = round_units(r.pf16h_units * terms.price_units, AMOUNT_DIVISOR)
    fee = round_units(amount * fee_units, RATE_SCALE)
    return InvoiceLine(r.id, r.tenant, r.provider, terms.payee, r.job, r.site, r.grade, r.region, r.start,
                       terms.term, terms.contract, r.pf16h_units, terms.price_units, amount, fee,
                       amount if r.sla_failed else 0)

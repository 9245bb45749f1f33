"""Billing a batch as columns: the fast form of pricing many meter records at once.

``price_batch`` prices a batch of records exactly as ``invoice.price_record`` prices one record:
``amount = round_money(pf16h x price)``, ``fee = round_money(amount x fee_rate)``, ``credit =
amount`` on an SLA failure. It does this on numpy int64 fixed-point arrays, rounded by
``money.round_units_array`` (the same half-even rule). A batch whose values could overflow int64
is priced record by record with ``price_record`` instead. Lines come out as ``LineColumns``: one
list per ``InvoiceLine`` field. A store writes the columns as rows without building a Python
object per line, and ``LineColumns.lines()`` builds the ``InvoiceLine``s when they are wanted.

Invariant (property-tested): for every batch, ``price_batch(...).lines()`` equals
``[price_record(r, terms_for(r), fee) for r in records]``, and ``batch_postings`` equals the sum
of the lines' postings.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from suanli.market.invoice import InvoiceLine, MeterRecord, Terms, price_record
from suanli.market.money import AMOUNT_DIVISOR, RATE_SCALE, round_units_array

_LIMIT = 2 ** 62          # int64 headroom for the products below


@dataclass(frozen=True)
class LineColumns:
    """Invoice lines as columns, in ``InvoiceLine`` field order."""

    meter_id: list[str]
    tenant: list[str]
    provider: list[str]
    payee: list[str]
    job: list[str]
    site: list[str]
    grade: list[str]
    region: list[str]
    start: list[float]
    term: list[Any]
    contract: list[str]
    pf16h_units: list[int]
    price_units: list[int]
    amount_cents: list[int]
    fee_cents: list[int]
    credit_cents: list[int]

    def __len__(self) -> int:
        return len(self.meter_id)

    def rows(self) -> Iterator[tuple[Any, ...]]:
        return zip(self.meter_id, self.tenant, self.provider, self.payee, self.job, self.site, self.grade,
                   self.region, self.start, self.term, self.contract, self.pf16h_units, self.price_units,
                   self.amount_cents, self.fee_cents, self.credit_cents, strict=True)

    def lines(self) -> tuple[InvoiceLine, ...]:
        return tuple(map(InvoiceLine._make, self.rows()))

    @classmethod
    def from_lines(cls, lines: Sequence[InvoiceLine]) -> LineColumns:
        if not lines:
            return cls(*([] for _ in range(16)))
        return cls(*(list(col) for col in zip(*lines, strict=True)))


def price_batch(records: Sequence[MeterRecord], terms: Sequence[Terms], fee_units: int) -> LineColumns:
    """Price ``records[i]`` under ``terms[i]``; ``invoice.price_record`` is the per-record
    definition, used when the batch would not fit in int64."""
    n = len(records)
    if n == 0:
        return LineColumns.from_lines([])
    units = [r.pf16h_units for r in records]
    prices = [t.price_units for t in terms]
    if max(units) * max(prices) * max(fee_units, 1) >= _LIMIT:
        return LineColumns.from_lines([price_record(r, t, fee_units) for r, t in zip(records, terms, strict=True)])
    qty = np.array(units, dtype=np.int64)
    price = np.array(prices, dtype=np.int64)
    amount = round_units_array(qty * price, AMOUNT_DIVISOR)
    fee = round_units_array(amount * fee_units, RATE_SCALE)
    sla = np.fromiter((r.sla_failed for r in records), dtype=bool, count=n)
    credit = np.where(sla, amount, 0)
    return LineColumns(
        meter_id=[r.id for r in records], tenant=[r.tenant for r in records],
        provider=[r.provider for r in records], payee=[t.payee for t in terms], job=[r.job for r in records],
        site=[r.site for r in records], grade=[r.grade for r in records], region=[r.region for r in records],
        start=[r.start for r in records], term=[t.term for t in terms], contract=[t.contract for t in terms],
        pf16h_units=units, price_units=prices, amount_cents=amount.tolist(), fee_cents=fee.tolist(),
        credit_cents=credit.tolist())


def _sum_by(keys: list[str], values: Sequence[int]) -> dict[str, int]:
    """Sum ``values`` per key, exactly."""
    index = {k: i for i, k in enumerate(dict.fromkeys(keys))}
    if len(values) and max(map(abs, (max(values), min(values)))) * len(values) < _LIMIT:
        codes = np.fromiter(map(index.__getitem__, keys), dtype=np.intp, count=len(keys))
        sums = np.zeros(len(index), dtype=np.int64)
        np.add.at(sums, codes, np.asarray(values, dtype=np.int64))
        return dict(zip(index, sums.tolist(), strict=True))
    out = dict.fromkeys(index, 0)
    for k, v in zip(keys, values, strict=True):
        out[k] += v
    return out


def batch_postings(cols: LineColumns) -> dict[str, int]:
    """The batch's postings in cents per account: the lines' ``InvoiceLine.postings`` added up."""
    due = [a - c for a, c in zip(cols.amount_cents, cols.credit_cents, strict=True)]
    earned = [a - f for a, f in zip(cols.amount_cents, cols.fee_cents, strict=True)]
    totals: dict[str, int] = {}
    for tenant, cents in _sum_by(cols.tenant, due).items():
        key = "tenant:" + tenant
        totals[key] = totals.get(key, 0) - cents
    for payee, cents in _sum_by(cols.payee, earned).items():
        totals[payee] = totals.get(payee, 0) + cents
    credited = [(p, c) for p, c in zip(cols.provider, cols.credit_cents, strict=True) if c]
    for provider, cents in _sum_by([p for p, _ in credited], [c for _, c in credited]).items():
        key = "provider:" + provider
        totals[key] = totals.get(key, 0) - cents
    totals["platform:fees"] = totals.get("platform:fees", 0) + sum(cols.fee_cents)
    return totals


"""One price for a job: the price per PF16-hour of running a job of some class on some pool, under
some term, at some time. Everything that prices a job calls ``unit_price`` (or ``pool_price``):
the scheduler's price score, price cap and budget estimate (through ``class_price_columns`` in the
snapshot), usage, invoices (``billing.TermsBook``) and the simulator.

- **On-demand**: the operator's list price of (product class, grade) in the price-book version in
  force at that time.
- **Reserved**: the reservation's contract price (fixed when it was bought).
- **Spot**: the trade's clearing price.

A preemptible job that won no spot trade runs, and is billed, on-demand. A site's
``price_per_pf16h`` is not a price a tenant pays: it is the provider's default ask on spot.

**Versions.** The operator changes list prices and grade rules through the API; each change is a
new ``PriceVersion`` in force from its time ``at``. ``PriceHistory.book_at(t)`` is the book in force
at ``t``. A meter record is priced at the version in force at its start, so a running placement
keeps the price it started at until its next (hourly) record.

Pure: values in, values out.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Protocol

from suanli.domain.accelerators import Accelerator
from suanli.domain.errors import InvalidInput
from suanli.market.catalog import (
    JOB_CLASS_TO_PRODUCT,
    PriceBook,
    Product,
    ProductClass,
    Term,
    product_class_of,
)


class Contract(Protocol):
    """A reservation or a spot trade: what it was bought at."""

    @property
    def price(self) -> Decimal: ...


@dataclass(frozen=True, slots=True)
class PriceVersion:
    """A price book in force from ``at`` (seconds UTC) until the next version."""

    version: int
    at: float
    book: PriceBook


@dataclass(frozen=True)
class PriceHistory:
    """Price-book versions in the order they came into force (version numbers ascending)."""

    versions: tuple[PriceVersion, ...]

    def __post_init__(self) -> None:
        if not self.versions:
            raise InvalidInput("a price history needs a version", field="versions", value=[],
                               fix="start from the prices file")
        ats = [v.at for v in self.versions]
        if ats != sorted(ats) or len({v.version for v in self.versions}) != len(self.versions):
            raise InvalidInput("price versions must be in force in order, each with its own number",
                               field="versions", value=[(v.version, v.at) for v in self.versions],
                               fix="append each new version with a later time")
        object.__setattr__(self, "_ats", ats)

    @classmethod
    def of(cls, book: PriceBook) -> PriceHistory:
        """One version, in force forever (the prices file)."""
        return cls((PriceVersion(0, float("-inf"), book),))

    @property
    def current(self) -> PriceVersion:
        return self.versions[-1]

    def version_at(self, at: float) -> PriceVersion:
        """The version in force at ``at`` (the first one for times before any change)."""
        if len(self.versions) == 1:
            return self.versions[0]
        i = bisect_right(self._ats, at) - 1   # type: ignore[attr-defined]
        return self.versions[max(i, 0)]

    def book_at(self, at: float) -> PriceBook:
        return self.version_at(at).book

    def then(self, version: int, at: float, book: PriceBook) -> PriceHistory:
        """This history with ``book`` in force from ``at``."""
        return PriceHistory((*self.versions, PriceVersion(version, at, book)))


def unit_price(prices: PriceHistory, *, grade: str, product_class: ProductClass | str, term: Term | str,
               at: float, contract: Contract | None = None) -> Decimal:
    """The price per PF16-hour of ``product_class`` work on a ``grade`` chip under ``term`` at ``at``:
    on-demand at the list price then in force; reserved and spot at their contract's price."""
    term = Term(term)
    if term is Term.ON_DEMAND:
        return prices.book_at(at).list_price(product_class, grade, Term.ON_DEMAND)
    if contract is None:
        raise InvalidInput(f"a {term.value} price needs its contract", field="contract", value=None,
                           fix="give the reservation or the spot trade")
    return contract.price


def pool_price(prices: PriceHistory, acc: Accelerator, job_class: str, *, at: float,
               term: Term | str = Term.ON_DEMAND, contract: Contract | None = None) -> Decimal:
    """``unit_price`` for a job class on a pool's chip (its grade in the version in force at ``at``)."""
    grade = prices.book_at(at).grades.grade_of(acc)
    return unit_price(prices, grade=grade, product_class=product_class_of(job_class), term=term, at=at,
                      contract=contract)


def class_price_columns(prices: PriceHistory, accelerators: Sequence[Accelerator], at: float,
                        job_classes: Iterable[str] = JOB_CLASS_TO_PRODUCT) -> Mapping[str, list[float]]:
    """Per job class, the on-demand price per PF16-hour of each pool (given by its chip) at ``at``:
    what the scheduler's price score, price cap and budget estimate compare against."""
    book = prices.book_at(at)
    grades = [book.grades.grade_of(a) for a in accelerators]
    out: dict[str, list[float]] = {}
    for job_class in job_classes:
        pc = product_class_of(job_class)
        out[job_class] = [float(book.list_price(pc, g, Term.ON_DEMAND)) for g in grades]
    return out


def missing_prices(book: PriceBook) -> list[str]:
    """Products a complete book must price (on-demand and reserved of every class and grade) that
    ``book`` does not."""
    return [f"{c.value}/{g}/{t.value}" for c in ProductClass for g in book.grades.grades
            for t in (Term.ON_DEMAND, Term.RESERVED)
            if Product(c, g, t) not in book.list_prices]


"""The product catalog: grades from accelerator capability, products, list prices, the platform
fee and providers' asks per pool.

- A **grade** is derived from an accelerator's dense FP16 TFLOPS and memory by ordered rules
  (data: ``suanli/data/market/grades.yaml``); the first rule whose minimums the chip meets wins.
  A rule set must end with a rule that matches everything, so every chip has a grade.
- A **product** is class x grade x term. Classes: train, infer, general; job classes map onto
  them (train, finetune -> train; infer -> infer; batch -> general).
- **List prices** (money per PF16-hour) are set by the operator per product; spot has none (its
  price is cleared by auction) unless the operator sets a reference.
- **Asks**: a provider posts, per pool, a price per PF16-hour and a minimum quantity per trade.

Invariants: prices are ``Decimal`` >= 0; the fee rate is in [0, 1); grade names are unique.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from enum import Enum

from suanli.domain.accelerators import Accelerator
from suanli.domain.errors import InvalidInput, UnknownName
from suanli.market.money import parse_price, parse_quantity, parse_rate


class ProductClass(str, Enum):
    TRAIN = "train"
    INFER = "infer"
    GENERAL = "general"

    # Hash as the value, consistent with ``==`` on the value (and a C call, not Enum's Python one:
    # billing hashes these for every meter record).
    __hash__ = str.__hash__


class Term(str, Enum):
    ON_DEMAND = "on-demand"
    RESERVED = "reserved"
    SPOT = "spot"

    __hash__ = str.__hash__


JOB_CLASS_TO_PRODUCT: dict[str, ProductClass] = {
    "train": ProductClass.TRAIN,
    "finetune": ProductClass.TRAIN,
    "infer": ProductClass.INFER,
    "batch": ProductClass.GENERAL,
    "general": ProductClass.GENERAL,
}


def product_class_of(job_class: str) -> ProductClass:
    """The product class a job class is sold as."""
    key = str(getattr(job_class, "value", job_class)).lower()
    if key not in JOB_CLASS_TO_PRODUCT:
        raise UnknownName("job class", str(job_class), list(JOB_CLASS_TO_PRODUCT), field="class")
    return JOB_CLASS_TO_PRODUCT[key]


@dataclass(frozen=True, slots=True)
class GradeRule:
    """A chip is of grade ``grade`` if it has at least these dense FP16 TFLOPS and GB of memory."""

    grade: str
    min_fp16_tflops: float = 0.0
    min_memory_gb: float = 0.0
    description: str = ""

    def matches(self, acc: Accelerator) -> bool:
        return acc.fp16_tflops >= self.min_fp16_tflops and acc.memory_gb >= self.min_memory_gb


@dataclass(frozen=True)
class GradeRules:
    """Ordered grade rules; the first match wins; the last rule must match every chip."""

    rules: tuple[GradeRule, ...]

    def __post_init__(self) -> None:
        if not self.rules:
            raise InvalidInput("no grade rules", field="grades", value=[], fix="add at least one rule")
        names = [r.grade for r in self.rules]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise InvalidInput("grade names must be unique", field="grades", value=dupes,
                               fix="give each rule its own grade name")
        last = self.rules[-1]
        if last.min_fp16_tflops > 0 or last.min_memory_gb > 0:
            raise InvalidInput("the last grade rule must match every accelerator", field="grades",
                               value=last.grade, fix="set its minimums to 0 (a catch-all entry grade)")

    @property
    def grades(self) -> tuple[str, ...]:
        return tuple(r.grade for r in self.rules)

    def grade_of(self, acc: Accelerator) -> str:
        for rule in self.rules:
            if rule.matches(acc):
                return rule.grade
        raise AssertionError("unreachable: the last rule matches everything")  # pragma: no cover

    def check(self, grade: str, field: str = "grade") -> str:
        if grade not in self.grades:
            raise UnknownName("grade", grade, list(self.grades), field=field)
        return grade


@dataclass(frozen=True, slots=True)
class Product:
    product_class: ProductClass
    grade: str
    term: Term

    @property
    def key(self) -> str:
        """``class/grade/term``, e.g. ``train/top/on-demand``."""
        return f"{self.product_class.value}/{self.grade}/{self.term.value}"


@dataclass(frozen=True, slots=True)
class PoolAsk:
    """A provider's standing ask for one pool: price per PF16-hour and minimum quantity per trade."""

    provider: str
    site: str
    pool: str
    grade: str
    region: str
    price: Decimal
    min_qty: Decimal = Decimal(0)

    def __post_init__(self) -> None:
        parse_price(self.price, "ask.price")
        parse_quantity(self.min_qty, "ask.min_qty", positive=False)


@dataclass(frozen=True)
class PriceBook:
    """The operator's list prices per product, the platform fee rate and the providers' asks."""

    grades: GradeRules
    list_prices: Mapping[Product, Decimal]
    fee_rate: Decimal = Decimal("0.1")
    asks: tuple[PoolAsk, ...] = field(default=())

    def __post_init__(self) -> None:
        rate = parse_rate(self.fee_rate, "fee_rate")
        if rate >= 1:
            raise InvalidInput("the platform fee must be below 1", field="fee_rate", value=self.fee_rate,
                               fix="write e.g. '0.1' for 10%")
        for product, price in self.list_prices.items():
            self.grades.check(product.grade, f"list_prices[{product.key}]")
            parse_price(price, f"list_prices[{product.key}]")
        for ask in self.asks:
            self.grades.check(ask.grade, "ask.grade")

    def products(self) -> list[Product]:
        """Every product (class x grade x term) in catalog order."""
        return [Product(c, g, t) for c in ProductClass for g in self.grades.grades for t in Term]

    def list_price(self, product_class: ProductClass | str, grade: str, term: Term | str) -> Decimal:
        """The operator's list price; ``InvalidInput`` naming the product if none is set."""
        product = Product(ProductClass(product_class), self.grades.check(grade), Term(term))
        if product not in self.list_prices:
            raise InvalidInput("no list price for this product", field="product", value=product.key,
                               fix="the operator sets it in the market prices file")
        return self.list_prices[product]

    def price_for(self, acc: Accelerator, job_class: str, term: Term | str = Term.ON_DEMAND) -> Decimal:
        """The list price per PF16-hour of running ``job_class`` work on ``acc`` (the scheduler's
        price score and a job's price cap compare against this)."""
        return self.list_price(product_class_of(job_class), self.grades.grade_of(acc), term)

    def asks_for(self, grade: str, region: str) -> list[PoolAsk]:
        return [a for a in self.asks if a.grade == grade and a.region == region]

    def with_asks(self, asks: Iterable[PoolAsk]) -> PriceBook:
        return PriceBook(self.grades, self.list_prices, self.fee_rate, tuple(asks))

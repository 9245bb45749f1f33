"""The one price of a job (``market.pricing``): the terms, the versions in force over time, the
scheduler's per-class columns. Expected prices are read by hand off ``data/market/prices.yaml``
(A100 is grade ``mid``, H100 ``top``, T4 ``entry``)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from suanli.config.market_file import load_price_book
from suanli.domain.accelerators import default_catalog
from suanli.domain.errors import InvalidInput
from suanli.market.auction import Trade
from suanli.market.catalog import Product, ProductClass, Term
from suanli.market.pricing import PriceHistory, class_price_columns, missing_prices, pool_price, unit_price
from suanli.market.reserved import ReservedContract

BOOK = load_price_book()
CAT = default_catalog()


def _with(price: str) -> PriceHistory:
    """The packaged book, then from t=100 train/mid/on-demand at ``price``."""
    prices = dict(BOOK.list_prices)
    prices[Product(ProductClass.TRAIN, "mid", Term.ON_DEMAND)] = Decimal(price)
    changed = type(BOOK)(BOOK.grades, prices, BOOK.fee_rate)
    return PriceHistory.of(BOOK).then(1, 100.0, changed)


@pytest.mark.parametrize(("chip", "job_class", "want"), [
    ("A100", "train", "28.00"), ("A100", "finetune", "28.00"), ("A100", "infer", "30.00"),
    ("A100", "batch", "25.00"), ("H100", "train", "20.00"), ("H100", "infer", "22.00"), ("T4", "batch", "11.00"),
])
def test_on_demand_is_the_list_price_of_the_jobs_class_and_the_chips_grade(chip: str, job_class: str,
                                                                          want: str) -> None:
    assert pool_price(PriceHistory.of(BOOK), CAT.get(chip), job_class, at=0.0) == Decimal(want)


def test_reserved_and_spot_are_their_contracts_price() -> None:
    h = PriceHistory.of(BOOK)
    res = ReservedContract("r1", "t", "p", "mid", "west", Decimal(1), 0.0, 10.0, Decimal("21.50"))
    trade = Trade("s1", "b", "a", "t", "provider:p", Decimal(1), Decimal("9.1234"), "mid", "west")
    assert unit_price(h, grade="mid", product_class="train", term=Term.RESERVED, at=5.0, contract=res) == \
        Decimal("21.50")
    assert unit_price(h, grade="mid", product_class="infer", term="spot", at=5.0, contract=trade) == \
        Decimal("9.1234")
    with pytest.raises(InvalidInput, match="contract"):
        unit_price(h, grade="mid", product_class="train", term=Term.SPOT, at=5.0)


@pytest.mark.parametrize(("at", "want"), [(-1e9, "28.00"), (99.999, "28.00"), (100.0, "35.00"), (1e12, "35.00")])
def test_the_version_in_force_at_a_time_prices_it(at: float, want: str) -> None:
    h = _with("35.00")
    assert unit_price(h, grade="mid", product_class="train", term="on-demand", at=at) == Decimal(want)
    assert unit_price(h, grade="mid", product_class="infer", term="on-demand", at=at) == Decimal("30.00")


def test_versions_must_come_into_force_in_order() -> None:
    with pytest.raises(InvalidInput, match="in order"):
        _with("35.00").then(2, 50.0, BOOK)


def test_the_schedulers_columns_are_per_class_per_pool() -> None:
    chips = [CAT.get("A100"), CAT.get("H100"), CAT.get("T4")]
    cols = class_price_columns(_with("35.00"), chips, at=200.0)
    assert cols["train"] == [35.0, 20.0, 14.0]
    assert cols["infer"] == [30.0, 22.0, 12.0]
    assert cols["batch"] == [25.0, 18.0, 11.0]


def test_a_book_missing_a_product_names_it() -> None:
    prices = {p: v for p, v in BOOK.list_prices.items() if p != Product(ProductClass.INFER, "top", Term.RESERVED)}
    assert missing_prices(type(BOOK)(BOOK.grades, prices, BOOK.fee_rate)) == ["infer/top/reserved"]
    assert missing_prices(BOOK) == []

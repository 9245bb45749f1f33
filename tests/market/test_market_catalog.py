"""Catalog: grades come from data rules; list prices and fee from the operator's file."""

from decimal import Decimal as D

import pytest

from suanli.config.market_file import load_grade_rules, load_price_book, parse_grade_rules, parse_price_book
from suanli.domain.accelerators import default_catalog
from suanli.domain.errors import ConfigError, InvalidInput, UnknownName
from suanli.market.catalog import PoolAsk, PriceBook, ProductClass, Term, product_class_of


@pytest.mark.parametrize("chip, grade", [
    ("H100", "top"), ("H800", "top"), ("H200", "top"), ("h100-pcie-80gb", "top"), ("B200", "top"),
    ("A100", "mid"), ("A800", "mid"), ("910B", "mid"), ("a100-sxm4-40gb", "mid"), ("L40S", "mid"),
    ("L20", "entry"), ("RTX4090", "entry"), ("T4", "entry"), ("V100", "entry"), ("H20", "entry"),
])
def test_packaged_grade_rules(chip, grade):
    assert load_grade_rules().grade_of(default_catalog().get(chip)) == grade


def test_every_catalog_chip_has_a_grade():
    rules = load_grade_rules()
    for acc_id in default_catalog().ids():
        assert rules.grade_of(default_catalog().get(acc_id)) in rules.grades


def test_grade_rules_are_data_first_match_wins():
    rules = parse_grade_rules("grades:\n - {grade: big, min_memory_gb: 90}\n - {grade: rest}\n")
    assert rules.grade_of(default_catalog().get("H200")) == "big"
    assert rules.grade_of(default_catalog().get("H100")) == "rest"


@pytest.mark.parametrize("text, field", [
    ("grades:\n - {grade: a, min_fp16_tflops: 10}\n", "grades"),            # no catch-all
    ("grades:\n - {grade: a}\n - {grade: a}\n", "grades"),                   # duplicate
    ("grades:\n - {grade: a, min_memory_gb: -1}\n", "grades[0].min_memory_gb"),
    ("grades:\n - {grade: a, colour: red}\n", "grades[0].colour"),
    ("grades: [", ""),
])
def test_bad_grade_files_name_the_file_and_field(text, field):
    with pytest.raises(ConfigError) as err:
        parse_grade_rules(text, "g.yaml")
    assert err.value.where == "g.yaml"
    assert err.value.field == field


def test_packaged_price_book():
    book = load_price_book()
    assert book.fee_rate == D("0.10")
    assert book.list_price("train", "mid", "on-demand") == D("28.00")
    assert book.price_for(default_catalog().get("A100"), "finetune") == D("28.00")
    assert book.price_for(default_catalog().get("H100"), "batch", Term.RESERVED) == D("13.50")
    assert len(book.products()) == 3 * 3 * 3
    with pytest.raises(InvalidInput, match="no list price"):
        book.list_price("train", "top", "spot")
    with pytest.raises(UnknownName):
        book.list_price("train", "gold", "on-demand")


@pytest.mark.parametrize("text, field", [
    ("fee_rate: '0.1'\nlist_prices: {train: {top: {on-demand: 12.5}}}", "list_prices.train.top.on-demand"),
    ("fee_rate: '0.1'\nlist_prices: {train: {gold: {on-demand: '1'}}}", "list_prices.train.gold"),
    ("fee_rate: '0.1'\nlist_prices: {cook: {top: {on-demand: '1'}}}", "list_prices.cook.class"),
    ("fee_rate: 0.1\nlist_prices: {}", "fee_rate"),
    ("fee_rate: '1'\nlist_prices: {}", "fee_rate"),
])
def test_bad_price_files(text, field):
    with pytest.raises(ConfigError) as err:
        parse_price_book(text, load_grade_rules(), "p.yaml")
    assert err.value.field == field and err.value.where == "p.yaml"


def test_job_classes_map_to_product_classes():
    assert product_class_of("finetune") is ProductClass.TRAIN
    assert product_class_of("batch") is ProductClass.GENERAL
    with pytest.raises(UnknownName):
        product_class_of("mining")


def test_pool_asks_are_checked():
    rules = load_grade_rules()
    ask = PoolAsk("acme", "sh-1", "a100", "mid", "shanghai", D("9.5"), D("1"))
    book = PriceBook(rules, {}, D("0.05"), (ask,))
    assert book.asks_for("mid", "shanghai") == [ask]
    with pytest.raises(UnknownName):
        PriceBook(rules, {}, D("0.05"), (PoolAsk("acme", "s", "p", "gold", "r", D("1")),))
    with pytest.raises(InvalidInput):
        PoolAsk("acme", "s", "p", "mid", "r", 9.5)  # type: ignore[arg-type]

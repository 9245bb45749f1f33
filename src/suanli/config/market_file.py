"""Market files: grade rules and the operator's list prices (YAML), parsed into market values.

``grades.yaml``::

    grades:
      - {grade: top, min_fp16_tflops: 700, min_memory_gb: 80, description: "..."}
      - {grade: entry, min_fp16_tflops: 0, min_memory_gb: 0}

``prices.yaml``::

    currency: CNY
    fee_rate: "0.10"
    list_prices:
      train:
        top: {on-demand: "20.00", reserved: "15.00"}

Prices and the fee are decimal strings (or integers); floats are refused because they are not
exact. Packaged defaults live in ``suanli/data/market/``. Every error is a ``ConfigError``
naming the file, the field, the value and the fix.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from suanli.config import fields as f
from suanli.domain.errors import ConfigError, InvalidInput
from suanli.market.catalog import GradeRule, GradeRules, PriceBook, Product, ProductClass, Term
from suanli.market.money import parse_price, parse_rate


def _packaged(name: str) -> tuple[str, str]:
    text = resources.files("suanli.data").joinpath("market", name).read_text(encoding="utf-8")
    return text, f"<packaged market/{name}>"


def _read(path: str | Path | None, default: str) -> tuple[str, str]:
    if path is None:
        return _packaged(default)
    p = Path(path)
    if not p.exists():
        raise ConfigError("file not found", field="file", value=str(p), fix=f"give a path to a {default}")
    return p.read_text(encoding="utf-8"), str(p)


def _load(text: str, where: str) -> Any:
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(f"is not valid YAML ({exc})", where=where, fix="check indentation and quoting") from None


def _located(exc: InvalidInput, where: str) -> ConfigError:
    return ConfigError(exc.problem, field=exc.field, value=exc.value, fix=exc.fix, where=where)


def parse_grade_rules(text: str, where: str = "<grades>") -> GradeRules:
    try:
        doc = f.mapping(_load(text, where), "")
        f.check_keys(doc, "", ("grades",))
        rules = []
        for i, item in enumerate(f.items(doc, "grades", "")):
            at = f.path("grades", i)
            m = f.mapping(item, at)
            f.check_keys(m, at, ("grade", "min_fp16_tflops", "min_memory_gb", "description"))
            rules.append(GradeRule(grade=f.text(m, "grade", at),
                                   min_fp16_tflops=f.number(m, "min_fp16_tflops", at, 0.0, minimum=0),
                                   min_memory_gb=f.number(m, "min_memory_gb", at, 0.0, minimum=0),
                                   description=str(f.get(m, "description", at, ""))))
        return GradeRules(tuple(rules))
    except ConfigError:
        raise
    except InvalidInput as exc:
        raise _located(exc, where) from None


def load_grade_rules(path: str | Path | None = None) -> GradeRules:
    """Grade rules from ``path``, or the packaged ``grades.yaml``."""
    return parse_grade_rules(*_read(path, "grades.yaml"))


def parse_price_book(text: str, grades: GradeRules, where: str = "<prices>") -> PriceBook:
    try:
        doc = f.mapping(_load(text, where), "")
        f.check_keys(doc, "", ("currency", "fee_rate", "list_prices"))
        fee = parse_rate(f.get(doc, "fee_rate", "", "0.1"), "fee_rate")
        prices: dict[Product, Decimal] = {}
        table = f.mapping(f.get(doc, "list_prices", ""), "list_prices")
        for cls_name, by_grade in table.items():
            at = f.path("list_prices", str(cls_name))
            cls = f.choice({"class": cls_name}, "class", at, ProductClass)
            for grade, by_term in f.mapping(by_grade, at).items():
                gat = f.path(at, str(grade))
                grades.check(str(grade), gat)
                for term_name, price in f.mapping(by_term, gat).items():
                    tat = f.path(gat, str(term_name))
                    term = f.choice({"term": term_name}, "term", tat, Term)
                    prices[Product(cls, str(grade), term)] = parse_price(price, tat)
        return PriceBook(grades=grades, list_prices=prices, fee_rate=fee)
    except ConfigError:
        raise
    except InvalidInput as exc:
        raise _located(exc, where) from None


def load_price_book(path: str | Path | None = None, grades: GradeRules | None = None) -> PriceBook:
    """List prices and fee from ``path``, or the packaged ``prices.yaml``, over ``grades``."""
    text, where = _read(path, "prices.yaml")
    return parse_price_book(text, grades or load_grade_rules(), where)


def packaged_market() -> Mapping[str, Any]:
    """The packaged grade rules and price book."""
    grades = load_grade_rules()
    return {"grades": grades, "prices": load_price_book(None, grades)}

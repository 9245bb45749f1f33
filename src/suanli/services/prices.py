"""The operator's list prices and grade rules over time: the price history every pricing reads, and
the use case that changes it (``PUT /v1/market/prices``, ``suanli market set-price``).

- Version 0 is the prices file (``data/market/prices.yaml`` and ``grades.yaml``, or the files named by
  ``SUANLI_MARKET_PRICES`` / ``SUANLI_MARKET_GRADES``), in force until the first change.
- ``set_prices`` stores version n+1, in force from now, with an audit record naming the version
  and the prices that changed. Versions are never edited or deleted.
- ``price_history`` is what pricing reads (``market.pricing``): cached per process and reloaded
  when the store has a newer version (one small query per call).

The fee rate is set by the prices file only; a change keeps it.
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

from suanli.config.market_file import load_grade_rules, load_price_book, parse_grade_rules, parse_price_book
from suanli.domain.errors import InvalidInput
from suanli.market.catalog import PriceBook, Product
from suanli.market.pricing import PriceHistory, missing_prices
from suanli.services.access import require
from suanli.services.platform import Caller, Platform
from suanli.store.market import state_of  # noqa: F401  (importing it registers uow.market)
from suanli.store.uow import UnitOfWork


def _file_book(p: Platform) -> PriceBook:
    return load_price_book(p.settings.market_prices, load_grade_rules(p.settings.market_grades))


def document(book: PriceBook) -> dict[str, Any]:
    """A book as the JSON the store keeps and the API takes: decimal strings, as in the YAML files."""
    prices: dict[str, dict[str, dict[str, str]]] = {}
    for prod, price in book.list_prices.items():
        prices.setdefault(prod.product_class.value, {}).setdefault(prod.grade, {})[prod.term.value] = str(price)
    return {"fee_rate": str(book.fee_rate),
            "grades": [{"grade": r.grade, "min_fp16_tflops": r.min_fp16_tflops, "min_memory_gb": r.min_memory_gb,
                        "description": r.description} for r in book.grades.rules],
            "list_prices": prices}


def _book(doc: dict[str, Any], where: str) -> PriceBook:
    grades = parse_grade_rules(json.dumps({"grades": doc["grades"]}), where)
    return parse_price_book(json.dumps({"fee_rate": doc["fee_rate"], "list_prices": doc["list_prices"]}), grades,
                            where)


def price_history(p: Platform, uow: UnitOfWork) -> PriceHistory:
    """The list-price versions, oldest first (version 0: the prices file)."""
    last = uow.market.last_price_version()
    hit = p.cache.price_book
    if hit is not None and hit[0] == last:
        return hit[1]  # type: ignore[no-any-return]
    history = PriceHistory.of(_file_book(p))
    for row in uow.market.price_versions():
        history = history.then(row["version"], row["at"], _book(json.loads(row["document"]),
                                                                f"price version {row['version']}"))
    p.cache.price_book = (last, history)
    return history


def price_book(p: Platform, uow: UnitOfWork | None = None) -> PriceBook:
    """The book in force now."""
    if uow is None:
        with p.read() as r:
            return price_history(p, r).book_at(p.now())
    return price_history(p, uow).book_at(p.now())


def set_prices(p: Platform, caller: Caller, *, list_prices: Any = None, grades: Any = None) -> dict[str, Any]:
    """A new version: ``grades`` (the whole ordered rule list) replaces the rules; ``list_prices``
    (``{class: {grade: {term: "price"}}}``) replaces the prices it names. The result must price
    on-demand and reserved for every class and grade."""
    require(caller, "operator")
    if list_prices is None and grades is None:
        raise InvalidInput("nothing to change", field="list_prices", value=None,
                           fix="give list_prices ({class: {grade: {term: \"price\"}}}) and/or grades")
    now = p.now()
    with p.uow() as uow:
        uow.market.lock_prices()          # two changes at once get versions n+1 and n+2
        history = price_history(p, uow)
        current = history.current
        doc = document(current.book)
        where = "request body"
        if grades is not None:
            doc["grades"] = grades
        new_grades = parse_grade_rules(json.dumps({"grades": doc["grades"]}), where)
        kept = {c: {g: t for g, t in by.items() if g in new_grades.grades} for c, by in doc["list_prices"].items()}
        for cls, by_grade in _mapping(list_prices or {}, "list_prices").items():
            for grade, by_term in _mapping(by_grade, f"list_prices.{cls}").items():
                kept.setdefault(str(cls), {}).setdefault(str(grade), {}).update(
                    _mapping(by_term, f"list_prices.{cls}.{grade}"))
        doc["list_prices"] = kept
        book = _book(doc, where)
        missing = missing_prices(book)
        if missing:
            raise InvalidInput("these products would have no list price", field="list_prices", value=missing,
                               fix="give an on-demand and a reserved price for every class and grade")
        version = current.version + 1
        at = max(now, current.at)
        uow.market.add_price_version(version=version, at=at, actor=caller.actor, document=json.dumps(doc))
        changed = _changes(current.book, book)
        uow.audit.record(now, caller.actor, caller.role, "market.prices", str(version), changed=changed,
                         grades=[r.grade for r in book.grades.rules])
    return {"version": version, "at": at, "changed": changed, **document(book)}


def versions(p: Platform, caller: Caller) -> dict[str, Any]:
    """Every list-price version with when it came into force."""
    require(caller, "operator", "provider", "tenant")
    with p.read() as uow:
        history = price_history(p, uow)
        rows = {r["version"]: r for r in uow.market.price_versions()}
    return {"items": [{"version": v.version, "at": v.at if v.version else None,
                       "actor": rows[v.version]["actor"] if v.version in rows else "prices file", **document(v.book)}
                      for v in history.versions]}


def _mapping(x: Any, field: str) -> dict[str, Any]:
    if not isinstance(x, dict):
        raise InvalidInput("must be a mapping", field=field, value=x,
                           fix='write e.g. {"train": {"mid": {"on-demand": "30.00"}}}')
    return x


def _changes(old: PriceBook, new: PriceBook) -> dict[str, list[str | None]]:
    """Per product whose price changed: [old, new] (None where there was none)."""
    keys: set[Product] = set(old.list_prices) | set(new.list_prices)
    out: dict[str, list[str | None]] = {}
    for prod in sorted(keys, key=lambda x: x.key):
        a: Decimal | None = old.list_prices.get(prod)
        b: Decimal | None = new.list_prices.get(prod)
        if a != b:
            out[prod.key] = [None if a is None else str(a), None if b is None else str(b)]
    return out

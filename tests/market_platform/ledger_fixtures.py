"""Deterministic meter records and terms for the ``bill_batch`` tests on the bench's SQLite ledger
(also imported by bill_batch_crash_worker.py)."""

from decimal import Decimal as D

from suanli.config.market_file import load_price_book
from suanli.market.auction import Trade
from suanli.market.billing import TermsBook
from suanli.market.catalog import ProductClass, Term
from suanli.market.invoice import MeterRecord
from suanli.market.reserved import ReservedContract

PRICES = load_price_book()
RESERVATION = ReservedContract("r1", "lab", "acme", "mid", "r", D("1000000"), 0.0, 1e9, D("18.00"))
TRADE = Trade("b1/a1", "b1", "a1", "lab", "tenant:reseller", D("1000000"), D("12.3456"), "mid", "r")
BOOK = TermsBook(PRICES, {"r1": RESERVATION}, {"b1/a1": TRADE})


def records(n: int, start: int = 0, prefix: str = "m") -> list[MeterRecord]:
    """``n`` records with ids ``<prefix><i>``: on-demand, reserved, spot and SLA-failed mixed."""
    out = []
    for i in range(start, start + n):
        kind = i % 10
        term, contract = ((Term.RESERVED, "r1") if kind in (1, 2) else (Term.SPOT, "b1/a1") if kind == 3
                          else (Term.ON_DEMAND, ""))
        tenant = "lab" if term is not Term.ON_DEMAND or i % 3 else "other"
        out.append(MeterRecord(
            id=f"{prefix}{i}", job=f"j{i % 97}", tenant=tenant, provider=("acme", "zeta")[i % 2], site="s1",
            grade=("top", "mid", "entry")[i % 3], region="r", start=float(i), seconds=60.0,
            pf16h=D((i * 7919) % 10**7 + 1).scaleb(-6), product_class=ProductClass.TRAIN, term=term,
            contract=contract, sla_failed=(i % 101 == 0)))
    return out

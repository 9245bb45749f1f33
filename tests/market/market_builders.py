"""Small builders for market tests."""

from decimal import Decimal as D

from suanli.config.market_file import load_grade_rules, load_price_book
from suanli.market.auction import Trade
from suanli.market.billing import TermsBook
from suanli.market.catalog import ProductClass, Term
from suanli.market.invoice import MeterRecord
from suanli.market.reserved import ReservedContract

GRADES = load_grade_rules()
PRICES = load_price_book(None, GRADES)          # fee 10%; general/mid on-demand 25.00


def record(id="m1", pf16h="1", tenant="lab", provider="acme", term=Term.ON_DEMAND, contract="", sla=False,
           grade="mid", start=0.0, cls=ProductClass.GENERAL, region="r"):
    return MeterRecord(id=id, job="j1", tenant=tenant, provider=provider, site="s1", grade=grade, region=region,
                       start=start, seconds=60.0, pf16h=D(str(pf16h)), product_class=cls, term=term,
                       contract=contract, sla_failed=sla)


RESERVATION = ReservedContract("r1", "lab", "acme", "mid", "r", D("100"), 0.0, 3600.0, D("18.00"))
TRADE = Trade("b1/a1", "b1", "a1", "lab", "tenant:reseller", D("5"), D("12.3456"), "mid", "r")
BOOK = TermsBook(PRICES, {"r1": RESERVATION}, {"b1/a1": TRADE})

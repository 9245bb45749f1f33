"""Spot book: pool asks from idle capacity; allocations from clearings."""

from decimal import Decimal as D

from suanli.market.auction import Bid, clear_market
from suanli.market.catalog import PoolAsk
from suanli.market.spot import asks_from_idle, spot_allocations


def test_idle_capacity_becomes_asks_unless_below_the_minimum():
    pool_asks = [PoolAsk("acme", "sh-1", "a100", "mid", "r", D("9.5"), D("2")),
                 PoolAsk("acme", "sh-1", "h100", "top", "r", D("15"), D("0")),
                 PoolAsk("zeta", "nx-1", "a800", "mid", "r", D("8"), D("5"))]
    idle = {("sh-1", "a100"): D("3.1234567"), ("nx-1", "a800"): D("4")}
    asks, skipped = asks_from_idle(pool_asks, idle, 100.0, "round-7")
    assert [(a.id, a.seller, a.qty, a.price) for a in asks] == [("sh-1/a100@round-7", "provider:acme", D("3.123456"),
                                                                 D("9.5"))]
    assert skipped == {("sh-1", "h100"): "no idle capacity",
                       ("nx-1", "a800"): "idle 4 PF16-h is below the ask's minimum 5"}


def test_allocations_per_tenant():
    asks, _ = asks_from_idle([PoolAsk("acme", "s", "p", "mid", "r", D("9"))], {("s", "p"): D("10")}, 0.0, "1")
    books = clear_market([Bid("b1", "lab", D("4"), D("12"), 0.0, "mid", "r"),
                          Bid("b2", "lab", D("3"), D("11"), 1.0, "mid", "r"),
                          Bid("b3", "other", D("5"), D("10"), 2.0, "mid", "r")], asks)
    alloc = spot_allocations(books.values())
    assert alloc["lab"][0] == D("7") and alloc["other"][0] == D("3")
    # the partly filled bid at 10 sets the price: lo = max(ask 9, unfilled bid 10) = 10 = hi
    assert {t.price for _, ts in alloc.values() for t in ts} == {D("10")}

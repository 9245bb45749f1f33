"""The uniform-price double auction: hand-computed books and property tests of its invariants."""

from decimal import Decimal as D

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from suanli.domain.errors import InvalidInput
from suanli.market.auction import Ask, Bid, clear, clear_market, clear_units


def bid(i, qty, limit, t=0.0, tenant="t", grade="mid", region="r"):
    return Bid(f"b{i}", tenant, D(str(qty)), D(str(limit)), t, grade, region)


def ask(i, qty, price, t=0.0, seller="provider:p", grade="mid", region="r"):
    return Ask(f"a{i}", seller, D(str(qty)), D(str(price)), t, grade, region)


def fills(c):
    return sorted((t.bid_id, t.ask_id, t.qty) for t in c.trades)


def test_partial_fill_and_price_at_the_marginal_bid():
    # Bids 10@12, 5@10, 5@8; asks 6@7, 6@9, 10@11. Demand at 10 is 15, supply 12: volume 12.
    # Interval: lo = max(ask 9, unfilled bid 10) = 10; hi = min(bid 10, unfilled ask 11) = 10.
    c = clear([bid(1, 10, 12, 1), bid(2, 5, 10, 2), bid(3, 5, 8, 3)],
              [ask(1, 6, 7, 1), ask(2, 6, 9, 2), ask(3, 10, 11, 3)])
    assert c.price == D("10")
    assert c.volume == D("12")
    assert fills(c) == [("b1", "a1", D(6)), ("b1", "a2", D(4)), ("b2", "a2", D(2))]
    assert all(t.price == D(10) for t in c.trades)


@pytest.mark.parametrize("bids, asks, price, volume", [
    ([(5, "12")], [(5, "8")], "10", "5"),                       # midpoint of [8, 12]
    ([(5, "12")], [(5, "8.0001")], "10.0000", "5"),             # midpoint rounded down: 10.00005 -> 10.0000
    ([(5, "5")], [(5, "6")], None, "0"),                        # no overlap
    ([(5, "10")], [(3, "4"), (3, "9")], "9", "5"),              # ask at 9 partly filled: hi = 9
    ([(2, "10"), (2, "6")], [(4, "5")], "5.5", "4"),            # all filled: midpoint of [5, 6]
])
def test_small_books(bids, asks, price, volume):
    c = clear([bid(i, q, p, i) for i, (q, p) in enumerate(bids)], [ask(i, q, p, i) for i, (q, p) in enumerate(asks)])
    assert c.volume == D(volume)
    assert c.price == (None if price is None else D(price))


def test_ties_are_broken_by_time_then_input_order():
    late, early = bid("late", 5, 10, t=2.0), bid("early", 5, 10, t=1.0)
    c = clear([late, early], [ask(1, 7, 5)])
    assert fills(c) == [("bearly", "a1", D(5)), ("blate", "a1", D(2))]
    c = clear([bid(1, 3, 10)], [ask("x", 2, 5, t=1.0), ask("y", 2, 5, t=1.0)])
    assert fills(c) == [("b1", "ax", D(2)), ("b1", "ay", D(1))]


def test_clear_market_per_grade_and_region():
    books = clear_market([bid(1, 5, 10, grade="top"), bid(2, 5, 10, region="q")],
                         [ask(1, 5, 6, grade="top"), ask(2, 5, 20, region="q")])
    assert books[("top", "r")].price == D(8) and books[("mid", "q")].price is None
    with pytest.raises(InvalidInput, match="duplicate"):
        clear_market([bid(1, 5, 10), bid(1, 5, 10)], [])
    with pytest.raises(InvalidInput, match="grade and a region"):
        clear_market([Bid("x", "t", D(1), D(1), 0.0)], [])


@pytest.mark.parametrize("make", [
    lambda: Bid("b", "t", D(-1), D(1), 0.0), lambda: Bid("b", "t", D(1), 1.5, 0.0),
    lambda: Ask("a", "p", D(0), D(1), 0.0), lambda: Ask("a", "p", D(1), D("0.00001"), 0.0),
])
def test_bad_orders_are_refused(make):
    with pytest.raises(InvalidInput):
        make()


# ---- properties -----------------------------------------------------------------------------

orders = st.lists(st.tuples(st.integers(1, 20), st.integers(1, 20), st.integers(0, 4)), max_size=12)


def arrays(side):
    q = np.array([o[0] for o in side], dtype=np.int64)
    p = np.array([o[1] for o in side], dtype=np.int64)
    t = np.array([o[2] for o in side], dtype=np.float64)
    return q, p, t


def brute_force_volume(bids, asks):
    best = 0
    for p in {o[1] for o in bids + asks}:
        demand = sum(q for q, limit, _ in bids if limit >= p)
        supply = sum(q for q, price, _ in asks if price <= p)
        best = max(best, min(demand, supply))
    return best


@settings(max_examples=400, deadline=None)
@given(orders, orders)
def test_auction_invariants(bids, asks):
    bq, bp, bt = arrays(bids)
    aq, ap, at = arrays(asks)
    f = clear_units(bq, bp, bt, aq, ap, at)
    # volume is maximal
    assert f.volume == brute_force_volume(bids, asks)
    if f.volume == 0:
        assert f.price is None and len(f.qty) == 0
        return
    price = f.price
    # one price; no trade below an ask or above a bid
    assert all(bp[i] >= price >= ap[j] for i, j in zip(f.bid_index, f.ask_index, strict=True))
    bid_fill = np.bincount(f.bid_index, weights=f.qty, minlength=len(bids)).astype(np.int64)
    ask_fill = np.bincount(f.ask_index, weights=f.qty, minlength=len(asks)).astype(np.int64)
    assert (bid_fill <= bq).all() and (ask_fill <= aq).all()
    assert bid_fill.sum() == ask_fill.sum() == f.volume and (f.qty > 0).all()
    # the price clears: orders strictly better than it are filled completely
    assert all(bid_fill[i] == bq[i] for i in range(len(bids)) if bp[i] > price)
    assert all(ask_fill[j] == aq[j] for j in range(len(asks)) if ap[j] < price)
    # ties by time (then input order): a later order at one price fills only once earlier ones are full
    for fill, qty, prices, times in ((bid_fill, bq, bp, bt), (ask_fill, aq, ap, at)):
        for i in range(len(qty)):
            for k in range(len(qty)):
                if prices[i] == prices[k] and (times[i], i) < (times[k], k) and fill[k] > 0:
                    assert fill[i] == qty[i]


@settings(max_examples=100, deadline=None)
@given(orders, orders)
def test_decimal_path_matches_the_integer_path(bids, asks):
    # prices in units of 0.0001, quantities in units of 0.000001: the same integers as clear_units
    c = clear([bid(i, D(q).scaleb(-6), D(p).scaleb(-4), t) for i, (q, p, t) in enumerate(bids)],
              [ask(i, D(q).scaleb(-6), D(p).scaleb(-4), t) for i, (q, p, t) in enumerate(asks)])
    f = clear_units(*arrays(bids), *arrays(asks))
    assert c.volume.scaleb(6) == f.volume
    assert (c.price is None and f.price is None) or c.price.scaleb(4) == f.price
    assert sum((t.qty for t in c.trades), D(0)) == c.volume
    assert len({t.price for t in c.trades}) <= 1

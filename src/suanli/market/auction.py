"""Spot market: a periodic uniform-price double auction per (grade, region).

Tenants' bids (quantity of PF16-hours, limit price) meet providers' asks (idle capacity, minimum
price). One clearing yields one price and a set of trades.

Rule (all in exact integer units: prices in 0.0001, quantities in 0.000001 PF16-h):

1. Bids are ranked by limit price high to low, asks by price low to high; equal prices are
   ranked by time, earlier first, then by input order (ties by time).
2. The ranked bids and asks are matched greedily along their cumulative quantities (partial
   fills allowed) while the current bid's limit is at least the current ask's price. This gives
   the maximal volume: no price would let more quantity trade.
3. The clearing interval is ``[lo, hi]`` with ``lo = max(highest matched ask price, highest
   limit among bids left with unfilled quantity)`` and ``hi = min(lowest matched bid limit,
   lowest price among asks left with unfilled quantity)``; it is never empty. **The clearing
   price is its midpoint, rounded down to the price quantum.** Every trade is at that price.

Invariants (tested against a brute force): one price; no matched bid has a limit below it and no
matched ask a price above it; the volume is maximal; of two orders on one side at one price the
later is filled only once the earlier is filled completely.

``clear_units`` is the fast path over numpy integer arrays (sort once, then a vectorised sweep
over the merged cumulative-quantity breakpoints); ``clear`` and ``clear_market`` convert the
``Decimal`` orders at the edges. Floats appear only as order times.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import NamedTuple

import numpy as np

from suanli.domain.errors import InvalidInput
from suanli.market.money import PRICE_SCALE, QTY_EXP, QTY_SCALE, ZERO, from_units, parse_price, parse_quantity


@dataclass(frozen=True, slots=True)
class Bid:
    """A tenant's spot bid: up to ``qty`` PF16-hours at a price of at most ``limit``."""

    id: str
    tenant: str
    qty: Decimal
    limit: Decimal
    time: float
    grade: str = ""
    region: str = ""
    qty_units: int = field(init=False, repr=False, compare=False)
    limit_units: int = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "qty_units", int(parse_quantity(self.qty, "bid.qty") * QTY_SCALE))
        object.__setattr__(self, "limit_units", int(parse_price(self.limit, "bid.limit") * PRICE_SCALE))


@dataclass(frozen=True, slots=True)
class Ask:
    """A seller's spot ask: up to ``qty`` PF16-hours at a price of at least ``price``.

    The seller is a provider (idle capacity of ``pool``) or a tenant reselling unused reserved
    compute (``contract`` names the reservation)."""

    id: str
    seller: str
    qty: Decimal
    price: Decimal
    time: float
    grade: str = ""
    region: str = ""
    pool: str = ""
    contract: str = ""
    qty_units: int = field(init=False, repr=False, compare=False)
    price_units: int = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "qty_units", int(parse_quantity(self.qty, "ask.qty") * QTY_SCALE))
        object.__setattr__(self, "price_units", int(parse_price(self.price, "ask.price") * PRICE_SCALE))


class Trade(NamedTuple):
    """One bilateral fill at the clearing price (a NamedTuple: a clearing makes many of them)."""

    id: str
    bid_id: str
    ask_id: str
    buyer: str
    seller: str
    qty: Decimal
    price: Decimal
    grade: str = ""
    region: str = ""
    pool: str = ""
    contract: str = ""


@dataclass(frozen=True)
class Fills:
    """The result of ``clear_units``: indices are into the caller's input arrays."""

    price: int | None          # clearing price in price units, None if nothing trades
    volume: int                # traded quantity in quantity units
    bid_index: np.ndarray
    ask_index: np.ndarray
    qty: np.ndarray


@dataclass(frozen=True)
class Clearing:
    grade: str
    region: str
    price: Decimal | None
    volume: Decimal
    trades: tuple[Trade, ...]


_EMPTY = np.zeros(0, dtype=np.int64)


def clear_units(bid_qty: np.ndarray, bid_limit: np.ndarray, bid_time: np.ndarray,
                ask_qty: np.ndarray, ask_price: np.ndarray, ask_time: np.ndarray) -> Fills:
    """Clear one book given as integer arrays (quantities > 0). See the module docstring."""
    if len(bid_qty) == 0 or len(ask_qty) == 0:
        return Fills(None, 0, _EMPTY, _EMPTY, _EMPTY)
    # 1. Rank: lexsort is stable, so input order breaks ties after time.
    ob = np.lexsort((bid_time, -bid_limit))
    oa = np.lexsort((ask_time, ask_price))
    limit_s = bid_limit[ob]
    price_s = ask_price[oa]
    cb = np.cumsum(bid_qty[ob])
    ca = np.cumsum(ask_qty[oa])
    total = min(int(cb[-1]), int(ca[-1]))
    # 2. Segments between merged cumulative breakpoints; each is one (bid, ask) pair.
    ends = np.sort(np.concatenate((cb[cb <= total], ca[ca <= total])), kind="stable")
    ends = ends[np.concatenate(([True], ends[1:] != ends[:-1]))]
    bi = np.searchsorted(cb, ends, side="left")
    ai = np.searchsorted(ca, ends, side="left")
    valid = limit_s[bi] >= price_s[ai]
    k0 = len(ends) if bool(valid.all()) else int(np.argmin(valid))
    if k0 == 0:
        return Fills(None, 0, _EMPTY, _EMPTY, _EMPTY)
    starts = np.empty(k0, dtype=np.int64)
    starts[0] = 0
    starts[1:] = ends[: k0 - 1]
    qty = ends[:k0] - starts
    volume = int(ends[k0 - 1])
    # 3. The clearing interval and its midpoint.
    ib, ja = int(bi[k0 - 1]), int(ai[k0 - 1])
    lo, hi = int(price_s[ja]), int(limit_s[ib])
    nb = ib if int(cb[ib]) > volume else ib + 1
    if nb < len(cb):
        lo = max(lo, int(limit_s[nb]))
    na = ja if int(ca[ja]) > volume else ja + 1
    if na < len(ca):
        hi = min(hi, int(price_s[na]))
    return Fills((lo + hi) // 2, volume, ob[bi[:k0]], oa[ai[:k0]], qty)


def _ints(values: Iterable[int], n: int) -> np.ndarray:
    return np.fromiter(values, dtype=np.int64, count=n)


def clear(bids: Sequence[Bid], asks: Sequence[Ask], *, grade: str = "", region: str = "") -> Clearing:
    """Clear one book of ``Decimal`` orders; all orders are taken to be of one grade and region."""
    nb, na = len(bids), len(asks)
    fills = clear_units(
        _ints((b.qty_units for b in bids), nb), _ints((b.limit_units for b in bids), nb),
        np.fromiter((b.time for b in bids), dtype=np.float64, count=nb),
        _ints((a.qty_units for a in asks), na), _ints((a.price_units for a in asks), na),
        np.fromiter((a.time for a in asks), dtype=np.float64, count=na))
    if fills.price is None:
        return Clearing(grade, region, None, ZERO, ())
    price = from_units(fills.price, PRICE_SCALE)
    trades = tuple(
        Trade(f"{b.id}/{a.id}", b.id, a.id, b.tenant, a.seller, Decimal(q).scaleb(-QTY_EXP), price,
              grade, region, a.pool, a.contract)
        for b, a, q in zip(map(bids.__getitem__, fills.bid_index.tolist()),
                           map(asks.__getitem__, fills.ask_index.tolist()), fills.qty.tolist(), strict=True))
    return Clearing(grade, region, price, from_units(fills.volume, QTY_SCALE), trades)


def clear_market(bids: Iterable[Bid], asks: Iterable[Ask]) -> dict[tuple[str, str], Clearing]:
    """Clear every (grade, region) book; books with bids or asks only clear with no trades."""
    books: dict[tuple[str, str], tuple[list[Bid], list[Ask]]] = defaultdict(lambda: ([], []))
    ids: set[str] = set()
    orders: list[Bid | Ask] = [*bids, *asks]
    for order in orders:
        if not order.grade or not order.region:
            raise InvalidInput("a spot order needs a grade and a region", field="order", value=order.id,
                               fix="set grade and region on every bid and ask")
        key = ("bid:" if isinstance(order, Bid) else "ask:") + order.id
        if key in ids:
            raise InvalidInput("duplicate order id", field="order.id", value=order.id, fix="give each order its own id")
        ids.add(key)
        book = books[(order.grade, order.region)]
        (book[0] if isinstance(order, Bid) else book[1]).append(order)  # type: ignore[arg-type]
    return {key: clear(b, a, grade=key[0], region=key[1]) for key, (b, a) in sorted(books.items())}

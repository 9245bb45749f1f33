"""The simulator's prices: each job's one price per PF16-hour (``market.pricing``), per job class
and pool, from the operator's packaged price book (or a given ``PriceHistory``). A site given an
hourly price series (``SimConfig.price_series``, a what-if) is priced by it instead, for every class.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from suanli.config.market_file import load_price_book
from suanli.market.pricing import PriceHistory, class_price_columns
from suanli.scheduling.table import PoolTable
from suanli.scheduling.types import FloatArray
from suanli.sim.series import HourlySeries


def class_prices(table: PoolTable, history: PriceHistory | None = None, at: float = 0.0) -> dict[str, FloatArray]:
    """Per job class, each pool's on-demand price per PF16-hour at ``at``."""
    history = history or PriceHistory.of(load_price_book())
    return {c: np.asarray(v, dtype=np.float64)
            for c, v in class_price_columns(history, table.accelerators, at).items()}


def with_site_prices(prices: Mapping[str, FloatArray], pools_of_site: Mapping[int, np.ndarray],
                     site_price: Mapping[int, float]) -> dict[str, FloatArray]:
    """``prices`` with every pool of a site in ``site_price`` at that site's price, for every class."""
    out = {}
    for c, col in prices.items():
        col = col.copy()
        for site, price in site_price.items():
            col[pools_of_site[site]] = price
        out[c] = col
    return out


def lowest_hour_prices(table: PoolTable, prices: Mapping[str, FloatArray] | None,
                       price_series: Mapping[int, HourlySeries] | None) -> dict[str, FloatArray]:
    """Per job class, each pool's price for a lower bound or a reference: ``prices`` (the packaged
    book's if None), with a site that has an hourly price series at its lowest hour."""
    return with_site_prices(prices if prices is not None else class_prices(table),
                            {i: np.flatnonzero(table.site_of == i) for i in range(len(table.site_names))},
                            {site: float(np.min(s.values)) for site, s in (price_series or {}).items()})

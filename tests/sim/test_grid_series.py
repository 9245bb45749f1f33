"""The packaged hourly series of the global-grids zones (suanli/data/grids): one row per hour for
2021-2024, the right column for carbon and for price, and Singapore's carbon the same as the
separately packaged SG-2021 series (two copies made from the same source at different times)."""

from __future__ import annotations

import gzip
from importlib import resources

import numpy as np
import pytest

from suanli.domain.errors import UnknownName
from suanli.sim.series import GRID_ZONES, load_series

HOURS_2021_2024 = (365 * 3 + 366) * 24


def _raw_rows(zone: str) -> list[list[str]]:
    text = gzip.decompress(resources.files("suanli.data").joinpath("grids", f"{zone}.csv.gz").read_bytes())
    lines = text.decode().splitlines()
    assert lines[0] == "ci_direct_gco2_per_kwh,price_usd_per_mwh"
    return [line.split(",") for line in lines[1:]]


@pytest.mark.parametrize("zone", GRID_ZONES)
def test_each_zone_has_every_hour_of_2021_to_2024_for_carbon_and_price(zone: str) -> None:
    rows = _raw_rows(zone)
    carbon, price = load_series(f"{zone}-carbon"), load_series(f"{zone}-price")
    assert len(rows) == len(carbon.values) == len(price.values) == HOURS_2021_2024
    for i in (0, 1, 8759, 20_000, HOURS_2021_2024 - 1):
        assert carbon.at(i * 3600.0) == float(rows[i][0]) and price.at(i * 3600.0 + 1800) == float(rows[i][1])
    assert np.all(carbon.values >= 0) and np.isfinite(price.values).all()


def test_singapore_matches_the_sg_2021_series_to_its_rounding() -> None:
    grid, old = load_series("SG-carbon").values[:8760], load_series("SG-2021").values
    assert np.max(np.abs(grid - old)) <= 0.05 + 1e-9


def test_an_unknown_zone_lists_the_packaged_series() -> None:
    with pytest.raises(UnknownName) as e:
        load_series("GB-carbon")
    assert "DE-LU-carbon" in str(e.value) and "SG-2021" in str(e.value)

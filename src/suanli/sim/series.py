"""Hourly series per site (carbon intensity, price): values, the value at a time, and exact
integrals over a run so carbon follows the hour a job ran in.

A series is indexed by hours since the simulation's ``start_hour`` (hours since the series'
own start), wrapping around at its end. Packaged series: ``SG-2021`` (Electricity Maps, direct
gCO2/kWh, ODbL; see ``suanli/data/carbon/README.md``), and ``<ZONE>-carbon`` / ``<ZONE>-price``
for the eight global-grids zones, 2021-2024 (``suanli/data/grids/README.md``).
"""

from __future__ import annotations

import csv
import gzip
import io
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

import numpy as np

from suanli.domain.errors import InvalidInput, UnknownName
from suanli.scheduling.types import FloatArray

PACKAGED = {"SG-2021": "SG_2021_hourly.csv.gz"}
# hourly carbon and price of the global-grids zones, 2021-2024 (suanli/data/grids/README.md):
# series "<ZONE>-carbon" (gCO2/kWh, direct) and "<ZONE>-price" (USD/MWh)
GRID_ZONES = ("AU-NSW", "CA-ON", "DE-LU", "JP-TK", "KR", "SG", "US-CAL-CISO", "US-TEX-ERCO")
GRID_COLUMNS = {"carbon": 0, "price": 1}


@dataclass(frozen=True)
class HourlySeries:
    name: str
    values: FloatArray
    start_hour: int = 0
    _cum: FloatArray = field(init=False, repr=False)

    def __post_init__(self) -> None:
        if len(self.values) == 0:
            raise InvalidInput("an hourly series needs at least one value", field="series", value=self.name,
                               fix="give one value per hour")
        object.__setattr__(self, "_cum", np.concatenate([[0.0], np.cumsum(self.values)]))

    def at(self, t: float) -> float:
        return float(self.values[(self.start_hour + int(t // 3600)) % len(self.values)])

    def _integral_to(self, hours: float) -> float:
        """Integral of the series (value x hours) from hour 0 to ``hours`` (unwrapped)."""
        n = len(self.values)
        whole, rest = divmod(hours, n)
        i = int(rest)
        frac = rest - i
        return float(whole * self._cum[-1] + self._cum[i] + frac * self.values[i % n])

    def mean_over(self, t0: float, t1: float) -> float:
        """Time-weighted mean value between two simulation times."""
        if t1 <= t0:
            return self.at(t0)
        h0 = self.start_hour + t0 / 3600.0
        h1 = self.start_hour + t1 / 3600.0
        return (self._integral_to(h1) - self._integral_to(h0)) / (h1 - h0)


def parse_series(text: str, name: str, where: str) -> FloatArray:
    """The second column of a CSV with a header (``datetime_utc,<value>``), one row per hour."""
    values = []
    reader = csv.reader(io.StringIO(text))
    next(reader, None)
    for line, row in enumerate(reader, start=2):
        try:
            values.append(float(row[1]))
        except (IndexError, ValueError):
            raise InvalidInput("is not a number", field="value", value=row[1:2], where=f"{where}:{line}",
                               fix="give one number per hour in the second column") from None
    return np.asarray(values, dtype=np.float64)


def grid_series_names() -> list[str]:
    return [f"{z}-{kind}" for z in GRID_ZONES for kind in GRID_COLUMNS]


def load_grid_series(zone: str, kind: str, start_hour: int = 0) -> HourlySeries:
    """A zone's hourly carbon (``kind="carbon"``) or price (``"price"``) series, 2021-2024."""
    if zone not in GRID_ZONES:
        raise UnknownName("grid zone", zone, list(GRID_ZONES), field="zone")
    if kind not in GRID_COLUMNS:
        raise UnknownName("grid series", kind, list(GRID_COLUMNS), field="kind")
    text = gzip.decompress(resources.files("suanli.data").joinpath("grids", f"{zone}.csv.gz").read_bytes())
    column = GRID_COLUMNS[kind]
    values = np.loadtxt(io.StringIO(text.decode("ascii")), delimiter=",", skiprows=1, usecols=column)
    return HourlySeries(f"{zone}-{kind}", values, start_hour)


def load_series(name_or_path: str, start_hour: int = 0) -> HourlySeries:
    """A packaged series by name (``SG-2021``, ``DE-LU-carbon``, ``DE-LU-price``) or a CSV file
    ``datetime_utc,value`` (gzip ok)."""
    zone, _, kind = name_or_path.rpartition("-")
    if zone in GRID_ZONES and kind in GRID_COLUMNS:
        return load_grid_series(zone, kind, start_hour)
    if name_or_path in PACKAGED:
        data = resources.files("suanli.data").joinpath("carbon", PACKAGED[name_or_path]).read_bytes()
        where = f"<packaged {PACKAGED[name_or_path]}>"
    else:
        path = Path(name_or_path)
        if not path.exists():
            raise UnknownName("hourly series", name_or_path,
                              sorted(PACKAGED) + grid_series_names() + ["<path to a CSV file>"],
                              field="carbon_series")
        data = path.read_bytes()
        where = str(path)
    if data[:2] == b"\x1f\x8b":
        data = gzip.decompress(data)
    return HourlySeries(name_or_path, parse_series(data.decode("utf-8"), name_or_path, where), start_hour)

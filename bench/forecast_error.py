"""How well each forecaster predicts the next 24 hours of the packaged grid series (carbon and
price, eight zones, 2021-2024): mean absolute error as a share of the series' mean, over every
hour after the first week, for horizons 1..24 h. Prints JSON. Persistence (the current value held
for 24 h) is the baseline. ``python bench/forecast_error.py``"""

from __future__ import annotations

import json
import sys
import time

import numpy as np

from suanli.scheduling.forecast import DAY, WEEK_DAYS
from suanli.sim.series import GRID_COLUMNS, GRID_ZONES, load_series


def errors(x: np.ndarray) -> dict[str, float]:
    """Relative MAE of each forecaster; target hours i in [week, n), horizon h = 1..24, issued at i - h."""
    start = DAY * (WEEK_DAYS + 1)
    i = np.arange(start, len(x))
    truth = x[i]
    naive = x[i - DAY]                                   # for h <= 24 the same hour a day before i
    mean7 = np.mean([x[i - DAY * d] for d in range(1, WEEK_DAYS + 1)], axis=0)
    persistence = np.mean([np.abs(truth - x[i - h]) for h in range(1, DAY + 1)])
    scale = float(np.mean(np.abs(x[start:])))
    return {"seasonal-naive": float(np.mean(np.abs(truth - naive))) / scale,
            "seasonal-mean": float(np.mean(np.abs(truth - mean7))) / scale,
            "persistence": float(persistence) / scale, "oracle": 0.0}


def main() -> int:
    t0 = time.perf_counter()
    out: dict[str, dict[str, dict[str, float]]] = {}
    for kind in GRID_COLUMNS:
        out[kind] = {z: {k: round(v, 4) for k, v in errors(load_series(f"{z}-{kind}").values).items()}
                     for z in GRID_ZONES}
    mean = {kind: {f: round(float(np.mean([out[kind][z][f] for z in GRID_ZONES])), 4)
                   for f in ("seasonal-naive", "seasonal-mean", "persistence")} for kind in GRID_COLUMNS}
    json.dump({"relative_mae": out, "mean_over_zones": mean, "seconds": round(time.perf_counter() - t0, 2)},
              sys.stdout, indent=2)
    print()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

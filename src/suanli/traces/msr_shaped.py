"""``synthetic``: seeded jobs whose shape is fit to the MSR ITP 2021 trace, for tests and scaling.

Arrivals: a non-homogeneous Poisson process, ``rate_per_hour`` times the hour-of-day shape of
MSR ITP submissions (thinning). Sizes: the MSR GPU-count mix. Durations: lognormal per GPU
count, (mu, sigma) of log seconds fit to MSR, floored at 600 s as MSR's. Tenants ``syn-NN``.

``--trace-path FILE`` gives a YAML/JSON mapping overriding ``jobs``, ``rate_per_hour``,
``tenants`` (numbers), e.g. ``{jobs: 200000, rate_per_hour: 200}``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import yaml

from suanli.config import fields as f
from suanli.domain.errors import InvalidInput
from suanli.traces.base import Trace, TraceOptions, file_text
from suanli.traces.enrich import RawJob, enrich

REFERENCE = "v100-sxm2-32gb"
# Hour-of-day shape of MSR ITP submissions (mean 1.0), UTC hours 0..23.
DIURNAL = (1.06, 1.24, 1.4, 1.21, 1.43, 1.11, 0.82, 0.95, 0.88, 0.89, 0.72, 0.84,
           0.75, 0.94, 0.67, 0.73, 0.81, 0.82, 0.91, 1.2, 0.95, 1.28, 1.16, 1.23)
# (gpus, share, mu, sigma of ln duration_s) fit to MSR ITP 2021.
SIZES = ((1, 0.8568, 8.952, 1.068), (2, 0.0183, 8.099, 1.101), (4, 0.0351, 9.081, 1.51),
         (8, 0.0803, 9.826, 1.519), (16, 0.0029, 10.068, 2.078), (32, 0.0053, 10.372, 1.755),
         (64, 0.0013, 9.924, 1.723))
DEFAULTS: dict[str, float] = {"jobs": 52049, "rate_per_hour": 54.2, "tenants": 10}


def _params(options: TraceOptions) -> dict[str, float]:
    params = dict(DEFAULTS)
    if options.path is not None:
        where = str(options.path)
        try:
            doc: Any = yaml.safe_load(file_text(options.path))
        except yaml.YAMLError as exc:
            raise InvalidInput(f"is not valid YAML ({exc})", field="trace_path", value=where,
                               fix="give a mapping such as {jobs: 1000, rate_per_hour: 60}") from None
        try:
            m = f.mapping(doc, "")
            f.check_keys(m, "", DEFAULTS)
            for key in DEFAULTS:
                params[key] = f.number(m, key, "", DEFAULTS[key], positive=True)
        except InvalidInput as exc:
            raise exc.at(where) from None
    if options.limit is not None:
        params["jobs"] = min(params["jobs"], options.limit)
    return params


def generate(n: int, rate_per_hour: float, tenants: int, rng: np.random.Generator) -> list[RawJob]:
    peak = rate_per_hour * max(DIURNAL)
    shape = np.asarray(DIURNAL)
    out: list[RawJob] = []
    t = 0.0
    shares = np.asarray([s[1] for s in SIZES])
    shares = shares / shares.sum()
    while len(out) < n:
        batch = max(64, n - len(out))
        gaps = rng.exponential(3600.0 / peak, batch)
        keep = rng.random(batch)
        kinds = rng.choice(len(SIZES), size=batch, p=shares)
        normals = rng.standard_normal(batch)
        who = rng.integers(0, tenants, batch)
        for i in range(batch):
            t += float(gaps[i])
            if keep[i] * max(DIURNAL) > shape[int(t // 3600) % 24]:
                continue
            gpus, _, mu, sigma = SIZES[int(kinds[i])]
            duration = max(600.0, float(np.exp(mu + sigma * normals[i])))
            out.append(RawJob(id=f"syn-{len(out):07d}", tenant=f"syn-{int(who[i]):02d}", submit_time=round(t, 3),
                              duration_s=round(duration, 3), gpus=gpus))
            if len(out) == n:
                break
    return out


class SyntheticReader:
    name = "synthetic"
    description = "seeded Poisson arrivals with a diurnal shape; sizes and durations fit to MSR ITP"

    def read(self, options: TraceOptions) -> Trace:
        params = _params(options)
        rng = np.random.default_rng([options.seed, 1])
        raws = generate(int(params["jobs"]), params["rate_per_hour"], int(params["tenants"]), rng)
        return Trace(name=self.name, source=str(options.path or "<generated>"),
                     jobs=enrich(raws, options, REFERENCE), notes=(f"parameters {params}",))

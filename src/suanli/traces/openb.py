"""``openb``: the Alibaba 2023 GPU-sharing pod trace (ATC'23 "Beware of Fragmentation") and its
node list (alibaba/clusterdata cluster-trace-gpu-v2023; research use, cite the paper).

Pods: ``job_id, submit_time_s, duration_s, num_gpus, gpu_milli, gpu_type, qos`` (others ignored).
- A pod with ``num_gpus`` 0 is CPU-only and skipped (counted as "cpu-only"); a pod that was
  never scheduled (empty ``duration_s``) is skipped (counted as "never scheduled").
- Fractional GPUs: a 1-GPU pod with ``gpu_milli`` < 1000 holds a whole chip here (pools place
  whole chips); its share is kept in the label ``gpu_milli`` and counted in the trace notes.
- ``gpu_type`` lists allowed models (``|``-separated). Codes must appear in the node list;
  those in our catalog map to catalog ids (T4, V100M16/V100M32 -> V100, A10); the undisclosed
  internal codes G2/G3 and P100 have no catalog entry, so such pods may run on any chip.
- Tenant: ``openb-<qos>``. Durations are taken as measured on a V100 (the trace's main
  disclosed data-center part).
"""

from __future__ import annotations

from suanli.domain.errors import InvalidInput
from suanli.traces.base import (
    RowError,
    SkipCounter,
    Trace,
    TraceOptions,
    bad,
    csv_rows,
    number,
    open_source,
    packaged_text,
)
from suanli.traces.enrich import RawJob, enrich

PACKAGED = "alibaba_openb_2023_pods_default.csv.gz"
NODES = "alibaba_openb_2023_nodes.csv.gz"
REFERENCE = "v100-sxm2-32gb"
COLUMNS = ("job_id", "submit_time_s", "duration_s", "num_gpus", "gpu_milli", "gpu_type", "qos")
CATALOG_OF = {"T4": "t4-pcie-16gb", "V100M16": "v100-pcie-32gb", "V100M32": "v100-sxm2-32gb",
              "A10": "a10-pcie-24gb"}


def node_models() -> frozenset[str]:
    """GPU model codes of the openb cluster's node list."""
    models = set()
    for row in csv_rows(packaged_text(NODES), f"<packaged {NODES}>", ("model",)):
        if row.values["model"]:
            models.add(row.values["model"])
    return frozenset(models)


class OpenbReader:
    name = "openb"
    description = "Alibaba openb 2023 GPU pods, 8,152 pods incl. fractional GPUs (research use)"

    def read(self, options: TraceOptions) -> Trace:
        text, where = open_source(options, PACKAGED)
        known = node_models()
        skips = SkipCounter(options.skip_bad_rows)
        raws: list[RawJob] = []
        fractional = 0
        for row in csv_rows(text, where, COLUMNS):
            try:
                job_id = (row.values.get("job_id") or "").strip()
                if not job_id:
                    raise bad(where, row, "job_id", "is empty", "give the pod name")
                submit = number(where, row, "submit_time_s", minimum=0)
                gpus = int(number(where, row, "num_gpus", minimum=0, integer=True))
                if gpus == 0:
                    skips.count("cpu-only")
                    continue
                if not (row.values.get("duration_s") or "").strip():
                    skips.count("never scheduled")
                    continue
                duration = max(1.0, number(where, row, "duration_s", minimum=0))
                milli = int(number(where, row, "gpu_milli", minimum=0, integer=True, default=1000))
                if milli > 1000 or milli == 0:
                    raise bad(where, row, "gpu_milli", "must be 1..1000", "give the GPU share in 1/1000")
                models = tuple(m for m in (row.values.get("gpu_type") or "").split("|") if m)
                for m in models:
                    if m not in known:
                        raise bad(where, row, "gpu_type", f"model {m!r} is not in the openb node list",
                                  "use models of the node list: " + ", ".join(sorted(known)))
            except RowError as err:
                skips.bad_row(err)
                continue
            allowed = tuple(sorted({CATALOG_OF[m] for m in models if m in CATALOG_OF}))
            if len(allowed) < len(models):
                allowed = ()   # an undisclosed model is allowed: it may run anywhere
            if milli < 1000:
                fractional += 1
            qos = (row.values.get("qos") or "").strip() or "unknown"
            raws.append(RawJob(id=job_id, tenant=f"openb-{qos}", submit_time=submit, duration_s=duration,
                               gpus=gpus, allowed_models=allowed, labels=(("gpu_milli", str(milli)),)))
        if not raws and not options.skip_bad_rows:
            raise InvalidInput("has no GPU pods", field="trace_path", value=where, fix="give an openb pod list")
        return Trace(name=self.name, source=where, jobs=enrich(raws, options, REFERENCE), skipped=skips.counts,
                     notes=(f"{fractional} fractional-GPU pods hold a whole chip",
                            f"durations taken as measured on {REFERENCE}"))

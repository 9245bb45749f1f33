"""``msr-itp``: the Microsoft ITP 2021 multi-cluster trace (ElasticFlow, ASPLOS'23; MIT).

Format: CSV (optionally gzip) with columns ``cluster, job_id, submit_time_s, duration_s,
num_gpus`` (others ignored). Each source cluster becomes a tenant (its name) with a home region.
GPU models are not published; durations are taken as measured on an NVIDIA V100 (SXM2), the
chip of Microsoft's 2021 ITP training fleet; this is an assumption, see docs/simulate.md.
"""

from __future__ import annotations

import csv
import io
import math

from suanli.traces.base import (
    Row,
    RowError,
    SkipCounter,
    Trace,
    TraceOptions,
    bad,
    check_header,
    number,
    open_source,
)
from suanli.traces.enrich import RawJob, enrich

PACKAGED = "msr_itp_2021_jobs.csv.gz"
REFERENCE = "v100-sxm2-32gb"
COLUMNS = ("cluster", "job_id", "submit_time_s", "duration_s", "num_gpus")


class MsrItpReader:
    name = "msr-itp"
    description = "Microsoft ITP 2021, 10 clusters, 52,049 DL training jobs over 40 days (MIT)"

    def read(self, options: TraceOptions) -> Trace:
        text, where = open_source(options, PACKAGED)
        skips = SkipCounter(options.skip_bad_rows)
        raws: list[RawJob] = []
        seen: set[str] = set()
        reader = csv.reader(io.StringIO(text))
        header = next(reader, [])
        check_header(header, where, COLUMNS)
        i_cluster, i_id, i_submit, i_duration, i_gpus = (header.index(c) for c in COLUMNS)
        for cells in reader:
            try:  # the fast path: a well-formed row
                cluster, job_id = cells[i_cluster].strip(), cells[i_id].strip()
                submit, duration, gpus_f = float(cells[i_submit]), float(cells[i_duration]), float(cells[i_gpus])
                ok = (cluster and job_id and job_id not in seen and submit >= 0 and duration >= 1 and gpus_f >= 1
                      and gpus_f == int(gpus_f) and math.isfinite(submit) and math.isfinite(duration))
            except (ValueError, IndexError):
                ok = False
            if not ok:
                try:
                    self._explain(Row(reader.line_num, dict(zip(header, cells, strict=False))), where, seen)
                except RowError as err:
                    skips.bad_row(err)
                    continue
            seen.add(job_id)
            raws.append(RawJob(id=job_id, tenant=cluster, submit_time=submit, duration_s=duration, gpus=int(gpus_f)))
        return Trace(name=self.name, source=where, jobs=enrich(raws, options, REFERENCE), skipped=skips.counts,
                     notes=(f"durations taken as measured on {REFERENCE}",))

    @staticmethod
    def _explain(row: Row, where: str, seen: set[str]) -> None:
        """Raise the ``RowError`` that says what is wrong with a row the fast path refused."""
        if not (row.values.get("cluster") or "").strip():
            raise bad(where, row, "cluster", "is empty", "give the source cluster name")
        job_id = (row.values.get("job_id") or "").strip()
        if not job_id:
            raise bad(where, row, "job_id", "is empty", "give a unique job id")
        if job_id in seen:
            raise bad(where, row, "job_id", "is a duplicate", "give each job a unique id")
        number(where, row, "submit_time_s", minimum=0)
        number(where, row, "duration_s", minimum=1)
        number(where, row, "num_gpus", minimum=1, integer=True)
        raise bad(where, row, "(row)", "is malformed", "check the number of fields")

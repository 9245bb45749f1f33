"""``msr-itp``: the Microsoft ITP 2021 multi-cluster trace (ElasticFlow, ASPLOS'23; MIT).

Format: CSV (optionally gzip) with columns ``cluster, job_id, submit_time_s, duration_s,
num_gpus`` (others ignored). Each source cluster becomes a tenant (its name) with a home region.
GPU models are not published; durations are taken as measured on an NVIDIA V100 (SXM2), the
chip of Microsoft's 2021 ITP training fleet; this is an assumption, see docs/simulate.md.
"""

from __future__ import annotations

from suanli.traces.base import RowError, SkipCounter, Trace, TraceOptions, bad, csv_rows, number, open_source
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
        for row in csv_rows(text, where, COLUMNS):
            try:
                cluster = (row.values.get("cluster") or "").strip()
                if not cluster:
                    raise bad(where, row, "cluster", "is empty", "give the source cluster name")
                job_id = (row.values.get("job_id") or "").strip()
                if not job_id:
                    raise bad(where, row, "job_id", "is empty", "give a unique job id")
                if job_id in seen:
                    raise bad(where, row, "job_id", "is a duplicate", "give each job a unique id")
                submit = number(where, row, "submit_time_s", minimum=0)
                duration = number(where, row, "duration_s", minimum=1)
                gpus = int(number(where, row, "num_gpus", minimum=1, integer=True))
            except RowError as err:
                skips.bad_row(err)
                continue
            seen.add(job_id)
            raws.append(RawJob(id=job_id, tenant=cluster, submit_time=submit, duration_s=duration, gpus=gpus))
        return Trace(name=self.name, source=where, jobs=enrich(raws, options, REFERENCE), skipped=skips.counts,
                     notes=(f"durations taken as measured on {REFERENCE}",))

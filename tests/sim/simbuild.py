"""Builders for simulator tests: a two-site federation and jobs written by hand."""

from __future__ import annotations

from suanli.config.federation_file import parse_federation
from suanli.domain.federation import Federation
from suanli.domain.jobs import DataInput, Job

TINY = """
name: tiny
regions:
  - {name: east, carbon_g_per_kwh: 500}
  - {name: west, carbon_g_per_kwh: 100}
links:
  - {src: east, dst: west, rtt_ms: 20, bandwidth_gbps: 8, egress_per_gb: 0.5}
sites:
  - name: west-hub
    region: west
    pue: 1.2
    price_per_pf16h: 10
    pools: [{name: a100, accelerator: A100, per_node: 4, nodes: 1}]
  - name: east-city
    region: east
    tier: city
    pue: 1.5
    price_per_pf16h: 20
    pools: [{name: h800, accelerator: H800, per_node: 2, nodes: 1}]
"""


def tiny_federation() -> Federation:
    return parse_federation(TINY, "<tiny>")


def job(id: str, submit: float, duration: float, gpus: int, *, tenant: str = "t1", data: tuple[str, float] | None = None,
        **kw: object) -> Job:
    return Job(id=id, tenant=tenant, gpus=gpus, duration_s=duration, reference_accelerator="a100-sxm4-80gb",
               submit_time=submit, data=(DataInput(*data),) if data else (), **kw)  # type: ignore[arg-type]

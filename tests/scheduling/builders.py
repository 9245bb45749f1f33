"""Small builders for core tests: a two-region federation in YAML and jobs with defaults."""

from __future__ import annotations

from typing import Any

from suanli.config.federation_file import parse_federation
from suanli.domain.federation import Federation
from suanli.domain.jobs import Job

TWO_SITES = """
name: two-sites
regions:
  - {name: east, carbon_g_per_kwh: 600}
  - {name: west, carbon_g_per_kwh: 150}
links:
  - {src: east, dst: west, rtt_ms: 40, bandwidth_gbps: 8, egress_per_gb: 0.5}
sites:
  - name: east-a100
    region: east
    tier: city
    pue: 1.5
    green_share: 0.0
    price_per_pf16h: 10
    pools: [{name: a100, accelerator: A100, per_node: 8, nodes: 1}]
  - name: west-h100
    region: west
    tier: hub
    pue: 1.2
    green_share: 0.5
    price_per_pf16h: 8
    pools: [{name: h100, accelerator: H100, per_node: 8, nodes: 1}]
"""


def federation(text: str = TWO_SITES) -> Federation:
    return parse_federation(text, "<test>")


def job(id: str = "j", **kw: Any) -> Job:
    kw.setdefault("tenant", "t")
    return Job(id=id, **kw)

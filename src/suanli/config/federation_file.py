"""Federation YAML files: parse, validate against the accelerator catalog, and name every error.

Format (all keys but names optional)::

    name: demo
    defaults: {bandwidth_gbps: 10, rtt_ms: 50}
    regions:
      - {name: shanghai, grid_zone: CN-SH, carbon_g_per_kwh: 584.9}
    links:
      - {src: shanghai, dst: ningxia, rtt_ms: 30.1, bandwidth_gbps: 10, egress_per_gb: 0.05}
    sites:
      - name: sh-city-1
        region: shanghai
        tier: city            # hub | city | edge
        owner: acme
        engine: local         # local | slurm | ray
        engine_options: {}    # slurm: partition, account, qos, sbatch_flags; ray: address
        pue: 1.25
        green_share: 0.1
        price_per_pf16h: 12   # the provider's ask per PF16-h (before the fee): its default spot ask
        pools:
          - {name: a100, accelerator: A100, per_node: 8, nodes: 4}
    tenants:
      - {name: lab-a, home_region: shanghai, quota_pf16: 10, budget: 10000,
         queues: [{name: default, priority_class: 0}]}
      - name: lab-b
        budget: {pf16h: 500, per: month}     # at most 500 PF16-h a month across every site
        queues:
          - {name: default, quota_pf16: 2, budget: {money: 800, pf16h: 40, per: day}}

A ``budget`` (tenant or queue) is a number (money, all time) or a mapping of ``money`` and/or
``pf16h`` with an optional ``per: day | month`` (UTC calendar periods; all time without it).

``load_federation`` accepts a path or the name of a packaged federation
(``suanli/data/federations/<name>.yaml``).
"""

from __future__ import annotations

from collections.abc import Mapping
from importlib import resources
from pathlib import Path
from typing import Any

from suanli.config import fields as f
from suanli.domain.accelerators import Catalog, default_catalog
from suanli.domain.errors import ConfigError, InvalidInput
from suanli.domain.federation import (
    ENGINE_OPTIONS,
    BudgetPer,
    EngineKind,
    Federation,
    Link,
    Pool,
    Queue,
    Region,
    Site,
    Tenant,
    Tier,
)

SITE_KEYS = ("name", "region", "tier", "owner", "engine", "pue", "green_share", "grid_zone",
             "carbon_g_per_kwh", "price_per_pf16h", "pools", "carbon_series", "engine_options")


def packaged_federations() -> list[str]:
    folder = resources.files("suanli.data").joinpath("federations")
    return sorted(p.name[:-5] for p in folder.iterdir() if p.name.endswith(".yaml"))


def load_federation(name_or_path: str | Path, catalog: Catalog | None = None) -> Federation:
    """Read a federation from a file path or a packaged name; raise ``ConfigError`` naming the file."""
    path = Path(name_or_path)
    if path.suffix in (".yaml", ".yml") or path.exists():
        if not path.exists():
            raise ConfigError("file not found", field="federation", value=str(path),
                              fix="give a federation YAML path or one of: " + ", ".join(packaged_federations()))
        return parse_federation(path.read_text(encoding="utf-8"), str(path), catalog)
    name = str(name_or_path)
    if name not in packaged_federations():
        raise ConfigError("no such packaged federation and no such file", field="federation", value=name,
                          fix="give a YAML path or one of: " + ", ".join(packaged_federations()))
    text = resources.files("suanli.data").joinpath("federations", f"{name}.yaml").read_text(encoding="utf-8")
    return parse_federation(text, f"<packaged {name}.yaml>", catalog)


def parse_federation(text: str, where: str = "<federation>", catalog: Catalog | None = None) -> Federation:
    catalog = catalog or default_catalog()
    doc = f.load_yaml(text, where)
    with f.located(where):
        return _federation(f.mapping(doc, ""), catalog).validate(catalog)


def _federation(doc: Mapping[str, Any], catalog: Catalog) -> Federation:
    f.check_keys(doc, "", ("name", "description", "notes", "defaults", "regions", "links", "sites", "tenants"))
    defaults = f.mapping(f.get(doc, "defaults", "", {}), "defaults")
    f.check_keys(defaults, "defaults", ("bandwidth_gbps", "rtt_ms"))
    regions = tuple(_region(f.mapping(r, f.path("regions", i)), f.path("regions", i))
                    for i, r in enumerate(f.items(doc, "regions", "")))
    links = tuple(_link(f.mapping(x, f.path("links", i)), f.path("links", i))
                  for i, x in enumerate(f.items(doc, "links", "", [])))
    sites = tuple(_site(f.mapping(s, f.path("sites", i)), f.path("sites", i), catalog)
                  for i, s in enumerate(f.items(doc, "sites", "")))
    tenants = tuple(_tenant(f.mapping(t, f.path("tenants", i)), f.path("tenants", i))
                    for i, t in enumerate(f.items(doc, "tenants", "", [])))
    return Federation(
        name=f.text(doc, "name", ""),
        regions=regions, links=links, sites=sites, tenants=tenants,
        default_bandwidth_gbps=f.number(defaults, "bandwidth_gbps", "defaults", 10.0, positive=True),
        default_rtt_ms=f.number(defaults, "rtt_ms", "defaults", 50.0, minimum=0),
    )


def _region(m: Mapping[str, Any], where: str) -> Region:
    f.check_keys(m, where, ("name", "grid_zone", "carbon_g_per_kwh", "notes"))
    return Region(name=f.text(m, "name", where), grid_zone=str(f.get(m, "grid_zone", where, "")),
                  carbon_g_per_kwh=f.number(m, "carbon_g_per_kwh", where, 500.0, minimum=0))


def _link(m: Mapping[str, Any], where: str) -> Link:
    f.check_keys(m, where, ("src", "dst", "rtt_ms", "bandwidth_gbps", "egress_per_gb"))
    return Link(src=f.text(m, "src", where), dst=f.text(m, "dst", where),
                rtt_ms=f.number(m, "rtt_ms", where, minimum=0),
                bandwidth_gbps=f.number(m, "bandwidth_gbps", where, 10.0, positive=True),
                egress_per_gb=f.number(m, "egress_per_gb", where, 0.0, minimum=0))


def _pool(m: Mapping[str, Any], where: str, catalog: Catalog) -> Pool:
    f.check_keys(m, where, ("name", "accelerator", "per_node", "nodes", "cpus_per_node", "memory_gb_per_node"))
    acc = catalog.get(f.text(m, "accelerator", where), field=f.path(where, "accelerator"))
    return Pool(name=f.text(m, "name", where, acc.id), accelerator=acc,
                per_node=f.integer(m, "per_node", where, 8, positive=True),
                nodes=f.integer(m, "nodes", where, positive=True),
                cpus_per_node=f.integer(m, "cpus_per_node", where, 64, positive=True),
                memory_gb_per_node=f.number(m, "memory_gb_per_node", where, 512.0, positive=True))


def _site(m: Mapping[str, Any], where: str, catalog: Catalog) -> Site:
    f.check_keys(m, where, SITE_KEYS)
    pools = tuple(_pool(f.mapping(p, f.path(f.path(where, "pools"), j)), f.path(f.path(where, "pools"), j), catalog)
                  for j, p in enumerate(f.items(m, "pools", where)))
    if not pools:
        raise InvalidInput("a site needs at least one pool", field=f.path(where, "pools"), value=[],
                           fix="add a pool: {name, accelerator, per_node, nodes}")
    carbon = f.number(m, "carbon_g_per_kwh", where, None, minimum=0)
    engine = f.choice(m, "engine", where, EngineKind, EngineKind.LOCAL)
    return Site(
        name=f.text(m, "name", where), region=f.text(m, "region", where),
        tier=f.choice(m, "tier", where, Tier, Tier.HUB), owner=str(f.get(m, "owner", where, "operator")),
        engine=engine, engine_options=engine_options(f.get(m, "engine_options", where, None) or {},
                                                     engine, f.path(where, "engine_options")),
        pue=f.number(m, "pue", where, 1.4, minimum=1.0),
        green_share=f.number(m, "green_share", where, 0.0, minimum=0.0, maximum=1.0),
        grid_zone=str(f.get(m, "grid_zone", where, "")), carbon_g_per_kwh=carbon,
        price_per_pf16h=f.number(m, "price_per_pf16h", where, 10.0, minimum=0),
        pools=pools, carbon_series=f.get(m, "carbon_series", where, None),
    )


def engine_options(m: Any, engine: EngineKind, where: str) -> tuple[tuple[str, str], ...]:
    """A site's ``engine_options``: names its engine knows (``ENGINE_OPTIONS``), text values."""
    m = f.mapping(m, where)
    f.check_keys(m, where, ENGINE_OPTIONS[engine])
    return tuple(sorted((str(k), str(v)) for k, v in m.items()))


def _budget(m: Mapping[str, Any], where: str) -> tuple[float | None, float | None, BudgetPer | None]:
    """A ``budget`` field: a number (money, all time) or ``{money, pf16h, per}``."""
    raw = f.get(m, "budget", where, None)
    if raw is None or (isinstance(raw, int | float) and not isinstance(raw, bool)):
        return f.number(m, "budget", where, None, minimum=0), None, None
    bw = f.path(where, "budget")
    if not isinstance(raw, Mapping):
        raise InvalidInput("must be a number (money) or a mapping", field=bw, value=raw,
                           fix="write e.g. budget: 10000, or budget: {pf16h: 500, per: month}")
    f.check_keys(raw, bw, ("money", "pf16h", "per"))
    money = f.number(raw, "money", bw, None, minimum=0)
    pf16h = f.number(raw, "pf16h", bw, None, minimum=0)
    if money is None and pf16h is None:
        raise InvalidInput("a budget needs money or pf16h", field=bw, value=dict(raw),
                           fix="add money: 1000 and/or pf16h: 500")
    per = f.choice(raw, "per", bw, BudgetPer) if raw.get("per") is not None else None
    return money, pf16h, per


def _tenant(m: Mapping[str, Any], where: str) -> Tenant:
    f.check_keys(m, where, ("name", "home_region", "queues", "quota_pf16", "budget", "weight"))
    queues = []
    for j, q in enumerate(f.items(m, "queues", where, [{"name": "default"}])):
        qw = f.path(f.path(where, "queues"), j)
        q = f.mapping(q, qw)
        f.check_keys(q, qw, ("name", "quota_pf16", "priority_class", "budget"))
        money, pf16h, per = _budget(q, qw)
        queues.append(Queue(name=f.text(q, "name", qw), quota_pf16=f.number(q, "quota_pf16", qw, None, minimum=0),
                            priority_class=f.integer(q, "priority_class", qw, 0),
                            budget=money, budget_pf16h=pf16h, budget_per=per))
    money, pf16h, per = _budget(m, where)
    return Tenant(name=f.text(m, "name", where), home_region=f.get(m, "home_region", where, None),
                  queues=tuple(queues), quota_pf16=f.number(m, "quota_pf16", where, None, minimum=0),
                  budget=money, budget_pf16h=pf16h, budget_per=per,
                  weight=f.number(m, "weight", where, 1.0, positive=True))

"""Per-pool inventory of a Ray cluster, from what its dashboard reports (pure: no Ray, no I/O).

The ray backend fetches two dashboard answers and hands them here:

- the state API's node list (``GET /api/v0/nodes``): every node, alive or dead, with its
  ``resources_total`` (``GPU``, and ``accelerator_type:<name>`` when Ray detected or was told the
  accelerator) and labels;
- the cluster resource report (``GET /api/cluster_status?format=0``, what ``ray status`` shows):
  ``loadMetricsReport.usageByNode[node_id]["GPU"] == [used, total]`` for each alive node. It lags
  the job states by about a heartbeat (1-2 s on Ray 2.60).

Nodes go to pools like this: with one declared pool, every node with GPUs is in it. With several,
a node whose accelerator type matches a pool's accelerator (case-insensitive) is in that pool; the
other GPU nodes fill the pools in declared order, each up to its declared node count (sorted by
node name, then id, so the split is stable); nodes left over belong to no pool. A dead node is
dropped when an alive node has the same name (Ray keeps the dead entry of a restarted raylet).

``external`` is what the engine runs for others: GPUs used on a node minus the GPUs suanli's own
running jobs hold there (never below zero).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from suanli.agent.backends import NodeState, PoolInventory, PoolSpec

ACCELERATOR_PREFIX = "accelerator_type:"
ACCELERATOR_LABEL = "ray.io/accelerator-type"


@dataclass(frozen=True)
class RayNode:
    node_id: str
    name: str
    state: str          # Ray's word, lower case: alive, dead
    gpus: int
    used: int
    accelerator: str    # "" when Ray does not know it

    @property
    def alive(self) -> bool:
        return self.state == "alive"


def accelerator_of(resources: Mapping[str, float], labels: Mapping[str, str]) -> str:
    for key in resources:
        if key.startswith(ACCELERATOR_PREFIX):
            return key[len(ACCELERATOR_PREFIX):]
    return str(labels.get(ACCELERATOR_LABEL) or "")


def parse_nodes(state_nodes: Iterable[Mapping[str, Any]], usage_by_node: Mapping[str, Any]) -> list[RayNode]:
    """``RayNode``s from the state API's node rows and the report's ``usageByNode``."""
    nodes = []
    for row in state_nodes:
        node_id = str(row.get("node_id") or "")
        resources = dict(row.get("resources_total") or {})
        gpu_usage = (usage_by_node.get(node_id) or {}).get("GPU") or [0.0, 0.0]
        state = str(row.get("state") or "").lower()
        nodes.append(RayNode(
            node_id=node_id,
            name=str(row.get("node_name") or row.get("node_ip") or node_id),
            state=state,
            gpus=int(float(resources.get("GPU") or 0)),
            used=math.ceil(float(gpu_usage[0])) if state == "alive" else 0,
            accelerator=accelerator_of(resources, dict(row.get("labels") or {})),
        ))
    alive_names = {n.name for n in nodes if n.alive}
    return [n for n in nodes if n.alive or n.name not in alive_names]


def assign(nodes: list[RayNode], pools: list[PoolSpec]) -> dict[str, list[RayNode]]:
    """Which nodes make up each pool (see the module docstring)."""
    out: dict[str, list[RayNode]] = {p.name: [] for p in pools}
    gpu_nodes = sorted((n for n in nodes if n.gpus > 0), key=lambda n: (n.name, n.node_id))
    if len(pools) == 1:
        out[pools[0].name] = gpu_nodes
        return out
    by_accelerator = {p.accelerator.lower(): p.name for p in reversed(pools)}
    rest = []
    for n in gpu_nodes:
        pool = by_accelerator.get(n.accelerator.lower()) if n.accelerator else None
        if pool is None:
            rest.append(n)
        else:
            out[pool].append(n)
    for p in pools:
        while rest and len(out[p.name]) < p.nodes:
            out[p.name].append(rest.pop(0))
    return out


def inventory(nodes: list[RayNode], pools: list[PoolSpec], held: Mapping[str, int]) -> dict[str, PoolInventory]:
    """``held``: GPUs suanli's running jobs hold, per node id."""
    result = {}
    for name, members in assign(nodes, pools).items():
        states = tuple(NodeState(name=n.name, state=n.state, total=n.gpus, allocated=min(n.used, n.gpus),
                                 healthy=n.alive) for n in members)
        result[name] = PoolInventory(
            total=sum(n.gpus for n in members),
            free=sum(max(0, n.gpus - n.used) for n in members if n.alive),
            healthy=sum(n.gpus for n in members if n.alive),
            external=sum(max(0, n.used - int(held.get(n.node_id, 0))) for n in members if n.alive),
            nodes=states,
        )
    return result


def pool_resources(nodes: list[RayNode], pools: list[PoolSpec]) -> dict[str, str]:
    """Pool name -> the Ray resource that pins a job to it (``accelerator_type:<name>``), for the
    pools whose nodes all carry the same accelerator type; only when there are several pools."""
    if len(pools) < 2:
        return {}
    out = {}
    for name, members in assign(nodes, pools).items():
        kinds = {n.accelerator for n in members}
        if len(kinds) == 1 and "" not in kinds:
            out[name] = ACCELERATOR_PREFIX + kinds.pop()
    return out

"""Nodes of a Ray cluster split into pools, and each pool's counts (pure; no Ray needed).
Every expected number is worked out by hand in the comments."""

from __future__ import annotations

from suanli.agent.backends import PoolSpec
from suanli.agent.backends.ray_inventory import RayNode, assign, inventory, parse_nodes, pool_resources


def _row(node_id: str, name: str, gpus: float, state: str = "ALIVE", accelerator: str = "") -> dict[str, object]:
    resources: dict[str, float] = {"CPU": 8.0, "GPU": gpus} if gpus else {"CPU": 8.0}
    if accelerator:
        resources[f"accelerator_type:{accelerator}"] = 1.0
    return {"node_id": node_id, "node_name": name, "state": state, "resources_total": resources, "labels": {}}


def test_parse_takes_used_gpus_from_the_report_and_drops_a_dead_twin() -> None:
    rows = [_row("a", "10.0.0.1", 4), _row("old", "10.0.0.2", 4, state="DEAD"), _row("b", "10.0.0.2", 4),
            _row("c", "10.0.0.3", 2, state="DEAD"), _row("cpu", "10.0.0.9", 0)]
    usage = {"a": {"GPU": [1.5, 4.0]}, "b": {"GPU": [0.0, 4.0]}, "old": {"GPU": [4.0, 4.0]}}
    nodes = parse_nodes(rows, usage)
    # "old" has a live twin with the same name: dropped. "c" is dead with no twin: kept, used 0.
    # 1.5 GPUs used count as 2 (a fraction of a GPU is not free).
    assert [(n.node_id, n.state, n.gpus, n.used) for n in nodes] == [
        ("a", "alive", 4, 2), ("b", "alive", 4, 0), ("c", "dead", 2, 0), ("cpu", "alive", 0, 0)]


def test_one_pool_takes_every_gpu_node() -> None:
    nodes = [RayNode("a", "n1", "alive", 4, 3, ""), RayNode("b", "n2", "dead", 4, 0, "A100"),
             RayNode("cpu", "n0", "alive", 0, 0, "")]
    inv = inventory(nodes, [PoolSpec("p", "H100", 4, 2)], held={"a": 2})
    p = inv["p"]
    # total 4 + 4 = 8; healthy: only a = 4; free: a has 4 - 3 = 1, b is dead = 1;
    # external: a uses 3, suanli holds 2 there -> 1.
    assert (p.total, p.healthy, p.free, p.external) == (8, 4, 1, 1)
    assert [(s.name, s.state, s.total, s.allocated, s.healthy) for s in p.nodes] == [
        ("n1", "alive", 4, 3, True), ("n2", "dead", 4, 0, False)]


def test_several_pools_by_accelerator_type_then_in_declared_order() -> None:
    pools = [PoolSpec("big", "H100", 8, 1), PoolSpec("mid", "A100", 4, 2), PoolSpec("small", "L4", 2, 1)]
    nodes = [RayNode("x", "n3", "alive", 4, 0, "a100"), RayNode("y", "n1", "alive", 8, 8, ""),
             RayNode("z", "n2", "alive", 2, 0, ""), RayNode("w", "n4", "alive", 2, 1, "")]
    got = assign(nodes, pools)
    # x matches A100 (case-insensitive) -> mid. The untyped nodes sorted by name: n1, n2, n4.
    # big wants 1 node: n1. mid wants 2 and has x: n2. small wants 1: n4.
    assert {k: [n.node_id for n in v] for k, v in got.items()} == {"big": ["y"], "mid": ["x", "z"], "small": ["w"]}
    inv = inventory(nodes, pools, held={"y": 8})
    assert (inv["big"].total, inv["big"].free, inv["big"].external) == (8, 0, 0)
    assert (inv["mid"].total, inv["mid"].free) == (6, 6)
    assert (inv["small"].total, inv["small"].free, inv["small"].external) == (2, 1, 1)
    # only a pool made of typed nodes of one kind can pin jobs to its nodes ("mid" has an untyped n2)
    assert pool_resources(nodes, pools) == {}
    typed = [RayNode("x", "n3", "alive", 4, 0, "A100"), RayNode("y", "n1", "alive", 8, 0, "H100")]
    assert pool_resources(typed, pools) == {"big": "accelerator_type:H100", "mid": "accelerator_type:A100"}


def test_nodes_beyond_the_declared_pools_belong_to_none() -> None:
    pools = [PoolSpec("a", "A100", 4, 1), PoolSpec("b", "H100", 4, 1)]
    nodes = [RayNode(str(i), f"n{i}", "alive", 4, 0, "") for i in range(3)]
    inv = inventory(nodes, pools, held={})
    # n0 -> a, n1 -> b, n2 -> nowhere: each pool has 4, not 6.
    assert (inv["a"].total, inv["b"].total) == (4, 4)

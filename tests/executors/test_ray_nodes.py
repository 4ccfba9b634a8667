"""Placement rules over Ray's node table: which nodes get callers, how many, which region."""

from __future__ import annotations

from typing import Any

import pytest

from harness.executors.ray_nodes import caller_nodes, region_of


def _node(node_id: str, cpus: float, *, alive: bool = True, labels: dict[str, str] | None = None,
          resources: dict[str, float] | None = None) -> dict[str, Any]:
    return {"NodeID": node_id, "Alive": alive, "NodeManagerAddress": "127.0.0.1",
            "Resources": {"CPU": cpus, **(resources or {})}, "Labels": labels or {}}


def test_region_label_then_cloud_label_then_resource() -> None:
    both = {"region": "eu-west", "ray.io/availability-region": "europe-west1"}
    assert region_of(both, {"region:us-east": 1}) == "eu-west"
    assert region_of({"ray.io/availability-region": "europe-west1"}, {"region:us-east": 1}) == "europe-west1"
    assert region_of({"ray.io/node-id": "abc"}, {"CPU": 2, "region:us-east": 1}) == "us-east"
    assert region_of({}, {"region:us-east": 0}) == ""  # a resource of zero is not a label
    assert region_of({}, {"CPU": 4}) == ""


def test_callers_go_to_live_nodes_with_cpus() -> None:
    nodes = [
        _node("head", 0, labels={"region": "eu"}),  # a head kept free of work
        _node("a", 4, labels={"region": "eu"}),
        _node("b", 1.5, resources={"region:us": 1}),
        _node("dead", 8, alive=False),
    ]
    placed = caller_nodes(nodes)
    assert [(n.node_id, n.region, n.actors, n.cpus_per_actor) for n in placed] == [
        ("a", "eu", 4, 1.0), ("b", "us", 1, 1.0)]
    fixed = caller_nodes(nodes, workers_per_node=3)
    assert [(n.node_id, n.actors) for n in fixed] == [("a", 3), ("b", 3)]
    # three actors on 1.5 CPUs reserve half a CPU each: they all fit
    assert fixed[1].cpus_per_actor * 3 <= 1.5 and fixed[1].cpus_per_actor == pytest.approx(0.5)
    with pytest.raises(ValueError, match=">= 1"):
        caller_nodes(nodes, workers_per_node=0)

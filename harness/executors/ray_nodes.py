"""Which Ray nodes get callers, how many, and which region each is in.

Pure functions over the node table Ray reports (``ray.nodes()``), so the placement
rules are read and tested without a cluster.

Region, first found wins:

1. the node label ``region`` (``ray start --labels region=eu-west``; in Python
   ``labels={"region": "eu-west"}``),
2. the label ``ray.io/availability-region`` (set by Ray's cloud launchers),
3. a custom resource named ``region:<name>`` (``ray start --resources
   '{"region:eu-west": 1}'``), for clusters whose Ray has no labels.

A node with none of these has region ``""`` (reported as ``unlabelled``).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

__all__ = [
    "CLOUD_REGION_LABEL",
    "REGION_LABEL",
    "REGION_RESOURCE_PREFIX",
    "CallerNode",
    "caller_nodes",
    "region_of",
]

REGION_LABEL = "region"
CLOUD_REGION_LABEL = "ray.io/availability-region"
REGION_RESOURCE_PREFIX = "region:"


@dataclass(frozen=True, slots=True, kw_only=True)
class CallerNode:
    """One node that will host caller workers, and how they share its CPUs."""

    node_id: str
    address: str
    region: str
    actors: int
    cpus_per_actor: float
    """What each actor reserves from the node's ``CPU`` resource (so they all fit)."""


def region_of(labels: Mapping[str, str], resources: Mapping[str, float]) -> str:
    for key in (REGION_LABEL, CLOUD_REGION_LABEL):
        value = labels.get(key, "")
        if value:
            return value
    named = sorted(
        name[len(REGION_RESOURCE_PREFIX):] for name, amount in resources.items()
        if name.startswith(REGION_RESOURCE_PREFIX) and amount > 0
    )
    return named[0] if named else ""


def caller_nodes(nodes: Iterable[Mapping[str, Any]], workers_per_node: int | None = None) -> list[CallerNode]:
    """Every live node that offers CPUs to Ray, with its share of caller actors.

    ``workers_per_node``: actors on each node; ``None``: one per CPU the node offers
    (at least one). A node that offers no CPU (a head started with ``--num-cpus 0``,
    as Ray advises for big clusters) gets none. Actors reserve equal fractions of the
    node's CPUs, so Ray can always place them all.
    """
    if workers_per_node is not None and workers_per_node < 1:
        raise ValueError(f"workers per node must be >= 1, got {workers_per_node}")
    out = []
    for node in nodes:
        resources: Mapping[str, float] = node.get("Resources") or {}
        cpus = float(resources.get("CPU", 0.0))
        if not node.get("Alive") or cpus <= 0:
            continue
        actors = workers_per_node or max(1, math.floor(cpus))
        labels: Mapping[str, str] = node.get("Labels") or {}
        out.append(CallerNode(
            node_id=str(node["NodeID"]),
            address=str(node.get("NodeManagerAddress", "")),
            region=region_of(labels, resources),
            actors=actors,
            # rounded down a little: Ray keeps resources in fixed point (1e-4)
            cpus_per_actor=math.floor(min(1.0, cpus / actors) * 1e4) / 1e4,
        ))
    return out

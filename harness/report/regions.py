"""Turn latency per caller region: what a team checking its global routing reads first.

When callers run on Ray nodes in several regions (``docs/ray.md``), each call records
its node's region label (``recording.worker.region``); the same endpoint answering
callers in ``eu-west`` at p50 400 ms and in ``ap-south`` at 900 ms is a routing
problem no overall percentile shows. The breakdown reuses the run summary's
statistics (percentiles with bootstrap CIs), one group per region.

Calls the validity guard marked disturbed say more about the harness than about the
route, so they are left out (and counted). A run whose calls all ran locally has no
regions and no breakdown.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass

from harness.records import Measurement, MetricSummary
from harness.report.context import CallEntry
from harness.stats.percentiles import summarize

__all__ = ["LATENCY_METRIC", "UNLABELLED", "RegionLatency", "call_region", "region_latency"]

LATENCY_METRIC = "turn_latency_ms"
UNLABELLED = "unlabelled"
"""The region of a call that ran on a node without a region label."""


@dataclass(frozen=True, slots=True, kw_only=True)
class RegionLatency:
    region: str
    calls: int
    """Calls that ran in the region and were not disturbed."""
    nodes: int
    """Distinct nodes those calls ran on."""
    disturbed: int
    """Calls of the region left out because the harness disturbed them."""
    summary: MetricSummary
    """``LATENCY_METRIC`` over the region's turns (``group`` is ``region=<name>``)."""


def call_region(call: CallEntry) -> str | None:
    """The call's region; ``None`` when it ran locally (not on a Ray node) or is unreadable."""
    worker = call.recording.worker if call.recording is not None else None
    if worker is None or (worker.node == "local" and not worker.region):
        return None
    return worker.region or UNLABELLED


def region_latency(calls: Sequence[CallEntry], metric: str = LATENCY_METRIC,
                   n_resamples: int = 500) -> tuple[RegionLatency, ...]:
    """One row per region (sorted by name); empty when no call ran in a region."""
    by_region: dict[str, list[CallEntry]] = {}
    for call in calls:
        region = call_region(call)
        if region is not None:
            by_region.setdefault(region, []).append(call)
    rows = []
    for region, members in sorted(by_region.items()):
        kept = [c for c in members if not _disturbed(c)]
        values: list[Measurement] = [m for c in kept for m in c.measurements if m.metric == metric]
        if values:
            (summary,) = summarize(values, by=("metric",), n_resamples=n_resamples)
        else:
            summary = MetricSummary(metric=metric, unit="ms", group="all", n=0, p50=None, p90=None,
                                    p95=None, p99=None, max=None, mean=None)
        rows.append(RegionLatency(
            region=region, calls=len(kept), disturbed=len(members) - len(kept),
            nodes=len({c.recording.worker.node for c in kept if c.recording and c.recording.worker}),
            summary=dataclasses.replace(summary, group=f"region={region}"),
        ))
    return tuple(rows)


def _disturbed(call: CallEntry) -> bool:
    validity = call.recording.validity if call.recording is not None else None
    return validity is not None and validity.disturbed

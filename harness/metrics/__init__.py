"""Metric families: pure functions from one call's Timeline to Measurements.

One module per family; :data:`FAMILIES` is the registry, so a new family is one line
here and every caller of :func:`measure_all` (runner, rescore) picks it up unchanged.
"""

from __future__ import annotations

from harness.metrics.activity import measure_activity
from harness.metrics.base import MetricFamily
from harness.metrics.latency import measure_latency
from harness.records import CallRecording, Measurement, Scenario, Timeline

__all__ = ["FAMILIES", "MetricFamily", "measure_all"]

FAMILIES: dict[str, MetricFamily] = {
    "latency": measure_latency,
    "activity": measure_activity,
}


def measure_all(
    timeline: Timeline, scenario: Scenario, recording: CallRecording
) -> tuple[Measurement, ...]:
    """Every family's measurements for one call, in registry order."""
    out: list[Measurement] = []
    for family in FAMILIES.values():
        out.extend(family(timeline, scenario, recording))
    return tuple(out)

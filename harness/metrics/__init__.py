"""Metric families: pure functions from one call's Timeline to Measurements.

One module per family; :data:`FAMILIES` is the registry, so a new family is one line
here and every caller of :func:`measure_all` (runner, rescore) picks it up unchanged.
"""

from __future__ import annotations

from collections.abc import Callable

from harness.metrics.accuracy import measure_accuracy
from harness.metrics.activity import measure_activity
from harness.metrics.barge_in import measure_barge_in
from harness.metrics.base import MetricFamily
from harness.metrics.breakdown import measure_breakdown
from harness.metrics.endpointing import measure_cutoffs, measure_talk_over
from harness.metrics.heard import measure_heard_family
from harness.metrics.latency import measure_latency
from harness.metrics.quality import measure_quality
from harness.metrics.transport import measure_transport
from harness.records import CallAudio, CallRecording, Measurement, Scenario, Timeline

__all__ = ["AUDIO_FAMILIES", "FAMILIES", "AudioMetricFamily", "MetricFamily", "measure_all"]

FAMILIES: dict[str, MetricFamily] = {
    "latency": measure_latency,
    "breakdown": measure_breakdown,
    "activity": measure_activity,
    "barge_in": measure_barge_in,
    "cutoffs": measure_cutoffs,
    "talk_over": measure_talk_over,
}


AudioMetricFamily = Callable[
    [Timeline, Scenario, CallRecording, CallAudio | None], tuple[Measurement, ...]
]
"""A family that also judges the audio itself; it gets ``None`` when no audio is at hand."""

AUDIO_FAMILIES: dict[str, AudioMetricFamily] = {
    "transport": measure_transport,
    "quality": measure_quality,
    "accuracy": measure_accuracy,
    "heard": measure_heard_family,
}


def measure_all(
    timeline: Timeline,
    scenario: Scenario,
    recording: CallRecording,
    audio: CallAudio | None = None,
) -> tuple[Measurement, ...]:
    """Every family's measurements for one call, in registry order (audio families last)."""
    out: list[Measurement] = []
    for family in FAMILIES.values():
        out.extend(family(timeline, scenario, recording))
    for audio_family in AUDIO_FAMILIES.values():
        out.extend(audio_family(timeline, scenario, recording, audio))
    return tuple(out)

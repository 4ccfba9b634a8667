"""Latency as heard: the browser caller's second view of the same turns.

Every caller reports turn latency at the network edge (``turn_latency_ms``: received
audio timed at packet arrival). The browser caller also knows when Chromium played
each packet out of its adaptive jitter buffer (``recording.heard_anchors``); timing the
same received audio by those anchors gives the latency a listener at the page hears:

- ``turn_latency_heard_ms`` / ``greeting_latency_heard_ms``: as ``turn_latency_ms`` /
  ``greeting_latency_ms`` (same reply matching, same segmenter), with agent onsets at
  their playout time. Informational: the step's ``within_ms`` is judged on the network
  edge only, so one slow jitter buffer does not fail a turn twice.
- ``jitter_buffer_ms`` (per call): Chromium's own average jitter-buffer delay
  (getStats ``jitterBufferDelay / jitterBufferEmittedCount``), the main part of the
  difference between the two views.

Needs the received audio (onsets are found in it), so it is called beside the metric
families rather than registered among them: ``measure_heard(recording, scenario, received)``.
"""

from __future__ import annotations

import dataclasses
import statistics

import numpy as np
from numpy.typing import NDArray

from harness.analysis.timeline import build_timeline
from harness.metrics.base import measurement
from harness.metrics.latency import GREETING_LATENCY, TURN_LATENCY, measure_latency
from harness.records import (
    CallAudio,
    CallRecording,
    Measurement,
    Scenario,
    SegmentationParams,
    Timeline,
)

__all__ = [
    "GREETING_LATENCY_HEARD",
    "JITTER_BUFFER",
    "TURN_LATENCY_HEARD",
    "heard_timeline",
    "measure_heard",
]

TURN_LATENCY_HEARD = "turn_latency_heard_ms"
GREETING_LATENCY_HEARD = "greeting_latency_heard_ms"
JITTER_BUFFER = "jitter_buffer_ms"
_RENAMED = {TURN_LATENCY: TURN_LATENCY_HEARD, GREETING_LATENCY: GREETING_LATENCY_HEARD}


def heard_timeline(
    recording: CallRecording,
    received: NDArray[np.floating],
    params: SegmentationParams = SegmentationParams(),  # noqa: B008 - frozen, safe default
    caller_audio: NDArray[np.floating] | None = None,
) -> Timeline | None:
    """The call's timeline with agent speech timed at playout; ``None`` without that view.

    ``caller_audio`` places the caller's ends as the network-edge timeline does.
    """
    if not recording.heard_anchors or np.asarray(received).size == 0:
        return None
    return build_timeline(dataclasses.replace(recording, received_anchors=recording.heard_anchors), received,
                          params, caller_audio)


def measure_heard(
    recording: CallRecording,
    scenario: Scenario,
    received: NDArray[np.floating],
    params: SegmentationParams = SegmentationParams(),  # noqa: B008 - frozen, safe default
    caller_audio: NDArray[np.floating] | None = None,
) -> tuple[Measurement, ...]:
    """As-heard latencies per turn and the call's jitter-buffer delay (nothing for other callers)."""
    out: list[Measurement] = []
    timeline = heard_timeline(recording, received, params, caller_audio)
    if timeline is not None:
        for m in measure_latency(timeline, scenario, recording):
            name = _RENAMED.get(m.metric)
            if name is not None:
                out.append(dataclasses.replace(m, metric=name, passed=None))
    jb = call_jitter_buffer_ms(recording)
    if jb is not None:
        out.append(measurement(recording, turn=None, metric=JITTER_BUFFER, value=jb, unit="ms"))
    return tuple(out)


def call_jitter_buffer_ms(recording: CallRecording) -> float | None:
    """The whole call's average, as the caller recorded it; else the mean of the readings."""
    value = recording.caller_info.get("jitter_buffer_ms")
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    readings = [t.jitter_buffer_ms for t in recording.transport if t.jitter_buffer_ms is not None]
    return statistics.fmean(readings) if readings else None


def measure_heard_family(
    timeline: Timeline, scenario: Scenario, recording: CallRecording, audio: CallAudio | None
) -> tuple[Measurement, ...]:
    """``measure_heard`` as an audio family: it re-times the received audio as heard."""
    if audio is None or audio.received.size == 0:
        return ()
    return measure_heard(recording, scenario, audio.received, timeline.params, audio.caller)

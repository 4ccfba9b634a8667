"""Recording -> measurements: the pure half of a call, shared by ``run`` and ``rescore``.

Nothing here touches the network or the clock, so a metric fix is applied to an old
run by re-reading its recordings from disk.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping

import numpy as np

from harness.analysis.timeline import build_timeline
from harness.metrics import measure_all
from harness.records import (
    CallAudio,
    CallerSpeechEnd,
    CallRecording,
    CallResult,
    Failure,
    Measurement,
    Scenario,
    SegmentationParams,
)
from harness.webrtc.audio import Float32Audio

CALL_FAILED = "call_failed"
"""Metric emitted once per call: 1 when the call failed (reason says why), else 0."""


def failure_measurement(recording: CallRecording, failure: Failure | None) -> Measurement:
    return Measurement(
        call_id=recording.call_id, scenario=recording.scenario_id, endpoint=recording.endpoint,
        caller=recording.caller, repeat=recording.repeat, turn=None if failure is None else failure.step_index,
        metric=CALL_FAILED, value=0.0 if failure is None else 1.0, unit="bool",
        passed=failure is None,
        reason=None if failure is None else f"{failure.kind}: {failure.reason}",
    )


def score_call(
    recording: CallRecording,
    scenario: Scenario,
    received: Float32Audio,
    params: SegmentationParams | None = None,
    caller_audio: Float32Audio | None = None,
    texts: Mapping[str, str] | None = None,
) -> CallResult:
    """Every measurement of one call; a failed call still yields its finished turns.

    ``caller_audio`` (what was sent) is where the caller's speech ends are read
    (``params.caller_end_dbfs``) and the reference of echo-mode quality scores;
    ``texts`` (corpus text per utterance id) the script the endpoint's own transcript
    of the caller is compared with; without them those numbers are not produced.
    """
    measurements: list[Measurement] = [failure_measurement(recording, recording.failure)]
    caller_ends: tuple[CallerSpeechEnd, ...] = ()
    if received.size and recording.received_anchors:
        audio = CallAudio(
            caller=np.zeros(0, np.float32) if caller_audio is None else np.asarray(caller_audio, np.float32),
            received=np.asarray(received, np.float32),
            texts=dict(texts or {}),
        )
        # The caller's ends are placed once, here, from what was sent: every metric
        # (heard latency's second timeline too) counts from the same ends.
        timeline = build_timeline(recording, received, params or SegmentationParams(), audio.caller)
        caller_ends = timeline.caller_ends
        turns = measure_all(timeline, scenario, recording, audio)
        if recording.failure is not None:
            failed_step = recording.failure.step_index
            turns = tuple(m for m in turns if failed_step is None or m.turn is None or m.turn < failed_step)
        measurements.extend(turns)
    if recording.validity is not None and recording.validity.disturbed:
        # Every row says so: a reader of results.jsonl alone must not count it silently.
        measurements = [dataclasses.replace(m, disturbed=True) for m in measurements]
    return CallResult(
        spec_call_id=recording.call_id, scenario=recording.scenario_id, endpoint=recording.endpoint,
        caller=recording.caller, repeat=recording.repeat, measurements=tuple(measurements),
        failure=recording.failure, validity=recording.validity, caller_ends=caller_ends,
    )

"""Turn latency, greeting latency and no-response (docs/metrics.md).

Turn latency is measured from the caller's last voiced sample (``speech_end_ns``, known
to the sample from the corpus) to the first agent burst onset, both on the call clock:
not from the end of the file or its trailing silence, which would flatter every agent
by that silence. The onset is when the reply's decoded sound exists at the caller (its
packet's arrival plus its place in the decoded output, libopus's 312-sample delay
included: docs/timing.md, "The codec term").

Per ``say`` step that awaits a reply:

- the reply is the first agent burst whose onset lies after the utterance's
  ``speech_start_ns`` and before the next sent utterance starts (when there is none:
  before the step's logged end plus its timeout);
- ``no_response`` is 1.0 when that onset is missing or more than ``timeout_ms`` after
  ``speech_end_ns``, else 0.0 — emitted for every measured turn, so its mean is the rate;
- ``turn_latency_ms`` = onset − ``speech_end_ns``, only when answered after the caller
  finished: never negative, so a percentile of it is a wait the caller had. An onset
  before ``speech_end_ns`` (the agent started inside the caller's turn) is not a latency:
  it is ``turn_cut_in_ms`` (how long before the caller's last voiced sample the agent
  started, positive), failing a ``within_ms`` expectation; the cutoff family judges it.

Per ``listen`` step: ``greeting_latency_ms`` = first agent onset − the step's start, or
− ``connected_ns`` when it is the scenario's first step (connect → first agent audio);
onsets from the reference point on count, and the timeout runs from the step's start.
Steps that never ran (absent from ``recording.steps`` / ``recording.sent``, e.g. after
the call failed) produce nothing: the call's failure already says why.
"""

from __future__ import annotations

import bisect

from harness.fmt import ns_to_ms
from harness.metrics.base import NS_PER_MS, check_same_call, measurement
from harness.records import (
    CallRecording,
    Measurement,
    Scenario,
    SentUtterance,
    Step,
    StepKind,
    StepLog,
    Timeline,
)

__all__ = [
    "GREETING_LATENCY",
    "NO_RESPONSE",
    "TURN_CUT_IN",
    "TURN_LATENCY",
    "measure_latency",
]

TURN_LATENCY = "turn_latency_ms"
TURN_CUT_IN = "turn_cut_in_ms"
GREETING_LATENCY = "greeting_latency_ms"
NO_RESPONSE = "no_response"


def measure_latency(
    timeline: Timeline, scenario: Scenario, recording: CallRecording
) -> tuple[Measurement, ...]:
    check_same_call(timeline, scenario, recording)
    onsets = sorted(seg.start_ns for seg in timeline.agent_speech)
    sent = sorted(timeline.caller_speech, key=lambda u: (u.start_ns, u.step_index))
    sent_by_step = {u.step_index: u for u in sent}
    logs = {log.step_index: log for log in recording.steps}
    out: list[Measurement] = []
    for position, step in enumerate(scenario.steps):
        if step.kind is StepKind.SAY and step.await_reply:
            utterance = sent_by_step.get(step.index)
            if utterance is not None:
                out += _turn(step, utterance, sent, logs.get(step.index), onsets, recording)
        elif step.kind is StepKind.LISTEN:
            log = logs.get(step.index)
            if log is not None:
                out += _greeting(step, log, position == 0, sent, onsets, recording)
    return tuple(out)


def _first_onset(onsets: list[int], lo: int, hi: float, *, inclusive: bool) -> int | None:
    """The first onset in ``(lo, hi)`` (or ``[lo, hi)``)."""
    i = bisect.bisect_left(onsets, lo) if inclusive else bisect.bisect_right(onsets, lo)
    if i < len(onsets) and onsets[i] < hi:
        return onsets[i]
    return None


def _next_start(sent: list[SentUtterance], after_ns: int) -> int | None:
    return next((u.start_ns for u in sent if u.start_ns > after_ns), None)



def _turn(
    step: Step,
    utterance: SentUtterance,
    sent: list[SentUtterance],
    log: StepLog | None,
    onsets: list[int],
    recording: CallRecording,
) -> list[Measurement]:
    timeout_ns = step.timeout_ms * NS_PER_MS
    next_start = _next_start(sent, utterance.start_ns)
    if next_start is not None:
        hi: float = next_start
    elif log is not None:
        hi = log.ended_ns + timeout_ns
    else:
        hi = float("inf")
    onset = _first_onset(onsets, utterance.speech_start_ns, hi, inclusive=False)
    missing = _no_response(
        step, onset, utterance.speech_end_ns, "the caller's last voiced sample", recording
    )
    if missing is not None:
        return [missing]
    assert onset is not None
    latency = ns_to_ms(onset - utterance.speech_end_ns)
    if latency < 0:
        # A within_ms expectation cannot hold for a reply that cut the caller off; without
        # one, the cutoff families judge it (a pause sweep measures, it does not fail).
        passed = False if step.expect.within_ms is not None else None
        reason = f"agent started before the caller finished ({-latency:.1f} ms before the last voiced sample)"
        return _answered(recording, step, TURN_CUT_IN, -latency, passed, reason)
    passed, judged = _judge(latency, step.expect.within_ms)
    return _answered(recording, step, TURN_LATENCY, latency, passed, judged)


def _greeting(
    step: Step,
    log: StepLog,
    first_step: bool,
    sent: list[SentUtterance],
    onsets: list[int],
    recording: CallRecording,
) -> list[Measurement]:
    if first_step and recording.connected_ns is not None:
        reference = recording.connected_ns
    else:
        reference = log.started_ns
    lo = min(reference, log.started_ns)
    next_start = _next_start(sent, log.started_ns - 1)
    hi: float = next_start if next_start is not None else float("inf")
    onset = _first_onset(onsets, lo, hi, inclusive=True)
    # The wait for a greeting starts with the step, whatever the latency is counted from.
    missing = _no_response(step, onset, log.started_ns, "the listen step started", recording)
    if missing is not None:
        return [missing]
    assert onset is not None
    latency = ns_to_ms(onset - reference)
    passed, reason = _judge(latency, step.expect.within_ms)
    return _answered(recording, step, GREETING_LATENCY, latency, passed, reason)


def _answered(
    recording: CallRecording, step: Step, metric: str, latency: float, passed: bool | None,
    reason: str | None,
) -> list[Measurement]:
    """An answered step: no_response 0 (so its mean is the rate) and the latency line."""
    return [
        measurement(recording, turn=step.index, metric=NO_RESPONSE, value=0.0, unit="bool", passed=True),
        measurement(recording, turn=step.index, metric=metric, value=latency, unit="ms",
                    passed=passed, reason=reason),
    ]


def _no_response(
    step: Step, onset: int | None, since_ns: int, since: str, recording: CallRecording
) -> Measurement | None:
    """The failing ``no_response`` measurement, or ``None`` when the agent answered in time."""
    if onset is not None and onset - since_ns <= step.timeout_ms * NS_PER_MS:
        return None
    if onset is None:
        reason = f"no agent speech within {step.timeout_ms} ms of {since}"
    else:
        reason = (
            f"first agent speech came {ns_to_ms(onset - since_ns):.0f} ms after {since}, "
            f"past the {step.timeout_ms} ms timeout"
        )
    return measurement(
        recording,
        turn=step.index,
        metric=NO_RESPONSE,
        value=1.0,
        unit="bool",
        passed=False,
        reason=reason,
    )


def _judge(latency_ms: float, within_ms: float | None) -> tuple[bool | None, str | None]:
    if within_ms is None:
        return None, None
    if latency_ms <= within_ms:
        return True, None
    return False, f"{latency_ms:.1f} ms is over the expected {within_ms:g} ms"

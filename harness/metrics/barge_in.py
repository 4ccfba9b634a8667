"""Barge-in and false barge-in (docs/metrics.md).

For a ``barge_in`` step the caller speaks over the agent; for a ``backchannel`` step it
says "uh-huh" (or coughs) over it. Both are judged from audio alone:

- the *agent offset* is the end of the agent burst that was sounding at the caller's
  onset: bursts end only after a silence of at least the segmenter's hangover, so this is
  the start of the first agent silence >= the hangover after the onset;
- ``barge_in_stop_ms`` = agent offset - the caller's interruption onset (first voiced
  sample of the interruption, known to the sample);
- ``barge_in_handled`` = 1 when that is within the step's ``max_stop_ms`` (default
  1000 ms); ``barge_in_ignored`` = its complement: the agent talked on past the limit;
- ``barge_in_answered`` / ``barge_in_answer_latency_ms``: whether the agent then answered
  the interruption, counted like a turn from the interruption's last voiced sample;
- ``false_stop`` (backchannel steps) = 1 when the agent stopped within the limit; a
  ``must_not_stop`` expectation passes only when it did not.

When the agent was not speaking at the caller's onset there is nothing to interrupt:
the value is missing and the reason says so (the scenario's trigger missed).
"""

from __future__ import annotations

from harness.metrics.base import NS_PER_MS, measurement
from harness.records import (
    CallRecording,
    Measurement,
    Scenario,
    SentUtterance,
    StepKind,
    TimedSegment,
    Timeline,
)

DEFAULT_STOP_LIMIT_MS = 1000.0
DEFAULT_ANSWER_TIMEOUT_MS = 5000.0


def measure_barge_in(
    timeline: Timeline, scenario: Scenario, recording: CallRecording
) -> tuple[Measurement, ...]:
    steps = {s.index: s for s in scenario.steps}
    out: list[Measurement] = []
    for sent in timeline.caller_speech:
        step = steps.get(sent.step_index)
        if step is None or sent.kind not in (StepKind.BARGE_IN, StepKind.BACKCHANNEL):
            continue
        limit = step.expect.max_stop_ms or DEFAULT_STOP_LIMIT_MS
        burst = _sounding_at(timeline.agent_speech, sent.speech_start_ns)
        if sent.kind is StepKind.BARGE_IN:
            out += _barge_in(recording, timeline, sent, burst, limit, step.timeout_ms)
        else:
            out += _backchannel(recording, sent, burst, limit, step.expect.must_not_stop)
    return tuple(out)


def _sounding_at(bursts: tuple[TimedSegment, ...], t_ns: int) -> TimedSegment | None:
    return next((b for b in bursts if b.start_ns <= t_ns < b.end_ns), None)


def _barge_in(
    recording: CallRecording,
    timeline: Timeline,
    sent: SentUtterance,
    burst: TimedSegment | None,
    limit_ms: float,
    timeout_ms: int,
) -> list[Measurement]:
    turn = sent.step_index
    if burst is None:
        why = "the agent was not speaking when the interruption started"
        return [measurement(recording, turn=turn, metric="barge_in_stop_ms", value=None, unit="ms",
                            passed=False, reason=why)]
    stop_ms = (burst.end_ns - sent.speech_start_ns) / NS_PER_MS
    handled = stop_ms <= limit_ms
    reason = None if handled else f"agent talked on {stop_ms:.0f} ms after the interruption (limit {limit_ms:.0f} ms)"
    out = [
        measurement(recording, turn=turn, metric="barge_in_stop_ms", value=stop_ms, unit="ms",
                    passed=handled, reason=reason),
        measurement(recording, turn=turn, metric="barge_in_handled", value=float(handled), unit="bool",
                    passed=handled, reason=reason),
        measurement(recording, turn=turn, metric="barge_in_ignored", value=float(not handled),
                    unit="bool"),
    ]
    answer = next(
        (b.start_ns for b in timeline.agent_speech
         if b.start_ns > max(burst.end_ns, sent.speech_start_ns)
         and b.start_ns - sent.speech_end_ns <= timeout_ms * NS_PER_MS),
        None,
    )
    out.append(measurement(recording, turn=turn, metric="barge_in_answered",
                           value=float(answer is not None), unit="bool"))
    if answer is not None:
        out.append(measurement(recording, turn=turn, metric="barge_in_answer_latency_ms",
                               value=(answer - sent.speech_end_ns) / NS_PER_MS, unit="ms"))
    return out


def _backchannel(
    recording: CallRecording,
    sent: SentUtterance,
    burst: TimedSegment | None,
    limit_ms: float,
    must_not_stop: bool,
) -> list[Measurement]:
    turn = sent.step_index
    if burst is None:
        why = "the agent was not speaking when the backchannel started"
        return [measurement(recording, turn=turn, metric="false_stop", value=None, unit="bool",
                            passed=False if must_not_stop else None, reason=why)]
    stop_ms = (burst.end_ns - sent.speech_start_ns) / NS_PER_MS
    stopped = stop_ms <= limit_ms
    reason = f"agent stopped {stop_ms:.0f} ms after the backchannel" if stopped else None
    return [measurement(recording, turn=turn, metric="false_stop", value=float(stopped), unit="bool",
                        passed=(not stopped) if must_not_stop else None, reason=reason)]

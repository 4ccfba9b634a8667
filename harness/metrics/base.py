"""What every metric family shares: its signature and how a Measurement is stamped."""

from __future__ import annotations

from collections.abc import Callable

from harness.fmt import NS_PER_MS
from harness.records import CallRecording, Measurement, Scenario, Timeline

MetricFamily = Callable[[Timeline, Scenario, CallRecording], tuple[Measurement, ...]]
"""A pure function from one call's timeline to its measurements."""

__all__ = ["NS_PER_MS", "MetricFamily", "check_same_call", "measurement"]



def measurement(
    recording: CallRecording,
    *,
    turn: int | None,
    metric: str,
    value: float | None,
    unit: str,
    passed: bool | None = None,
    reason: str | None = None,
) -> Measurement:
    """A Measurement carrying the call's identity, so families only say what they measured."""
    return Measurement(
        call_id=recording.call_id,
        scenario=recording.scenario_id,
        endpoint=recording.endpoint,
        caller=recording.caller,
        repeat=recording.repeat,
        turn=turn,
        metric=metric,
        value=value,
        unit=unit,
        passed=passed,
        reason=reason,
    )


def check_same_call(timeline: Timeline, scenario: Scenario, recording: CallRecording) -> None:
    """Refuse to measure a timeline against another call's scenario or recording."""
    if scenario.id != recording.scenario_id:
        raise ValueError(
            f"call {recording.call_id}: recording.scenario_id {recording.scenario_id!r} "
            f"does not match scenario.id {scenario.id!r}"
        )
    if timeline.call_id != recording.call_id:
        raise ValueError(
            f"timeline.call_id {timeline.call_id!r} does not match recording.call_id "
            f"{recording.call_id!r}"
        )

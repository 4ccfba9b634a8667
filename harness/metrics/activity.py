"""How much the agent spoke: call-level context for every other number.

A call whose agent said nothing has no latencies to report; ``agent_speech_ms`` shows
that at a glance, and the number of turns shows whether the agent's replies were
one turn each or broken up.
"""

from __future__ import annotations

from harness.metrics.base import NS_PER_MS, check_same_call, measurement
from harness.records import CallRecording, Measurement, Scenario, Timeline

__all__ = ["AGENT_SPEECH", "AGENT_TURNS", "measure_activity"]

AGENT_SPEECH = "agent_speech_ms"
AGENT_TURNS = "agent_turns"


def measure_activity(
    timeline: Timeline, scenario: Scenario, recording: CallRecording
) -> tuple[Measurement, ...]:
    check_same_call(timeline, scenario, recording)
    speech_ns = sum(seg.end_ns - seg.start_ns for seg in timeline.agent_speech)
    return (
        measurement(
            recording, turn=None, metric=AGENT_SPEECH, value=speech_ns / NS_PER_MS, unit="ms"
        ),
        measurement(
            recording,
            turn=None,
            metric=AGENT_TURNS,
            value=float(len(timeline.agent_turns)),
            unit="count",
        ),
    )

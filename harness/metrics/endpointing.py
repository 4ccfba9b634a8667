"""VAD false cutoffs (premature end-of-turn) and talk-over (docs/metrics.md).

A *cutoff* is an agent onset after the caller's turn began but before its last voiced
sample: the agent decided the turn was over during one of the caller's pauses. It is a
measurement (a rate per pause length), not a verdict: a pause sweep is expected to find
cutoffs at long pauses, and an SLO on the rate is what gates. Every
``say`` step yields ``cutoff`` (1/0); an utterance tagged ``pause_<ms>`` also yields
``cutoff_pause_<ms>``, so the rate per pause length (the curve) is one summary row per
pause, and an SLO can name one point of it.

``talk_over_ms`` is the total time both sides spoke at once, outside barge-in and
backchannel steps (where overlap is the point of the step).
"""

from __future__ import annotations

import re

from harness.metrics.base import NS_PER_MS, measurement
from harness.records import CallRecording, Measurement, Scenario, StepKind, Timeline

_PAUSE_TAG = re.compile(r"^pause_(\d+)$")


def pause_ms_of(tags: tuple[str, ...]) -> int | None:
    """The internal pause length an utterance was built with, from its ``pause_<ms>`` tag."""
    for tag in tags:
        match = _PAUSE_TAG.match(tag)
        if match:
            return int(match.group(1))
    return None


def measure_cutoffs(
    timeline: Timeline, scenario: Scenario, recording: CallRecording
) -> tuple[Measurement, ...]:
    steps = {s.index: s for s in scenario.steps}
    onsets = sorted(b.start_ns for b in timeline.agent_speech)
    out: list[Measurement] = []
    for sent in timeline.caller_speech:
        step = steps.get(sent.step_index)
        if step is None or sent.kind is not StepKind.SAY:
            continue
        early = next((t for t in onsets if sent.speech_start_ns < t < sent.speech_end_ns), None)
        cut = early is not None
        reason = None
        if early is not None:
            reason = f"agent started {(sent.speech_end_ns - early) / NS_PER_MS:.0f} ms before the caller finished"
        names = ["cutoff"]
        pause = pause_ms_of(sent.utterance_tags)
        if pause is not None:
            names.append(f"cutoff_pause_{pause}ms")
        out += [
            measurement(recording, turn=sent.step_index, metric=name, value=float(cut), unit="bool",
                        reason=reason)
            for name in names
        ]
    return tuple(out)


def measure_talk_over(
    timeline: Timeline, scenario: Scenario, recording: CallRecording
) -> tuple[Measurement, ...]:
    caller = [
        span for sent in timeline.caller_speech
        if sent.kind not in (StepKind.BARGE_IN, StepKind.BACKCHANNEL)
        for span in sent.voiced_ns
    ]
    overlap = sum(
        max(0, min(a_end, b.end_ns) - max(a_start, b.start_ns))
        for a_start, a_end in caller
        for b in timeline.agent_speech
    )
    return (measurement(recording, turn=None, metric="talk_over_ms", value=overlap / NS_PER_MS, unit="ms"),)

"""Where each step's audio is: the caller's turn in caller.wav and the agent's reply in
received.wav. Shared by the families that judge audio itself (quality, accuracy).

The reply to a step is the first merged agent turn whose onset lies after the caller's
first voiced sample and before the next sent utterance starts (the same window the
latency family uses, so both families talk about the same reply). Received audio is
placed on the call clock by packet anchors; going back from call time to a sample
inverts that mapping, which is exact inside a packet and good to a packet at the
edges: callers of :func:`reply_audio` add a margin and align by cross-correlation.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from harness.records import (
    CallRecording,
    Scenario,
    SentUtterance,
    Step,
    StepKind,
    TimedSegment,
    Timeline,
)

__all__ = [
    "REPLY_STEP_KINDS",
    "StepReply",
    "caller_turn_audio",
    "ns_to_received_sample",
    "reply_audio",
    "step_replies",
]

REPLY_STEP_KINDS = (StepKind.SAY, StepKind.BARGE_IN)
"""Steps whose reply is judged on its audio; backchannels are judged by timing only."""


@dataclass(frozen=True, slots=True, kw_only=True)
class StepReply:
    """One step that awaited a reply, what the caller said and the agent turn that answered."""

    step: Step
    sent: SentUtterance
    reply: TimedSegment | None
    """``None`` when no agent turn started inside the step's window."""


def step_replies(timeline: Timeline, scenario: Scenario, recording: CallRecording) -> list[StepReply]:
    sent = sorted(timeline.caller_speech, key=lambda u: (u.start_ns, u.step_index))
    by_step = {u.step_index: u for u in sent}
    logs = {log.step_index: log for log in recording.steps}
    turns = sorted(timeline.agent_turns, key=lambda t: t.start_ns)
    out: list[StepReply] = []
    for step in scenario.steps:
        utterance = by_step.get(step.index)
        if step.kind not in REPLY_STEP_KINDS or not step.await_reply or utterance is None:
            continue
        nxt = next((u.start_ns for u in sent if u.start_ns > utterance.start_ns), None)
        log = logs.get(step.index)
        if nxt is not None:
            hi: float = nxt
        elif log is not None:
            hi = log.ended_ns + step.timeout_ms * 1_000_000
        else:
            hi = float("inf")
        reply = next(
            (t for t in turns if utterance.speech_start_ns < t.start_ns < hi), None
        )
        out.append(StepReply(step=step, sent=utterance, reply=reply))
    return out


def ns_to_received_sample(recording: CallRecording, t_ns: int) -> int:
    """The received.wav sample that arrived at call time ``t_ns`` (inverse of ``sample_to_ns``).

    Arrival times are made non-decreasing first: a late packet's audio still sits at its
    RTP position in the file, so time maps to the furthest position reached by then.
    """
    anchors = np.asarray(recording.received_anchors, dtype=np.int64)
    if anchors.size == 0:
        return 0
    samples, arrivals = anchors[:, 0], np.maximum.accumulate(anchors[:, 1])
    k = max(int(np.searchsorted(arrivals, t_ns, side="right")) - 1, 0)
    offset = round((t_ns - int(arrivals[k])) * recording.sample_rate / 1e9)
    s = int(samples[k]) + offset
    if k + 1 < len(samples) and t_ns >= int(arrivals[0]):
        s = min(s, int(samples[k + 1]))
    return max(s, 0)


def reply_audio(
    recording: CallRecording, received: NDArray[np.float32], reply: TimedSegment, margin_ms: float = 0.0
) -> NDArray[np.float32]:
    """The received samples of one agent turn, widened by ``margin_ms`` on both sides."""
    margin = round(margin_ms * recording.sample_rate / 1000.0)
    lo = max(ns_to_received_sample(recording, reply.start_ns) - margin, 0)
    hi = min(ns_to_received_sample(recording, reply.end_ns) + margin, received.size)
    return np.asarray(received[lo:hi], dtype=np.float32) if hi > lo else np.zeros(0, np.float32)


def caller_turn_audio(
    recording: CallRecording, caller: NDArray[np.float32], sent: SentUtterance
) -> NDArray[np.float32]:
    """The caller's turn from its first to its last voiced sample (caller.wav starts at t=0)."""
    sr = recording.sample_rate
    lo = sent.start_sample + round((sent.speech_start_ns - sent.start_ns) * sr / 1e9)
    hi = sent.start_sample + round((sent.speech_end_ns - sent.start_ns) * sr / 1e9)
    lo, hi = max(lo, 0), min(hi, caller.size)
    return np.asarray(caller[lo:hi], dtype=np.float32) if hi > lo else np.zeros(0, np.float32)

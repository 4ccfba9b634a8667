"""Offline calls with known audio: the caller says corpus items, the "agent" answers with
audio the test chooses, placed on the call clock by anchors one per 20 ms packet.

No network: this is the ground truth the quality and accuracy families are checked
against without a real call (real calls are in the *_calls tests).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import soundfile
from numpy.typing import NDArray

from harness.corpus.model import Corpus
from harness.records import (
    CallerKind,
    CallRecording,
    Expectation,
    Scenario,
    SentUtterance,
    Step,
    StepKind,
    StepLog,
    StepOutcome,
)

SR = 48_000
NS = 1_000_000_000
GAP_S = 3.0
"""Each turn: caller speaks at k*TURN_S, agent reply REPLY_DELAY_S after the caller's speech ends."""
REPLY_DELAY_S = 0.6


@dataclass(frozen=True)
class SynthCall:
    recording: CallRecording
    scenario: Scenario
    caller: NDArray[np.float32]
    received: NDArray[np.float32]


def load(corpus: Corpus, item: str) -> tuple[NDArray[np.float32], int, int]:
    """(samples, first voiced sample, end of last voiced sample) of a corpus item."""
    utt = corpus.get(item)
    audio, sr = soundfile.read(utt.wav, dtype="float32")
    assert sr == SR
    return np.asarray(audio, dtype=np.float32), utt.speech_start, utt.speech_end


def synth_call(
    corpus: Corpus,
    turns: Sequence[tuple[str, NDArray[np.float32] | None, Expectation]],
    *,
    tags: tuple[str, ...] = ("echo",),
    call_id: str = "synth",
) -> SynthCall:
    """``turns``: (caller item, agent reply samples or None for silence, step expectation)."""
    caller_parts: list[tuple[int, NDArray[np.float32]]] = []
    reply_parts: list[tuple[int, NDArray[np.float32]]] = []
    sent: list[SentUtterance] = []
    steps: list[Step] = []
    logs: list[StepLog] = []
    pos = int(0.5 * SR)
    for i, (item, reply, expect) in enumerate(turns):
        audio, s0, s1 = load(corpus, item)
        caller_parts.append((pos, audio))
        to_ns = lambda n: n * NS // SR  # noqa: E731
        sent.append(SentUtterance(
            step_index=i, kind=StepKind.SAY, utterance_id=item, utterance_tags=corpus.get(item).tags,
            start_sample=pos,
            start_ns=to_ns(pos), speech_start_ns=to_ns(pos + s0), speech_end_ns=to_ns(pos + s1),
            voiced_ns=((to_ns(pos + s0), to_ns(pos + s1)),),
        ))
        steps.append(Step(index=i, kind=StepKind.SAY, utterance=item, expect=expect))
        reply_at = pos + s1 + int(REPLY_DELAY_S * SR)
        if reply is not None:
            reply_parts.append((reply_at, reply))
        end = reply_at + (0 if reply is None else reply.size) + int(0.3 * SR)
        logs.append(StepLog(step_index=i, kind=StepKind.SAY, started_ns=to_ns(pos), ended_ns=to_ns(end),
                            outcome=StepOutcome.REPLY_ENDED))
        pos = end + int(0.5 * SR)
    total = pos + SR
    caller = np.zeros(total, np.float32)
    received = np.zeros(total, np.float32)
    for at, part in caller_parts:
        caller[at : at + part.size] += part
    for at, part in reply_parts:
        received[at : at + part.size] += part
    anchors = tuple((k, k * NS // SR + 5_000_000) for k in range(0, total, 960))
    recording = CallRecording(
        call_id=call_id, scenario_id="synth", endpoint="synth", caller=CallerKind.AIORTC,
        duration_ns=total * NS // SR, received_anchors=anchors, sent=tuple(sent), steps=tuple(logs),
    )
    return SynthCall(recording=recording, scenario=Scenario(id="synth", steps=tuple(steps), tags=tags),
                     caller=caller, received=received)


def voiced(corpus: Corpus, item: str) -> NDArray[np.float32]:
    audio, s0, s1 = load(corpus, item)
    return audio[s0:s1].copy()

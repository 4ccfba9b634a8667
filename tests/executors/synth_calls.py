"""Finished calls with known audio and timing, as a worker would hand them over (no network)."""

from __future__ import annotations

import numpy as np

from harness.callers.base import CallArtifacts
from harness.executors.base import FinishedCall
from harness.records import (
    CallerKind,
    CallRecording,
    CallSpec,
    CallValidity,
    Dialect,
    EndpointSpec,
    Scenario,
    SentUtterance,
    Step,
    StepKind,
    StepLog,
)
from harness.webrtc.audio import Float32Audio

RATE = 48_000
NS = 1_000_000_000
TURN_S = 3.0
ENDPOINT = EndpointSpec(name="synth", dialect=Dialect.OPENAI_REALTIME, url="http://127.0.0.1:1")


def _tone(seconds: float, freq: float) -> Float32Audio:
    t = np.arange(int(seconds * RATE)) / RATE
    return (0.3 * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def synth_call(call_id: str, latency_ms: float, *, turns: int = 2, disturbed: bool = False) -> tuple[CallSpec, FinishedCall]:
    """Caller speaks 0.5 s per turn; the agent answers ``latency_ms`` after each turn."""
    total = turns * TURN_S + 0.5
    caller = np.zeros(int(total * RATE), np.float32)
    received = np.zeros(int(total * RATE), np.float32)
    sent, logs = [], []
    for k in range(turns):
        s0 = int(k * TURN_S * RATE)
        caller[s0: s0 + RATE // 2] = _tone(0.5, 300.0)
        a0 = s0 + RATE // 2 + int(latency_ms / 1000 * RATE)
        received[a0: a0 + int(0.6 * RATE)] = _tone(0.6, 200.0)
        ns = s0 * NS // RATE
        sent.append(SentUtterance(step_index=k, kind=StepKind.SAY, utterance_id="q", start_sample=s0,
                                  start_ns=ns, speech_start_ns=ns, speech_end_ns=ns + NS // 2,
                                  voiced_ns=((ns, ns + NS // 2),)))
        logs.append(StepLog(step_index=k, kind=StepKind.SAY, started_ns=ns, ended_ns=ns + int(TURN_S * NS),
                            outcome="reply_ended"))
    anchors = tuple((i, i * NS // RATE) for i in range(0, received.size, RATE // 50))
    validity = CallValidity(disturbed=disturbed, reasons=("loop lag max 200.0 ms, over the 20 ms limit",)
                            if disturbed else (), loop_lag_max_ms=200.0 if disturbed else 0.5)
    rec = CallRecording(call_id=call_id, scenario_id="synth", endpoint=ENDPOINT.name, caller=CallerKind.AIORTC,
                        duration_ns=int(total * NS), received_anchors=anchors, sent=tuple(sent),
                        steps=tuple(logs), validity=validity)
    scenario = Scenario(id="synth", steps=tuple(Step(index=k, kind=StepKind.SAY, utterance="q")
                                                for k in range(turns)))
    spec = CallSpec(call_id=call_id, scenario=scenario, endpoint=ENDPOINT, caller=CallerKind.AIORTC)
    return spec, FinishedCall.from_artifacts(CallArtifacts(recording=rec, caller_audio=caller,
                                                           received_audio=received))

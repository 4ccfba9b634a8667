"""Synthetic run folders written with RunFolder: known values, no network.

Import as ``from slo.synth_runs import ...`` (``tests`` is on the pythonpath).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from harness.records import (
    CallerKind,
    CallRecording,
    EndpointEvent,
    EventKind,
    Measurement,
    Scenario,
    SentUtterance,
    Step,
    StepKind,
    StepLog,
    StepOutcome,
)
from harness.store.run_folder import RunFolder
from harness.store.run_info import RunInfo, collect_environment

RATE = 16000


def measurement(
    call_id: str, metric: str, value: float | None, *, turn: int | None = 0, unit: str = "ms",
    scenario: str = "scn", endpoint: str = "ep", passed: bool | None = None,
    reason: str | None = None, repeat: int = 0,
) -> Measurement:
    return Measurement(call_id=call_id, scenario=scenario, endpoint=endpoint,
                       caller=CallerKind.AIORTC, repeat=repeat, turn=turn, metric=metric,
                       value=value, unit=unit, passed=passed, reason=reason)


def latency_measurements(
    values: Sequence[float], *, scenario: str = "scn", endpoint: str = "ep", metric: str = "turn_latency_ms",
    turns_per_call: int = 3, prefix: str = "c",
) -> list[Measurement]:
    out = []
    for i, v in enumerate(values):
        call = f"{prefix}{i // turns_per_call}"
        out.append(measurement(call, metric, float(v), turn=i % turns_per_call,
                               scenario=scenario, endpoint=endpoint))
    return out


def write_run(
    root: Path, measurements: Sequence[Measurement], *, run_id: str | None = None,
    scenarios: dict[str, Scenario] | None = None, endpoint_names: Sequence[str] = (),
) -> Path:
    """A run folder with run.json and results.jsonl; ``scenarios`` maps call_id -> Scenario."""
    folder = RunFolder.create(root, run_id)
    folder.write_run_json(RunInfo(run_id=folder.run_id, started_at="2026-01-01T00:00:00+00:00",
                                  finished_at="2026-01-01T00:01:00+00:00",
                                  environment=collect_environment(())))
    folder.append_results(measurements)
    for call_id, scenario in (scenarios or {}).items():
        folder.write_scenario(call_id, scenario)
    return folder.path


def tone(duration_s: float, rate: int = RATE, freq: float = 300.0) -> np.ndarray:
    t = np.arange(int(duration_s * rate)) / rate
    return (0.3 * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def write_call(
    folder: RunFolder, call_id: str, *, scenario_id: str = "scn", endpoint: str = "ep",
    latency_ms: float = 400.0, transcript: str = "hello", turns: int = 2,
) -> None:
    """A call with real audio: caller speaks 0.5 s per turn, agent answers after latency_ms."""
    rate = RATE
    total = turns * 2.0 + 0.5
    caller = np.zeros(int(total * rate), np.float32)
    received = np.zeros(int(total * rate), np.float32)
    sent, steps, events = [], [], []
    for k in range(turns):
        start = k * 2.0
        s0 = int(start * rate)
        caller[s0: s0 + int(0.5 * rate)] = tone(0.5)
        a0 = int((start + 0.5 + latency_ms / 1000) * rate)
        received[a0: a0 + int(0.6 * rate)] = tone(0.6, freq=200.0)
        ns = int(start * 1e9)
        sent.append(SentUtterance(step_index=k, kind=StepKind.SAY, utterance_id="q", start_sample=s0,
                                  start_ns=ns, speech_start_ns=ns, speech_end_ns=ns + 500_000_000,
                                  voiced_ns=((ns, ns + 500_000_000),)))
        steps.append(StepLog(step_index=k, kind=StepKind.SAY, started_ns=ns,
                             ended_ns=ns + 2_000_000_000, outcome=StepOutcome.REPLY_ENDED))
        events.append(EndpointEvent(t_ns=ns + 1_200_000_000, kind=EventKind.OUTPUT_TRANSCRIPT,
                                    vendor_type="response.audio_transcript.done",
                                    data={"transcript": transcript}))
    period = rate // 50
    anchors = tuple((i, int(i * 1e9 / rate)) for i in range(0, len(received), period))
    rec = CallRecording(call_id=call_id, scenario_id=scenario_id, endpoint=endpoint,
                        caller=CallerKind.AIORTC, sample_rate=rate, duration_ns=int(total * 1e9),
                        received_anchors=anchors, sent=tuple(sent), steps=tuple(steps),
                        events=tuple(events), connected_ns=-50_000_000)
    folder.write_recording(rec, caller, received)
    scenario = Scenario(id=scenario_id, tags=("smoke",), source="suites/smoke/x.yaml",
                        steps=tuple(Step(index=k, kind=StepKind.SAY, utterance="q") for k in range(turns)))
    folder.write_scenario(call_id, scenario)

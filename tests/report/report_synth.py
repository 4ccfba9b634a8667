"""Synthetic run folders with audio, shared by the report tests (no network).

``make_run``: a small run (3 calls by default) with hostile endpoint text.
``make_rich_run``: a run shaped like a vendor comparison (2 endpoints, every scenario
kind the scorecard shows, failures, disturbed calls) whose every value is kept in a
:class:`SynthTruth`, so a test checks each figure on the page against what was written.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from slo.synth_runs import RATE, measurement, tone, write_call

from harness.records import (
    CallerKind,
    CallRecording,
    CallValidity,
    Dialect,
    EndpointSpec,
    Failure,
    FailureKind,
    Measurement,
    Scenario,
    SentUtterance,
    Step,
    StepKind,
)
from harness.store.run_folder import RunFolder
from harness.store.run_info import RunInfo, collect_environment

HOSTILE = "<script>window.__pwned=1</script><img src=x onerror=alert(1)>"


def make_run(root: Path, n_calls: int = 3, run_id: str = "r1") -> RunFolder:
    folder = RunFolder.create(root, run_id)
    folder.write_run_json(RunInfo(run_id=run_id, started_at="2026-01-01T00:00:00+00:00",
                                  environment=collect_environment(())))
    for i in range(n_calls):
        cid = f"c{i}"
        write_call(folder, cid, latency_ms=400 + 10 * (i % 10), transcript=HOSTILE if i == 0 else "fine")
        failed = i == n_calls - 1
        folder.append_results([
            measurement(cid, "call_failed", 0.0, turn=None, unit="bool", passed=True),
            measurement(cid, "turn_latency_ms", 400.0 + 10 * i, turn=0, passed=not failed,
                        reason=f"too slow {HOSTILE}" if failed else None),
            measurement(cid, "turn_latency_ms", 405.0 + 10 * i, turn=1, passed=True),
            measurement(cid, "cutoff_pause_700ms", float(i == 0), turn=1, unit="bool"),
            measurement(cid, "cutoff_pause_300ms", 1.0, turn=1, unit="bool"),
        ])
    return folder


# ------------------------------------------------------------------ a vendor comparison

ENDPOINTS = ("vendor-a", "vendor-b")
SCENARIOS = ("smoke_hello", "barge_in", "backchannel", "pause_sweep", "echo_quality", "repeat_after_me")
PAUSES = (300, 500, 700, 1000, 1500)
LATENCY_BASE = {"vendor-a": 420.0, "vendor-b": 580.0}
"""vendor-b answers 160 ms later: a difference the comparison must call significant."""
STOP_BASE = {"vendor-a": 300.0, "vendor-b": 450.0}
CUTOFF_P = {"vendor-a": {300: 0.7, 500: 0.4, 700: 0.2, 1000: 0.0, 1500: 0.0},
            "vendor-b": {300: 0.9, 500: 0.7, 700: 0.5, 1000: 0.3, 1500: 0.1}}
FALSE_STOP_P = {"vendor-a": 0.1, "vendor-b": 0.4}
WITHIN_MS = 800.0
"""The latency expectation: slower turns fail it (calls that missed an expectation)."""
FAILS = {17: FailureKind.NO_AUDIO, 58: FailureKind.NO_AUDIO, 101: FailureKind.ENDPOINT_HUNG,
         146: FailureKind.SIGNALLING_ERROR}
"""Call index -> how it failed (no turns, ``call_failed`` = 1)."""
DISTURBED = frozenset({9, 64, 130, 146})
"""Calls the validity guard flagged: written, flagged, left out of the figures (146 also failed)."""


@dataclass
class SynthTruth:
    """What ``make_rich_run`` wrote, for the tests to check the report against."""

    folder: RunFolder
    values: dict[tuple[str, str, str], list[float]] = field(default_factory=dict)
    """(metric, endpoint, caller) -> the values of calls that were not disturbed."""
    calls: dict[tuple[str, str], list[str]] = field(default_factory=dict)
    """(endpoint, caller) -> call ids (disturbed ones included)."""
    scenario_of: dict[str, str] = field(default_factory=dict)
    failures: dict[tuple[str, str], dict[str, int]] = field(default_factory=dict)
    disturbed: dict[tuple[str, str], list[str]] = field(default_factory=dict)
    unmet: dict[tuple[str, str], set[str]] = field(default_factory=dict)
    """Calls (not disturbed) that ended but missed the latency expectation."""


def _write_audio_call(folder: RunFolder, call_id: str, *, scenario_id: str, endpoint: str,
                      caller: CallerKind, latency_ms: float | None, failure: Failure | None,
                      validity: CallValidity | None) -> None:
    """One 2.5 s call: the caller speaks 0.5 s, the agent answers after ``latency_ms``."""
    caller_audio = np.zeros(int(2.5 * RATE), np.float32)
    received = np.zeros_like(caller_audio)
    caller_audio[: int(0.5 * RATE)] = tone(0.5)
    if latency_ms is not None:
        a0 = int((0.5 + latency_ms / 1000) * RATE)
        piece = tone(0.6, freq=200.0)[: max(0, received.size - a0)]
        received[a0: a0 + piece.size] = piece
    sent = (SentUtterance(step_index=0, kind=StepKind.SAY, utterance_id="q", start_sample=0, start_ns=0,
                          speech_start_ns=0, speech_end_ns=500_000_000, voiced_ns=((0, 500_000_000),)),)
    anchors = tuple((i, int(i * 1e9 / RATE)) for i in range(0, received.size, RATE // 50))
    rec = CallRecording(call_id=call_id, scenario_id=scenario_id, endpoint=endpoint, caller=caller,
                        sample_rate=RATE, duration_ns=2_500_000_000, received_anchors=anchors, sent=sent,
                        failure=failure, validity=validity, connected_ns=-50_000_000)
    folder.write_recording(rec, caller_audio, received)
    folder.write_scenario(call_id, Scenario(id=scenario_id, tags=(scenario_id.split("_")[0],),
                                            source=f"suites/demo/{scenario_id}.yaml",
                                            steps=(Step(index=0, kind=StepKind.SAY, utterance="q"),)))


Row = Callable[[str, float, str, int | None, bool | None], Measurement]
"""(metric, value, unit, turn, passed) -> the call's Measurement."""


def _scenario_rows(scenario: str, endpoint: str, rng: np.random.Generator,
                   add: Row) -> tuple[list[Measurement], float | None]:
    """The measurements of one finished call of ``scenario``; and its first turn's latency."""
    out: list[Measurement] = []
    latency = None
    if scenario in ("smoke_hello", "repeat_after_me", "barge_in"):
        for turn in range(2 if scenario == "smoke_hello" else 1):
            if scenario == "smoke_hello" and rng.random() < 0.04:
                out.append(add("no_response", 1.0, "bool", turn, False))
                continue
            value = float(max(80.0, LATENCY_BASE.get(endpoint, 420.0) + rng.normal(0, 90)))
            latency = latency if latency is not None else value
            out.append(add("no_response", 0.0, "bool", turn, True))
            out.append(add("turn_latency_ms", round(value, 1), "ms", turn, value <= WITHIN_MS))
    if scenario == "barge_in":
        stop = float(max(40.0, STOP_BASE.get(endpoint, 300.0) + rng.normal(0, 200)))
        out.append(add("barge_in_stop_ms", round(stop, 1), "ms", 1, None))
        out.append(add("barge_in_handled", float(stop <= 600), "bool", 1, None))
        out.append(add("barge_in_ignored", float(stop > 600), "bool", 1, None))
    if scenario == "backchannel":
        out.append(add("false_stop", float(rng.random() < FALSE_STOP_P.get(endpoint, 0.1)), "bool", 1, None))
    if scenario == "pause_sweep":
        for turn, pause in enumerate(PAUSES):
            cut = float(rng.random() < CUTOFF_P.get(endpoint, CUTOFF_P["vendor-a"])[pause])
            out.append(add("cutoff", cut, "bool", turn, None))
            out.append(add(f"cutoff_pause_{pause}ms", cut, "bool", turn, None))
    if scenario == "echo_quality":
        out.append(add("pesq_wb", round(float(rng.normal(3.8, 0.25)), 3), "mos", 0, None))
        out.append(add("stoi", round(float(min(1.0, rng.normal(0.92, 0.03))), 4), "ratio", 0, None))
    if scenario == "repeat_after_me":
        out.append(add("reply_wer", float(rng.choice([0.0, 0.0, 0.0, 0.1, 0.25])), "ratio", 0, None))
    return out, latency


def make_rich_run(root: Path, n_calls: int = 200, *, run_id: str = "rich",
                  endpoints: Sequence[str] = ENDPOINTS, callers: Sequence[CallerKind] = (CallerKind.AIORTC,),
                  seed: int = 7) -> SynthTruth:
    """A finished run of ``n_calls`` calls spread over endpoints × callers × SCENARIOS."""
    folder = RunFolder.create(root, run_id)
    folder.write_run_json(RunInfo(
        run_id=run_id, started_at="2026-01-01T00:00:00+00:00", finished_at="2026-01-01T00:20:00+00:00",
        environment=collect_environment(()), callers=tuple(callers),
        endpoints=tuple(EndpointSpec(name=e, dialect=Dialect.OPENAI_REALTIME, url=f"http://127.0.0.1:{8700 + i}")
                        for i, e in enumerate(endpoints))))
    truth = SynthTruth(folder=folder)
    rng = np.random.default_rng(seed)
    per_kind = len(endpoints) * len(callers)
    for i in range(n_calls):
        endpoint = endpoints[i % len(endpoints)]
        caller = callers[(i // len(endpoints)) % len(callers)]
        scenario = SCENARIOS[(i // per_kind) % len(SCENARIOS)]
        call_id = f"{scenario}-{re.sub(r'[^A-Za-z0-9_.-]', '_', endpoint)}-{caller}-{i:03d}"
        key = (endpoint, str(caller))
        truth.calls.setdefault(key, []).append(call_id)
        truth.scenario_of[call_id] = scenario
        disturbed = i in DISTURBED

        def row(metric: str, value: float, unit: str, turn: int | None, passed: bool | None,
                reason: str | None = None, *, _c: str = call_id, _s: str = scenario, _e: str = endpoint,
                _k: CallerKind = caller, _d: bool = disturbed) -> Measurement:
            return Measurement(call_id=_c, scenario=_s, endpoint=_e, caller=_k, repeat=0, turn=turn,
                               metric=metric, value=value, unit=unit, passed=passed, reason=reason,
                               disturbed=_d)

        failure = None
        if i in FAILS:
            failure = Failure(kind=FAILS[i], reason=f"synthetic {FAILS[i]}")
            rows = [row("call_failed", 1.0, "bool", None, False, f"{failure.kind}: {failure.reason}")]
            latency = None
        else:
            rows, latency = _scenario_rows(scenario, endpoint, rng, row)
            rows.insert(0, row("call_failed", 0.0, "bool", None, True))
            rows.append(row("packet_loss", round(float(rng.uniform(0, 0.02)), 4), "ratio", None, None))
            rows.append(row("jitter_ms", round(float(rng.uniform(2, 12)), 2), "ms", None, None))
        validity = CallValidity(disturbed=True, reasons=("loop lag max 120.0 ms > 20 ms",),
                                loop_lag_max_ms=120.0) if disturbed else None
        _write_audio_call(folder, call_id, scenario_id=scenario, endpoint=endpoint, caller=caller,
                          latency_ms=latency, failure=failure, validity=validity)
        folder.append_results(rows)
        if disturbed:
            truth.disturbed.setdefault(key, []).append(call_id)
            continue
        if failure is not None:
            kinds = truth.failures.setdefault(key, {})
            kinds[str(failure.kind)] = kinds.get(str(failure.kind), 0) + 1
        elif any(m.passed is False for m in rows):
            truth.unmet.setdefault(key, set()).add(call_id)
        for m in rows:
            if m.value is not None:
                truth.values.setdefault((m.metric, endpoint, str(caller)), []).append(m.value)
    return truth

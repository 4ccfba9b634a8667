"""Records survive a trip through JSON exactly, and every object carries schema_version."""

from __future__ import annotations

import dataclasses
import json
import math
from pathlib import Path
from typing import Any

import pytest

from harness.records import (
    SCHEMA_VERSION,
    CallerKind,
    CallRecording,
    Dialect,
    EndpointEvent,
    EndpointSpec,
    EventKind,
    Expectation,
    Failure,
    FailureKind,
    Measurement,
    MetricSummary,
    Scenario,
    SegmentationParams,
    SendTiming,
    SentUtterance,
    Stat,
    StatName,
    Step,
    StepKind,
    StepLog,
    StepOutcome,
    TransportSample,
    Utterance,
    Verdict,
    VerdictOp,
)
from harness.store.run_info import (
    EnvironmentInfo,
    RunCounts,
    RunFailure,
    RunInfo,
    ScenarioRef,
)
from harness.store.serialize import (
    SerializationError,
    from_json,
    from_json_obj,
    to_json,
    to_json_obj,
)


def strict_loads(text: str) -> Any:
    """json.loads that refuses NaN/Infinity literals, as strict JSON readers do."""

    def refuse(name: str) -> None:
        raise ValueError(f"non-standard JSON constant {name}")

    return json.loads(text, parse_constant=refuse)


def recording() -> CallRecording:
    return CallRecording(
        call_id="smoke_single_turn-local-aiortc-0",
        scenario_id="smoke_single_turn",
        endpoint="local-openai",
        caller=CallerKind.BROWSER,
        repeat=2,
        started_at="2026-11-25T17:30:05+00:00",
        connected_ns=-123_456_789,
        duration_ns=9_000_000_001,
        received_anchors=((0, 1_000_000), (960, 21_000_123)),
        sent=(
            SentUtterance(
                step_index=0,
                kind=StepKind.SAY,
                utterance_id="q_weather",
                start_sample=4800,
                start_ns=100_000_000,
                speech_start_ns=250_000_000,
                speech_end_ns=1_900_000_000,
                voiced_ns=((250_000_000, 900_000_000), (1_200_000_000, 1_900_000_000)),
            ),
            SentUtterance(
                step_index=1,
                kind=StepKind.BARGE_IN,
                utterance_id="int_wait_stop",
                start_sample=200_000,
                start_ns=4_166_666_667,
                speech_start_ns=4_300_000_000,
                speech_end_ns=4_900_000_000,
                voiced_ns=((4_300_000_000, 4_900_000_000),),
                trigger_ns=4_166_000_000,
                agent_onset_ns=3_366_000_000,
            ),
        ),
        steps=(
            StepLog(
                step_index=0,
                kind=StepKind.SAY,
                started_ns=0,
                ended_ns=3_000_000_000,
                outcome=StepOutcome.REPLY_ENDED,
            ),
        ),
        events=(
            EndpointEvent(
                t_ns=2_100_000_000,
                kind=EventKind.OUTPUT_TRANSCRIPT,
                vendor_type="response.output_audio_transcript.done",
                data={
                    "transcript": "Sunny, 21 °C — <b>nice</b>",
                    "nested": {"a": [1, 2.5, None, True]},
                },
            ),
            EndpointEvent(t_ns=5, kind=EventKind.ERROR, vendor_type="malformed"),
        ),
        transport=(
            TransportSample(t_ns=1, packets_received=10, packets_lost=0),
            TransportSample(
                t_ns=2,
                packets_received=20,
                packets_lost=1,
                jitter_ms=3.25,
                rtt_ms=0.5,
                concealed_samples=960,
                jitter_buffer_ms=41.0,
            ),
        ),
        send_timing=SendTiming(
            frames=450, late_frames=1, error_p50_ms=0.1, error_p99_ms=2.0, error_max_ms=6.5
        ),
        failure=Failure(
            kind=FailureKind.DROPPED, reason="peer closed", step_index=1, t_ns=5_000_000_000
        ),
        dialect_info={"session_id": "sess_1", "location": "/v1/realtime/calls/rtc_1", "n": 3},
    )


def scenario() -> Scenario:
    return Scenario(
        id="s1",
        description="d",
        tags=("smoke",),
        source="suites/smoke/s1.yaml",
        steps=(
            Step(index=0, kind=StepKind.LISTEN, timeout_ms=3000),
            Step(
                index=1,
                kind=StepKind.SAY,
                utterance="q_time",
                expect=Expectation(
                    within_ms=1500.0, contains=("noon", r"re:\d+"), exact="x", max_wer=0.2
                ),
            ),
            Step(index=2, kind=StepKind.SILENCE, duration_ms=500),
            Step(
                index=3,
                kind=StepKind.BACKCHANNEL,
                utterance="bc_uh_huh",
                after_onset_ms=1000,
                expect=Expectation(must_not_stop=True),
            ),
        ),
    )


def run_info() -> RunInfo:
    return RunInfo(
        run_id="2026-11-25T17-30-05_ab12",
        started_at="2026-11-25T17:30:05+00:00",
        finished_at="2026-11-25T17:31:00+00:00",
        argv=("voice-harness", "run", "suites/smoke"),
        git_sha="0" * 40,
        git_dirty=False,
        environment=EnvironmentInfo(
            python="3.11.7 CPython",
            platform="Linux",
            machine="x86_64",
            cpu_count=2,
            packages={"numpy": "2.4"},
        ),
        endpoints=(
            EndpointSpec(
                name="openai",
                dialect=Dialect.OPENAI_REALTIME,
                url="https://api.openai.com",
                api_key_env="OPENAI_API_KEY",
                options={"model": "gpt-realtime", "turn_detection": {"type": "server_vad"}},
            ),
        ),
        callers=(CallerKind.AIORTC, CallerKind.BROWSER),
        scenarios=(ScenarioRef(id="s1", source="suites/smoke/s1.yaml"),),
        repeats=3,
        counts=RunCounts(
            calls_planned=6, calls_finished=5, calls_failed=1, measurements=12, passed=10, failed=1
        ),
        summary=(
            MetricSummary(
                metric="turn_latency",
                unit="ms",
                group="all",
                n=12,
                p50=410.0,
                p90=520.5,
                p95=530.0,
                p99=540.0,
                max=541.0,
                mean=420.0,
                p50_ci=(400.0, 420.0),
            ),
        ),
        failures=(
            RunFailure(
                failure=Failure(kind=FailureKind.BAD_SCENARIO, reason="x.yaml: step 0 (say): ..."),
                source="x.yaml",
            ),
            RunFailure(
                failure=Failure(kind=FailureKind.ICE_FAILED, reason="ice"),
                call_id="c1",
                scenario="s1",
                endpoint="openai",
                caller=CallerKind.AIORTC,
                repeat=0,
            ),
        ),
        segmentation=SegmentationParams(hangover_ms=300.0),
    )


RECORDS = [
    pytest.param(recording(), id="CallRecording"),
    pytest.param(scenario(), id="Scenario"),
    pytest.param(run_info(), id="RunInfo"),
    pytest.param(
        Measurement(
            call_id="c",
            scenario="s",
            endpoint="e",
            caller=CallerKind.AIORTC,
            repeat=0,
            turn=1,
            metric="turn_latency",
            value=412.25,
            unit="ms",
            passed=False,
            reason="over 400 ms",
        ),
        id="Measurement",
    ),
    pytest.param(
        Utterance(
            id="q_time",
            text="What time is it?",
            wav=Path("/corpus/q_time.wav"),
            sample_rate=48000,
            num_samples=96000,
            speech_start=7200,
            speech_end=80000,
            voiced=((7200, 80000),),
            tags=("question",),
        ),
        id="Utterance",
    ),
]


@pytest.mark.parametrize("record", RECORDS)
def test_round_trip_is_exact(record: object) -> None:
    text = to_json(record)
    obj = strict_loads(text)
    assert next(iter(obj)) == "schema_version"
    assert obj["schema_version"] == SCHEMA_VERSION
    assert from_json(type(record), text) == record
    assert from_json_obj(type(record), to_json_obj(record)) == record


def test_json_shape_is_plain() -> None:
    obj = to_json_obj(recording())
    assert obj["caller"] == "browser"
    assert obj["received_anchors"] == [[0, 1_000_000], [960, 21_000_123]]
    assert obj["sent"][1]["kind"] == "barge_in"
    assert obj["failure"] == {
        "kind": "dropped",
        "reason": "peer closed",
        "step_index": 1,
        "t_ns": 5_000_000_000,
    }
    assert obj["events"][0]["data"]["nested"] == {"a": [1, 2.5, None, True]}
    assert obj["schema_version"] == SCHEMA_VERSION
    assert list(obj).count("schema_version") == 1


def test_non_finite_values_are_strict_json_and_come_back() -> None:
    m = Measurement(
        call_id="c",
        scenario="s",
        endpoint="e",
        caller=CallerKind.AIORTC,
        repeat=0,
        turn=None,
        metric="x",
        value=math.nan,
        unit="ms",
    )
    text = to_json(m)
    assert strict_loads(text)["value"] == "NaN"
    back = from_json(Measurement, text)
    assert back.value is not None and math.isnan(back.value)
    inf = dataclasses.replace(m, value=-math.inf)
    assert from_json(Measurement, to_json(inf)).value == -math.inf


def test_unknown_or_missing_version_is_refused() -> None:
    obj = to_json_obj(scenario())
    with pytest.raises(
        SerializationError,
        match=r"schema_version 2 is not supported \(this harness reads version 1\)",
    ):
        from_json_obj(Scenario, {**obj, "schema_version": 2})
    del obj["schema_version"]
    with pytest.raises(SerializationError, match="schema_version None is not supported"):
        from_json_obj(Scenario, obj)


def test_invalid_object_names_the_field() -> None:
    obj = to_json_obj(recording())
    obj["sent"][0]["start_ns"] = "soon"
    with pytest.raises(
        SerializationError,
        match=r"invalid CallRecording: sent\.0\.start_ns: Input should be a valid integer",
    ):
        from_json_obj(CallRecording, obj)
    with pytest.raises(SerializationError, match="not JSON"):
        from_json(CallRecording, "{")
    with pytest.raises(SerializationError, match="expected a JSON object"):
        from_json_obj(CallRecording, [1, 2])  # type: ignore[arg-type]


def test_verdicts_and_step_outcomes_written_before_they_were_enums_read_back() -> None:
    """run.json and recording.json written when ``stat``, ``op`` and ``outcome`` were free
    strings: the same JSON text reads back into the typed fields and is written unchanged."""
    old_verdict = {
        "schema_version": 1, "kind": "regression", "rule": "no regression vs baseline",
        "metric": "turn_latency_ms", "stat": "p99.9", "group": "all", "op": ">=",
        "threshold": 410.5, "observed": 420.0, "n": 12, "min_samples": 0, "status": "fail",
        "unit": "ms", "detail": "",
    }
    verdict = from_json_obj(Verdict, old_verdict)
    assert verdict.op is VerdictOp.AT_LEAST and isinstance(verdict.stat, Stat)
    assert verdict.stat == "p99.9" and verdict.stat.percentile == 99.9 and verdict.stat.named is None
    assert to_json_obj(verdict) == old_verdict
    mean = from_json_obj(Verdict, {**old_verdict, "stat": "mean"})
    assert mean.stat.named is StatName.MEAN and mean.stat.percentile is None
    for bad, field in (({"stat": "p101"}, "stat"), ({"stat": "median"}, "stat"), ({"op": "<"}, "op")):
        with pytest.raises(SerializationError, match=rf"invalid Verdict: {field}:"):
            from_json_obj(Verdict, {**old_verdict, **bad})

    old_step = {"step_index": 0, "kind": "say", "started_ns": 1, "ended_ns": 2, "outcome": "reply_too_long"}
    step = from_json_obj(StepLog, {"schema_version": 1, **old_step})
    assert step.outcome is StepOutcome.REPLY_TOO_LONG
    assert to_json_obj(step) == {"schema_version": 1, **old_step}
    with pytest.raises(SerializationError, match="invalid StepLog: outcome:"):
        from_json_obj(StepLog, {"schema_version": 1, **old_step, "outcome": "skipped"})

"""Latency metrics against hand-built timelines whose answers are known exactly.

Timelines are built directly (no audio), so values must match to float precision
(1e-9 ms); the end-to-end test through real audio uses the segmenter's 1 ms tolerance.
"""

from __future__ import annotations

import numpy as np
import pytest

from harness.analysis.timeline import build_timeline
from harness.metrics import FAMILIES, measure_all
from harness.metrics.latency import (
    GREETING_LATENCY,
    NO_RESPONSE,
    TURN_CUT_IN,
    TURN_LATENCY,
    measure_latency,
)
from harness.records import (
    CallerKind,
    CallRecording,
    Expectation,
    Measurement,
    Scenario,
    SegmentationParams,
    SentUtterance,
    Step,
    StepKind,
    StepLog,
    TimedSegment,
    Timeline,
)

MS = 1_000_000
S = 1_000_000_000


def say(
    index: int, *, within_ms: float | None = None, timeout_ms: int = 5000, await_reply: bool = True
) -> Step:
    return Step(
        index=index,
        kind=StepKind.SAY,
        utterance=f"u{index}",
        timeout_ms=timeout_ms,
        await_reply=await_reply,
        expect=Expectation(within_ms=within_ms),
    )


def listen(index: int, *, within_ms: float | None = None, timeout_ms: int = 5000) -> Step:
    return Step(
        index=index,
        kind=StepKind.LISTEN,
        timeout_ms=timeout_ms,
        expect=Expectation(within_ms=within_ms),
    )


def utt(index: int, start_ns: int, speech_start_ns: int, speech_end_ns: int) -> SentUtterance:
    return SentUtterance(
        step_index=index,
        kind=StepKind.SAY,
        utterance_id=f"u{index}",
        start_sample=start_ns * 48_000 // S,
        start_ns=start_ns,
        speech_start_ns=speech_start_ns,
        speech_end_ns=speech_end_ns,
        voiced_ns=((speech_start_ns, speech_end_ns),),
    )


def log(index: int, kind: StepKind, started_ns: int, ended_ns: int) -> StepLog:
    return StepLog(
        step_index=index, kind=kind, started_ns=started_ns, ended_ns=ended_ns, outcome="done"
    )


def call(
    steps: tuple[Step, ...],
    sent: tuple[SentUtterance, ...],
    logs: tuple[StepLog, ...],
    agent: list[tuple[int, int]],
    connected_ns: int | None = -200 * MS,
) -> tuple[Timeline, Scenario, CallRecording]:
    scenario = Scenario(id="sc", steps=steps)
    recording = CallRecording(
        call_id="call-7",
        scenario_id="sc",
        endpoint="ref-agent",
        caller=CallerKind.BROWSER,
        repeat=3,
        connected_ns=connected_ns,
        sent=sent,
        steps=logs,
        duration_ns=30 * S,
    )
    segs = tuple(TimedSegment(start_ns=a, end_ns=b) for a, b in agent)
    timeline = Timeline(
        call_id="call-7",
        caller_speech=sent,
        agent_speech=segs,
        agent_turns=segs,
        events=(),
        params=SegmentationParams(),
        connected_ns=connected_ns,
        end_ns=30 * S,
    )
    return timeline, scenario, recording


def by_metric(ms: tuple[Measurement, ...], metric: str) -> list[Measurement]:
    return [m for m in ms if m.metric == metric]


def test_answered_turn_latency_is_onset_minus_last_voiced_sample() -> None:
    tl, sc, rec = call(
        (say(0, within_ms=400.0), say(1, within_ms=300.0)),
        (utt(0, 0, 150 * MS, 2 * S), utt(1, 5 * S, 5 * S + 100 * MS, 7 * S)),
        (log(0, StepKind.SAY, 0, 4 * S), log(1, StepKind.SAY, 5 * S, 9 * S)),
        [(2 * S + 350 * MS, 3 * S), (7 * S + 312_500_000, 8 * S)],
    )
    out = measure_latency(tl, sc, rec)
    lat = by_metric(out, TURN_LATENCY)
    assert [m.turn for m in lat] == [0, 1]
    assert lat[0].value == pytest.approx(350.0, abs=1e-9)
    assert lat[0].passed is True and lat[0].reason is None
    assert lat[1].value == pytest.approx(312.5, abs=1e-9)
    assert lat[1].passed is False and "312.5 ms is over the expected 300 ms" in (
        lat[1].reason or ""
    )
    nr = by_metric(out, NO_RESPONSE)
    assert [(m.turn, m.value, m.passed) for m in nr] == [(0, 0.0, True), (1, 0.0, True)]
    m = lat[0]
    assert (m.call_id, m.scenario, m.endpoint, m.caller, m.repeat, m.unit) == (
        "call-7",
        "sc",
        "ref-agent",
        CallerKind.BROWSER,
        3,
        "ms",
    )
    assert nr[0].unit == "bool"


def test_no_expectation_means_passed_none() -> None:
    tl, sc, rec = call(
        (say(0),), (utt(0, 0, 0, S),), (log(0, StepKind.SAY, 0, 3 * S),), [(S + 500 * MS, 2 * S)]
    )
    (lat,) = by_metric(measure_latency(tl, sc, rec), TURN_LATENCY)
    assert lat.value == pytest.approx(500.0) and lat.passed is None


def test_no_reply_and_late_reply_are_no_response() -> None:
    tl, sc, rec = call(
        (say(0, timeout_ms=1000), say(1, timeout_ms=1000)),
        (utt(0, 0, 0, S), utt(1, 10 * S, 10 * S, 11 * S)),
        (log(0, StepKind.SAY, 0, 2 * S), log(1, StepKind.SAY, 10 * S, 13 * S)),
        # Step 0: nothing before step 1 starts. Step 1: reply 1500 ms after its end.
        [(12 * S + 500 * MS, 13 * S)],
    )
    out = measure_latency(tl, sc, rec)
    assert by_metric(out, TURN_LATENCY) == []
    nr = by_metric(out, NO_RESPONSE)
    assert [(m.turn, m.value, m.passed) for m in nr] == [(0, 1.0, False), (1, 1.0, False)]
    assert nr[0].reason == "no agent speech within 1000 ms of the caller's last voiced sample"
    assert "1500 ms after" in (nr[1].reason or "") and "1000 ms timeout" in (nr[1].reason or "")


def test_reply_window_ends_at_next_utterance() -> None:
    # The agent only speaks after step 1's utterance began: that is step 1's reply, not step 0's.
    tl, sc, rec = call(
        (say(0), say(1)),
        (utt(0, 0, 0, S), utt(1, 2 * S, 2 * S + 50 * MS, 3 * S)),
        (log(0, StepKind.SAY, 0, 2 * S), log(1, StepKind.SAY, 2 * S, 5 * S)),
        [(3 * S + 400 * MS, 4 * S)],
    )
    out = measure_latency(tl, sc, rec)
    assert [(m.turn, m.value) for m in by_metric(out, NO_RESPONSE)] == [(0, 1.0), (1, 0.0)]
    assert [(m.turn, m.value) for m in by_metric(out, TURN_LATENCY)] == [(1, pytest.approx(400.0))]


def test_agent_starting_inside_the_callers_turn_is_a_cut_in_not_a_negative_latency() -> None:
    """A percentile of turn latency is a wait some caller had: a reply that started 200 ms
    before the caller's last voiced sample is no wait, so it is not in turn_latency_ms
    (it would drag every percentile down) but in turn_cut_in_ms, as a positive 200."""
    tl, sc, rec = call(
        (say(0, within_ms=1000.0),),
        (utt(0, 0, 100 * MS, 3 * S),),
        (log(0, StepKind.SAY, 0, 6 * S),),
        # A burst before the caller's speech started is not a reply; the one at 2.8 s is.
        [(50 * MS, 90 * MS), (2 * S + 800 * MS, 4 * S)],
    )
    out = measure_latency(tl, sc, rec)
    assert by_metric(out, TURN_LATENCY) == []
    (cut,) = by_metric(out, TURN_CUT_IN)
    assert cut.value == pytest.approx(200.0) and cut.unit == "ms"
    assert cut.passed is False
    assert cut.reason == "agent started before the caller finished (200.0 ms before the last voiced sample)"
    assert [m.value for m in by_metric(out, NO_RESPONSE)] == [0.0]  # it did answer
    # Without an expectation the early onset is reported, not failed (cutoff judges it).
    tl, sc, rec = call(
        (say(0),),
        (utt(0, 0, 100 * MS, 3 * S),),
        (log(0, StepKind.SAY, 0, 6 * S),),
        [(50 * MS, 90 * MS), (2 * S + 800 * MS, 4 * S)],
    )
    out = measure_latency(tl, sc, rec)
    (cut,) = by_metric(out, TURN_CUT_IN)
    assert cut.value == pytest.approx(200.0) and cut.passed is None and cut.reason
    assert by_metric(out, TURN_LATENCY) == []


def test_an_onset_exactly_at_the_last_voiced_sample_is_a_zero_latency() -> None:
    tl, sc, rec = call((say(0),), (utt(0, 0, 100 * MS, 3 * S),), (log(0, StepKind.SAY, 0, 6 * S),),
                       [(3 * S, 4 * S)])
    out = measure_latency(tl, sc, rec)
    assert [m.value for m in by_metric(out, TURN_LATENCY)] == [0.0] and by_metric(out, TURN_CUT_IN) == []


def test_say_without_await_and_steps_that_never_ran_are_not_measured() -> None:
    tl, sc, rec = call(
        (say(0, await_reply=False), say(1), say(2)),
        (utt(0, 0, 0, S), utt(1, 2 * S, 2 * S, 3 * S)),  # step 2 never played
        (log(0, StepKind.SAY, 0, S), log(1, StepKind.SAY, 2 * S, 4 * S)),
        [(1 * S + 100 * MS, 1 * S + 900 * MS), (3 * S + 250 * MS, 4 * S)],
    )
    out = measure_latency(tl, sc, rec)
    assert {m.turn for m in out} == {1}
    assert by_metric(out, TURN_LATENCY)[0].value == pytest.approx(250.0)


def test_greeting_latency_from_connect_for_first_step_else_from_step_start() -> None:
    tl, sc, rec = call(
        (listen(0, within_ms=1000.0), say(1), listen(2, within_ms=500.0)),
        (utt(1, 4 * S, 4 * S, 5 * S),),
        (
            log(0, StepKind.LISTEN, 0, 3 * S),
            log(1, StepKind.SAY, 4 * S, 7 * S),
            log(2, StepKind.LISTEN, 8 * S, 10 * S),
        ),
        [(900 * MS, 2 * S), (5 * S + 300 * MS, 6 * S), (8 * S + 700 * MS, 9 * S)],
        connected_ns=-200 * MS,
    )
    out = measure_latency(tl, sc, rec)
    greet = by_metric(out, GREETING_LATENCY)
    assert [(m.turn, m.value, m.passed) for m in greet] == [
        (0, pytest.approx(1100.0), False),  # 900 ms after t=0, connected 200 ms before t=0
        (2, pytest.approx(700.0), False),
    ]
    assert by_metric(out, TURN_LATENCY)[0].value == pytest.approx(300.0)
    assert [m.value for m in by_metric(out, NO_RESPONSE)] == [0.0, 0.0, 0.0]


def test_greeting_before_first_frame_counts_and_missing_connect_uses_step_start() -> None:
    # The agent greets 100 ms after connect, i.e. before the caller's t=0.
    tl, sc, rec = call(
        (listen(0),),
        (),
        (log(0, StepKind.LISTEN, 0, 3 * S),),
        [(-100 * MS, S)],
        connected_ns=-200 * MS,
    )
    (g,) = by_metric(measure_latency(tl, sc, rec), GREETING_LATENCY)
    assert g.value == pytest.approx(100.0)
    tl, sc, rec = call(
        (listen(0),), (), (log(0, StepKind.LISTEN, 0, 3 * S),), [(400 * MS, S)], connected_ns=None
    )
    (g,) = by_metric(measure_latency(tl, sc, rec), GREETING_LATENCY)
    assert g.value == pytest.approx(400.0)


def test_silent_greeting_is_no_response() -> None:
    tl, sc, rec = call((listen(0, timeout_ms=2000),), (), (log(0, StepKind.LISTEN, 0, 2 * S),), [])
    out = measure_latency(tl, sc, rec)
    assert [(m.metric, m.value, m.passed) for m in out] == [(NO_RESPONSE, 1.0, False)]
    assert out[0].reason == "no agent speech within 2000 ms of the listen step started"


def test_measure_all_runs_every_family() -> None:
    tl, sc, rec = call(
        (say(0),),
        (utt(0, 0, 0, S),),
        (log(0, StepKind.SAY, 0, 3 * S),),
        [(S + 200 * MS, S + 700 * MS), (S + 900 * MS, 2 * S)],
    )
    out = measure_all(tl, sc, rec)
    assert {"latency", "activity", "barge_in", "cutoffs", "talk_over"} <= set(FAMILIES)
    metrics = {m.metric: m for m in out}
    # Every family ran: latency, activity, cutoffs and talk-over each left their numbers.
    assert {TURN_LATENCY, NO_RESPONSE, "agent_speech_ms", "agent_turns", "cutoff", "talk_over_ms"} <= set(metrics)
    assert metrics["cutoff"].value == 0.0
    assert metrics["agent_speech_ms"].value == pytest.approx(600.0)
    assert metrics["agent_speech_ms"].turn is None
    assert metrics["agent_turns"].value == 2.0


def test_mismatched_scenario_is_refused() -> None:
    tl, _, rec = call((say(0),), (utt(0, 0, 0, S),), (), [])
    with pytest.raises(ValueError, match=r"does not match scenario\.id 'other'"):
        measure_latency(tl, Scenario(id="other", steps=(say(0),)), rec)


def test_end_to_end_from_received_audio() -> None:
    """Caller speech ends at 1.000 s; the agent's tone starts 287.5 ms later in received.wav,
    whose packets arrive with a fixed 30 ms network delay. Truth: 317.5 ms (1 ms tolerance)."""
    sr = 48_000
    rng = np.random.default_rng(5)
    x = (rng.standard_normal(4 * sr) * 10 ** (-55 / 20)).astype(np.float32)
    onset = sr + 287 * 48 + 24  # 1.2875 s into received.wav
    n = np.arange(sr)
    x[onset : onset + sr] += (0.1 * np.sin(2 * np.pi * 330 * n / sr + 0.7)).astype(np.float32)
    anchors = tuple((s, s * S // sr + 30 * MS) for s in range(0, x.size, 960))
    sent = (utt(0, 0, 100 * MS, S),)
    recording = CallRecording(
        call_id="e2e",
        scenario_id="sc",
        endpoint="ref",
        caller=CallerKind.AIORTC,
        received_anchors=anchors,
        sent=sent,
        steps=(log(0, StepKind.SAY, 0, 3 * S),),
    )
    timeline = build_timeline(recording, x)
    (lat,) = by_metric(
        measure_latency(timeline, Scenario(id="sc", steps=(say(0),)), recording), TURN_LATENCY
    )
    assert lat.value == pytest.approx(317.5, abs=1.0)

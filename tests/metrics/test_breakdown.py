"""Latency breakdown at the endpoint's end-of-turn event.

Unit tests use hand-built timelines whose answers are exact (1e-9 ms). The real-call
test checks the split against the reference agent's own log on the shared clock: it
sends speech_stopped when it decides the turn is over (``decided_ns``) and answers
``--delay`` ms later, so endpointing_delay_ms must equal ``decided_ns − speech_end_ns``
and generation_delay_ms the delay, each within 30 ms (the stated tolerance: the data
channel's delivery and the agent's VAD placing the speech end a frame or two away from
the corpus's).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from support import run_calls, say_scenario

from harness.agent.truth import truth_turns
from harness.corpus.model import Corpus
from harness.metrics import FAMILIES
from harness.metrics.breakdown import (
    ENDPOINTING_DELAY,
    GENERATION_DELAY,
    RESPONSE_CREATED_DELAY,
    measure_breakdown,
)
from harness.metrics.latency import TURN_LATENCY, measure_latency
from harness.records import (
    CallerKind,
    CallRecording,
    Dialect,
    EndpointEvent,
    EndpointSpec,
    EventKind,
    Measurement,
    Scenario,
    SegmentationParams,
    SentUtterance,
    Step,
    StepKind,
    StepLog,
    StepOutcome,
    TimedSegment,
    Timeline,
)
from harness.scoring import score_call

MS = 1_000_000
S = 1_000_000_000


def say(index: int, await_reply: bool = True) -> Step:
    return Step(index=index, kind=StepKind.SAY, utterance=f"u{index}", await_reply=await_reply)


def utt(index: int, start_ns: int, speech_start_ns: int, speech_end_ns: int) -> SentUtterance:
    return SentUtterance(
        step_index=index, kind=StepKind.SAY, utterance_id=f"u{index}",
        start_sample=start_ns * 48_000 // S, start_ns=start_ns,
        speech_start_ns=speech_start_ns, speech_end_ns=speech_end_ns,
        voiced_ns=((speech_start_ns, speech_end_ns),),
    )


def event(t_ns: int, kind: EventKind) -> EndpointEvent:
    return EndpointEvent(t_ns=t_ns, kind=kind, vendor_type=str(kind))


def call(
    steps: tuple[Step, ...],
    sent: tuple[SentUtterance, ...],
    agent: list[tuple[int, int]],
    events: tuple[EndpointEvent, ...],
) -> tuple[Timeline, Scenario, CallRecording]:
    scenario = Scenario(id="sc", steps=steps)
    logs = tuple(
        StepLog(step_index=u.step_index, kind=StepKind.SAY, started_ns=u.start_ns,
                ended_ns=u.speech_end_ns + 3 * S, outcome=StepOutcome.REPLY_ENDED)
        for u in sent
    )
    recording = CallRecording(call_id="c", scenario_id="sc", endpoint="ep", caller=CallerKind.AIORTC,
                              sent=sent, steps=logs, events=events, duration_ns=30 * S)
    segs = tuple(TimedSegment(start_ns=a, end_ns=b) for a, b in agent)
    timeline = Timeline(call_id="c", caller_speech=sent, agent_speech=segs, agent_turns=segs,
                        events=events, params=SegmentationParams(), end_ns=30 * S)
    return timeline, scenario, recording


def values(out: tuple[Measurement, ...], metric: str) -> dict[int | None, float | None]:
    return {m.turn: m.value for m in out if m.metric == metric}


def test_split_is_event_minus_speech_end_and_onset_minus_event() -> None:
    tl, sc, rec = call(
        (say(0), say(1)),
        (utt(0, 0, 100 * MS, 2 * S), utt(1, 6 * S, 6 * S + 50 * MS, 8 * S)),
        [(2 * S + 900 * MS, 4 * S), (8 * S + 700 * MS, 9 * S)],
        (
            event(200 * MS, EventKind.SPEECH_STARTED),
            event(2 * S + 520 * MS, EventKind.SPEECH_STOPPED),
            event(2 * S + 600 * MS, EventKind.RESPONSE_CREATED),
            event(2 * S + 890 * MS, EventKind.AUDIO_STARTED),
            event(8 * S + 300_500_000, EventKind.SPEECH_STOPPED),
        ),
    )
    out = measure_breakdown(tl, sc, rec)
    assert values(out, ENDPOINTING_DELAY) == pytest.approx({0: 520.0, 1: 300.5}, abs=1e-9)
    assert values(out, GENERATION_DELAY) == pytest.approx({0: 380.0, 1: 399.5}, abs=1e-9)
    # Turn 1 has no response.created: no line, not a failure.
    assert values(out, RESPONSE_CREATED_DELAY) == pytest.approx({0: 80.0}, abs=1e-9)
    assert all(m.passed is None and m.unit == "ms" for m in out)
    # The two parts add up to the latency family's turn latency.
    latency = values(measure_latency(tl, sc, rec), TURN_LATENCY)
    for turn in (0, 1):
        total = values(out, ENDPOINTING_DELAY)[turn] + values(out, GENERATION_DELAY)[turn]  # type: ignore[operator]
        assert total == pytest.approx(latency[turn], abs=1e-9)


def test_the_stop_that_led_to_the_reply_is_the_last_before_its_onset() -> None:
    # The endpoint declared end-of-turn in a pause (1.2 s), heard the caller resume,
    # then declared it again after the true end: the second one led to the reply.
    tl, sc, rec = call(
        (say(0),),
        (utt(0, 0, 100 * MS, 3 * S),),
        [(3 * S + 900 * MS, 5 * S)],
        (event(1 * S + 200 * MS, EventKind.SPEECH_STOPPED), event(3 * S + 400 * MS, EventKind.SPEECH_STOPPED),
         event(3 * S + 410 * MS, EventKind.RESPONSE_CREATED)),
    )
    out = measure_breakdown(tl, sc, rec)
    assert values(out, ENDPOINTING_DELAY) == pytest.approx({0: 400.0}, abs=1e-9)
    assert values(out, GENERATION_DELAY) == pytest.approx({0: 500.0}, abs=1e-9)
    assert values(out, RESPONSE_CREATED_DELAY) == pytest.approx({0: 10.0}, abs=1e-9)


def test_an_event_after_the_audio_onset_gives_a_negative_generation_delay() -> None:
    tl, sc, rec = call(
        (say(0), say(1)),
        (utt(0, 0, 100 * MS, 2 * S), utt(1, 6 * S, 6 * S + 100 * MS, 8 * S)),
        [(2 * S + 300 * MS, 4 * S)],
        (event(2 * S + 350 * MS, EventKind.SPEECH_STOPPED),
         event(6 * S + 500 * MS, EventKind.SPEECH_STOPPED)),  # turn 1: no reply -> no line
    )
    out = measure_breakdown(tl, sc, rec)
    assert values(out, ENDPOINTING_DELAY) == pytest.approx({0: 350.0}, abs=1e-9)
    assert values(out, GENERATION_DELAY) == pytest.approx({0: -50.0}, abs=1e-9)


def test_missing_events_or_replies_give_no_lines() -> None:
    steps = (say(0), say(1, await_reply=False), say(2))
    sent = (utt(0, 0, 100 * MS, 2 * S), utt(1, 5 * S, 5 * S + 100 * MS, 6 * S), utt(2, 10 * S, 10 * S + 50 * MS, 12 * S))
    agent = [(2 * S + 500 * MS, 3 * S), (6 * S + 500 * MS, 7 * S)]
    # No events at all (WHIP): nothing.
    assert measure_breakdown(*call(steps, sent, agent, ())) == ()
    # Events, but turn 0's stop only comes after the next utterance started; turn 1 awaits
    # no reply; turn 2 has a stop but no reply.
    events = (event(5 * S + 50 * MS, EventKind.SPEECH_STOPPED), event(6 * S + 200 * MS, EventKind.SPEECH_STOPPED),
              event(12 * S + 300 * MS, EventKind.SPEECH_STOPPED))
    assert measure_breakdown(*call(steps, sent, agent, events)) == ()


def test_registered_as_a_family() -> None:
    assert FAMILIES["breakdown"] is measure_breakdown


DELAY_MS = 400
TOLERANCE_MS = 30.0


@pytest.mark.network
@pytest.mark.slow
def test_breakdown_matches_the_agents_decision_and_delay(corpus: Corpus, start_agent) -> None:  # type: ignore[no-untyped-def]
    agent = start_agent("--delay", str(DELAY_MS))
    scenario = say_scenario("breakdown", ["q_time", "q_name", "cmd_play_music"])
    endpoints = [EndpointSpec(name=f"agent-{d}", dialect=d, url=agent.url)
                 for d in (Dialect.OPENAI_REALTIME, Dialect.PIPECAT)]
    artifacts = run_calls(corpus, [(scenario, e) for e in endpoints])
    for endpoint, art in zip(endpoints, artifacts, strict=True):
        rec = art.recording
        assert rec.failure is None, (endpoint.dialect, rec.failure)
        assert rec.origin_monotonic_ns is not None
        info = dict(rec.dialect_info)
        agent_id = str(info["pc_id"]) if "pc_id" in info else str(info["location"]).rsplit("/", 1)[-1]
        truth = truth_turns(Path(agent.truth_log), agent_id)
        assert len(truth) == len(scenario.steps)
        result = score_call(rec, scenario, art.received_audio)
        endpointing = values(result.measurements, ENDPOINTING_DELAY)
        generation = values(result.measurements, GENERATION_DELAY)
        assert set(endpointing) == set(generation) == {0, 1, 2}, (endpoint.dialect, result.measurements)
        for sent in rec.sent:
            end_abs = rec.origin_monotonic_ns + sent.speech_end_ns
            (t,) = [t for t in truth if abs(t.speech_end_ns - end_abs) < 100 * MS]
            want_endpointing = (t.decided_ns - t.speech_end_ns) / MS
            got_e, got_g = endpointing[sent.step_index], generation[sent.step_index]
            report = (f"{endpoint.dialect} turn {sent.step_index}: endpointing {got_e:.1f} vs truth "
                      f"{want_endpointing:.1f}, generation {got_g:.1f} vs delay {t.delay_ms}")
            print(report)
            assert got_e is not None and got_g is not None
            assert abs(got_e - want_endpointing) <= TOLERANCE_MS, report
            assert abs(got_g - t.delay_ms) <= TOLERANCE_MS, report
        if endpoint.dialect is Dialect.OPENAI_REALTIME:  # pipecat's RTVI has bot-llm-started only with an LLM
            created = values(result.measurements, RESPONSE_CREATED_DELAY)
            assert set(created) == {0, 1, 2}
            assert all(v is not None and 0 <= v <= TOLERANCE_MS for v in created.values()), created

"""Every dialect against the reference agent: smoke passes, latency matches the truth.

One agent process serves all three dialects (three routes); each dialect makes one
real call over loopback. The truth is the agent's log on the shared CLOCK_MONOTONIC,
as in tests/callers/test_latency_truth.py, with fewer turns to keep CI fast.
Tolerances: every turn within 20 ms of the truth, median within 5 ms.
"""

from __future__ import annotations

import statistics
from pathlib import Path

import pytest
from support import CODEC_TERM_MS, run_calls, say_scenario

from harness.agent.truth import truth_turns
from harness.corpus.model import Corpus
from harness.records import Dialect, EndpointSpec, EventKind
from harness.scenario.loader import load_scenario
from harness.scoring import score_call

pytestmark = [pytest.mark.network, pytest.mark.slow]

SMOKE = Path(__file__).parents[2] / "suites" / "smoke" / "smoke_three_turns.yaml"
QUESTIONS = ("q_time", "q_name", "cmd_play_music", "q_order_status")
MEDIAN_TOLERANCE_MS = 5.0
MAX_TOLERANCE_MS = 20.0
MATCH_WINDOW_NS = 100_000_000

ROUTES = {
    Dialect.OPENAI_REALTIME: "",
    Dialect.PIPECAT: "",  # the adapter appends /api/offer
    Dialect.WHIP: "/whip",
}
EXPECTED_EVENTS = {
    Dialect.OPENAI_REALTIME: {EventKind.SESSION_CREATED, EventKind.SPEECH_STARTED,
                              EventKind.SPEECH_STOPPED, EventKind.AUDIO_STARTED,
                              EventKind.RESPONSE_DONE},
    Dialect.PIPECAT: {EventKind.SESSION_CREATED, EventKind.SPEECH_STARTED,
                      EventKind.SPEECH_STOPPED, EventKind.AUDIO_STARTED, EventKind.AUDIO_STOPPED},
    Dialect.WHIP: set(),
}


def agent_call_id(info: dict[str, object]) -> str:
    """The agent's own id of the call: Location's last segment, or pipecat's pc_id."""
    if "pc_id" in info:
        return str(info["pc_id"])
    return str(info["location"]).rsplit("/", 1)[-1]


def test_every_dialect_passes_smoke_and_matches_truth(corpus: Corpus, start_agent) -> None:  # type: ignore[no-untyped-def]
    agent = start_agent("--delay", "300")
    smoke = load_scenario(SMOKE, corpus)
    latency = say_scenario("latency", QUESTIONS)
    endpoints = {
        d: EndpointSpec(name=f"agent-{d}", dialect=d, url=agent.url + route) for d, route in ROUTES.items()
    }
    # One call per dialect at a time: three concurrent calls keep the 2-core CI honest.
    calls = [(s, endpoints[d]) for s in (smoke, latency) for d in ROUTES]
    artifacts = run_calls(corpus, calls[:3]) + run_calls(corpus, calls[3:])

    for (scenario, endpoint), art in zip(calls, artifacts, strict=True):
        rec = art.recording
        label = f"{endpoint.dialect}/{scenario.id}"
        assert rec.failure is None, (label, rec.failure)
        result = score_call(rec, scenario, art.received_audio)
        assert result.ok, (label, [m for m in result.measurements if m.passed is False])
        kinds = {e.kind for e in rec.events}
        assert EXPECTED_EVENTS[endpoint.dialect] <= kinds, (label, kinds)
        assert EventKind.ERROR not in kinds, (label, [e for e in rec.events if e.kind == EventKind.ERROR])
        if endpoint.dialect == Dialect.WHIP:
            assert rec.events == ()
            assert rec.dialect_info.get("hangup") == "HTTP 200", rec.dialect_info
        if scenario.id != "latency":
            continue
        assert rec.origin_monotonic_ns is not None
        truth = truth_turns(Path(agent.truth_log), agent_call_id(dict(rec.dialect_info)))
        measured = {m.turn: m.value for m in result.measurements if m.metric == "turn_latency_ms"}
        errors = []
        for sent in rec.sent:
            end_abs = rec.origin_monotonic_ns + sent.speech_end_ns
            match = [t for t in truth if abs(t.speech_end_ns - end_abs) < MATCH_WINDOW_NS]
            assert len(match) == 1, (label, sent.step_index, [(t.speech_end_ns - rec.origin_monotonic_ns) // 1_000_000 for t in truth], [s.speech_end_ns // 1_000_000 for s in rec.sent])
            value = measured.get(sent.step_index)
            assert value is not None and match[0].latency_ms is not None
            errors.append(value - match[0].latency_ms - CODEC_TERM_MS)  # all three are WebRTC
        print(label, [round(e, 1) for e in errors])
        assert len(errors) == len(QUESTIONS)
        assert statistics.median(abs(e) for e in errors) <= MEDIAN_TOLERANCE_MS, (label, errors)
        assert max(abs(e) for e in errors) <= MAX_TOLERANCE_MS, (label, errors)

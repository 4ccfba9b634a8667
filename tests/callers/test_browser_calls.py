"""The browser caller against the reference agent, with a real headless Chromium.

Ground truth is the agent's log on the shared CLOCK_MONOTONIC (when the caller's last
voiced sample reached it, when its answer's first sample left). Tolerances, from the
issue: the browser's network-edge turn latency is within 15 ms (median) of the truth,
and its as-heard latency exceeds the network edge by the jitter-buffer delay Chromium's
getStats reports, within 20 ms (median). Also: the two callers give the same barge-in
verdicts, a missing Chromium and a browser killed mid-call are recorded failures, a
call after a crash works, and a loopback endpoint whose media address is another
interface is reached there and says so (``caller_info.network_path``), not failed.
"""

from __future__ import annotations

import asyncio
import os
import signal
import statistics
import time
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path

import numpy as np
import pytest
from support import CODEC_TERM_MS, agent_call_id, local_endpoint, say_scenario, scenario_of

from harness.agent.truth import truth_turns
from harness.analysis.timeline import build_timeline
from harness.callers.aiortc_caller import AiortcCaller
from harness.callers.base import CallArtifacts
from harness.callers.browser.caller import BrowserCaller, BrowserSettings
from harness.callers.browser.discovery import CHROMIUM_ENV
from harness.corpus.model import Corpus, load_audio
from harness.metrics.heard import TURN_LATENCY_HEARD, measure_heard
from harness.records import (
    CallerKind,
    CallRecording,
    CallSpec,
    EndpointSpec,
    EventKind,
    Expectation,
    FailureKind,
    Scenario,
    Step,
    StepKind,
)
from harness.scoring import score_call
from harness.store.serialize import from_json, to_json
from harness.validity import ValiditySettings, judge
from harness.webrtc.ice import interface_addresses
from harness.webrtc.path import LOOPBACK, NON_LOOPBACK, host_of

pytestmark = [pytest.mark.network, pytest.mark.slow]
TIMED_AGAINST_CHROMIUM = pytest.mark.alone
"""The tests that time Chromium's own audio path (normal priority) run with nothing beside them."""

DELAYS_MS = (200, 800)
QUESTIONS = ("q_time", "q_name", "cmd_play_music", "q_order_status", "cmd_call_mother")
TURNS = 6
NETWORK_EDGE_MEDIAN_MS = 15.0
HEARD_VS_JITTER_BUFFER_MS = 20.0
MATCH_WINDOW_NS = 100_000_000


def run_browser(
    corpus: Corpus,
    calls: Sequence[tuple[Scenario, EndpointSpec]],
    settings: BrowserSettings | None = None,
    meanwhile: Callable[[BrowserCaller], Awaitable[None]] | None = None,
) -> list[CallArtifacts]:
    """The calls at once on one BrowserCaller (one event loop, as the runner does)."""

    pids: list[int] = []

    async def main() -> list[CallArtifacts]:
        async with BrowserCaller(corpus, settings) as caller:
            specs = [CallSpec(call_id=f"{s.id}-{i}", scenario=s, endpoint=e, caller=CallerKind.BROWSER)
                     for i, (s, e) in enumerate(calls)]
            runs = asyncio.gather(*(caller.run(spec) for spec in specs))
            if meanwhile is not None:
                await meanwhile(caller)
            results = list(await runs)
            pids.extend(caller.pool.browser_pids())
        return results

    results = asyncio.run(main())
    assert_exited(pids)
    return results


def assert_exited(pids: Sequence[int], within_s: float = 10.0) -> None:
    """Every browser the caller started is gone once it is closed."""
    deadline = time.monotonic() + within_s
    while any(Path(f"/proc/{pid}").exists() for pid in pids) and time.monotonic() < deadline:
        time.sleep(0.1)
    alive = [pid for pid in pids if Path(f"/proc/{pid}").exists()]
    assert not alive, f"browser processes {alive} outlived the caller"


@TIMED_AGAINST_CHROMIUM
def test_network_edge_latency_matches_truth_and_heard_adds_the_jitter_buffer(corpus: Corpus, start_agent) -> None:  # type: ignore[no-untyped-def]
    agents = {d: start_agent("--delay", str(d)) for d in DELAYS_MS}
    scenario = say_scenario("browser-latency", [QUESTIONS[i % len(QUESTIONS)] for i in range(TURNS)])
    arts = run_browser(corpus, [(scenario, local_endpoint(a.url, f"delay-{d}")) for d, a in agents.items()])
    for (delay, agent), art in zip(agents.items(), arts, strict=True):
        rec = art.recording
        assert rec.failure is None, rec.failure
        assert rec.caller is CallerKind.BROWSER and rec.origin_monotonic_ns is not None
        assert float(rec.caller_info["clock_error_us"]) < 2000.0, rec.caller_info  # type: ignore[arg-type]
        truth = truth_turns(Path(str(agent.truth_log)), agent_call_id(art))
        result = score_call(rec, scenario, art.received_audio)
        net = {m.turn: m.value for m in result.measurements if m.metric == "turn_latency_ms"}
        heard = {m.turn: m.value for m in measure_heard(rec, scenario, art.received_audio)
                 if m.metric == TURN_LATENCY_HEARD}
        errors, excess, skipped = [], [], []
        for sent in rec.sent:
            end_abs = rec.origin_monotonic_ns + sent.speech_end_ns
            match = [t for t in truth if abs(t.speech_end_ns - end_abs) < MATCH_WINDOW_NS]
            t = match[0] if len(match) == 1 else None
            if t is None or t.latency_ms is None or not (
                delay + t.endpointing_ms <= t.latency_ms <= delay + t.endpointing_ms + 250
            ):
                # The agent itself was off its knobs (a starved machine): no truth to compare with.
                skipped.append(sent.step_index)
                continue
            n, h = net.get(sent.step_index), heard.get(sent.step_index)
            assert n is not None and h is not None, (sent.step_index, n, h)
            errors.append(n - t.latency_ms - CODEC_TERM_MS)
            onset = sent.speech_end_ns + h * 1e6
            # Chromium's jitter-buffer delay over the getStats interval that holds the onset.
            jb = next((s.jitter_buffer_ms for s in rec.transport if s.t_ns >= onset and s.jitter_buffer_ms), None)
            assert jb is not None, f"no getStats reading after the onset of turn {sent.step_index}"
            excess.append(h - n - jb)
        report = (f"delay {delay} ms: network-edge errors {[round(e, 1) for e in errors]} ms; "
                  f"heard - network - jitter buffer {[round(e, 1) for e in excess]} ms; "
                  f"mean jitter buffer {rec.caller_info.get('jitter_buffer_ms')} ms; turns without "
                  f"a sane truth {skipped}")
        print(report)
        assert len(errors) >= TURNS - 2, report
        assert statistics.median(abs(e) for e in errors) <= NETWORK_EDGE_MEDIAN_MS, report
        assert statistics.median(abs(e) for e in excess) <= HEARD_VS_JITTER_BUFFER_MS, report


@TIMED_AGAINST_CHROMIUM  # it also judges the call's send timing
def test_smoke_call_records_everything_like_the_aiortc_caller(corpus: Corpus, start_agent) -> None:  # type: ignore[no-untyped-def]
    agent = start_agent("--delay", "100")
    scenario = scenario_of(
        "browser-smoke",
        Step(index=0, kind=StepKind.SAY, utterance="q_time"),
        Step(index=1, kind=StepKind.SILENCE, duration_ms=300),
        Step(index=2, kind=StepKind.SAY, utterance="q_name"),
    )
    (art,) = run_browser(corpus, [(scenario, local_endpoint(agent.url))])
    assert isinstance(art, CallArtifacts)
    rec = art.recording
    assert rec.failure is None, rec.failure
    assert [s.outcome for s in rec.steps] == ["reply_ended", "done", "reply_ended"]
    # Every message the page sent parsed as protocol.py reads it (the JS and Python agree),
    # and the page had nothing to work around or fail on.
    for key in ("page_protocol_errors", "page_warnings", "page_errors"):
        assert key not in rec.caller_info, rec.caller_info[key]
    # What was sent: the corpus clips, where the recording says, timed after connection.
    assert [s.utterance_id for s in rec.sent] == ["q_time", "q_name"]
    assert rec.connected_ns is not None and rec.connected_ns < rec.sent[0].start_ns
    for sent in rec.sent:
        clip = load_audio(corpus.get(sent.utterance_id))
        np.testing.assert_array_equal(art.caller_audio[sent.start_sample : sent.start_sample + clip.size], clip)
        # caller.wav is the call clock: a sample's index and its send time agree within
        # the browser's send jitter (frames leave in bursts, up to ~20 ms apart from the grid).
        assert abs(sent.start_ns - sent.start_sample * 1e9 / 48000) < 40e6
    assert rec.sent[1].start_ns > rec.sent[0].speech_end_ns + 300e6
    # What arrived: two agent replies at the network edge, and the same audio as heard.
    timeline = build_timeline(rec, art.received_audio)
    assert len(timeline.agent_turns) == 2
    assert rec.heard_anchors and all(b[1] > a[1] for a, b in zip(rec.heard_anchors, rec.heard_anchors[1:], strict=False))
    assert art.heard_audio.size > 0 and rec.heard_wav == "heard.wav"
    kinds = [e.kind for e in rec.events]
    for kind in (EventKind.SPEECH_STARTED, EventKind.SPEECH_STOPPED, EventKind.RESPONSE_CREATED,
                 EventKind.AUDIO_STARTED):
        assert kinds.count(kind) == 2, kinds
    assert rec.transport and any(t.jitter_buffer_ms for t in rec.transport)
    assert rec.send_timing is not None
    assert rec.send_timing.frames == pytest.approx(art.caller_audio.size / 960, abs=3)
    # A quiet browser call is not flagged by the validity guard (its first send limit,
    # 10 ms, sat below the quiet p99 of 10.3-11.9 ms and flagged every one).
    validity = judge(rec, [], ValiditySettings())
    assert not validity.disturbed, (validity.reasons, rec.send_timing)
    pair = rec.caller_info["ice_pair"]
    assert isinstance(pair, dict)
    assert str(pair["local"]).startswith("127.0.0.1:") and str(pair["remote"]).startswith("127.0.0.1:")
    assert rec.caller_info["network_path"] == LOOPBACK
    assert from_json(CallRecording, to_json(rec)) == rec
    measured = {m.metric for m in score_call(rec, scenario, art.received_audio).measurements}
    assert "turn_latency_ms" in measured


def _barge_scenario() -> Scenario:
    # The echo of rep_journey has a 2.9 s voiced run from 1.3 s on; the interruption
    # lands ~2 s in, so an agent that talks on stops ~2.2 s later, one that yields within
    # ~0.7 s. The 1500 ms limit sits between the two with room for a busy machine.
    return scenario_of(
        "browser-barge",
        Step(index=0, kind=StepKind.SAY, utterance="rep_journey", await_reply=False),
        Step(index=1, kind=StepKind.BARGE_IN, utterance="int_hold_on", after_onset_ms=1800,
             expect=Expectation(max_stop_ms=1500)),
    )


@TIMED_AGAINST_CHROMIUM
def test_barge_in_verdicts_match_the_aiortc_caller(corpus: Corpus, start_agent) -> None:  # type: ignore[no-untyped-def]
    agents = {"stops": start_agent("--stop-delay-ms", "50"), "talks-on": start_agent("--no-barge-in")}
    scenario = _barge_scenario()

    async def main() -> tuple[list[CallArtifacts], list[CallArtifacts]]:
        async with BrowserCaller(corpus) as browser:
            aiortc = AiortcCaller(corpus)
            jobs = []
            for caller, kind in ((browser, CallerKind.BROWSER), (aiortc, CallerKind.AIORTC)):
                for name, agent in agents.items():
                    spec = CallSpec(call_id=f"barge-{kind}-{name}", scenario=scenario,
                                    endpoint=local_endpoint(agent.url, name), caller=kind)
                    jobs.append(caller.run(spec))
            done = await asyncio.gather(*jobs)
        return list(done[:2]), list(done[2:])

    browser_arts, aiortc_arts = asyncio.run(main())
    verdicts: dict[str, list[tuple[float | None, float | None]]] = {}
    for art in (*browser_arts, *aiortc_arts):
        rec = art.recording
        assert rec.failure is None, (rec.caller, rec.failure)
        values = {m.metric: m.value for m in score_call(rec, scenario, art.received_audio).measurements
                  if m.turn == 1}
        verdicts.setdefault(rec.endpoint, []).append((values.get("barge_in_handled"), values.get("barge_in_ignored")))
    print("barge-in verdicts (browser, aiortc):", verdicts)
    assert verdicts == {"stops": [(1.0, 0.0)] * 2, "talks-on": [(0.0, 1.0)] * 2}
    # The page fired its trigger 1800 ms after the onset it heard, and the clip left
    # within the WebAudio -> encoder path delay of the trigger.
    for art in browser_arts:
        (barge,) = [s for s in art.recording.sent if s.kind is StepKind.BARGE_IN]
        assert barge.trigger_ns is not None and barge.agent_onset_ns is not None
        assert barge.trigger_ns - barge.agent_onset_ns == pytest.approx(1800e6, abs=0.1e6)
        assert -10e6 <= barge.start_ns - barge.trigger_ns <= 60e6, barge


def test_missing_chromium_is_a_recorded_failure(corpus: Corpus, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(CHROMIUM_ENV, "/nonexistent/chromium")
    scenario = say_scenario("no-browser", ["q_time"])
    (art,) = run_browser(corpus, [(scenario, local_endpoint("http://127.0.0.1:9"))])
    failure = art.recording.failure
    assert failure is not None and failure.kind is FailureKind.BROWSER_UNAVAILABLE
    assert CHROMIUM_ENV in failure.reason and "/nonexistent/chromium" in failure.reason
    assert art.recording.caller is CallerKind.BROWSER


def test_browser_killed_mid_call_is_dropped_and_the_next_call_works(corpus: Corpus, start_agent) -> None:  # type: ignore[no-untyped-def]
    agent = start_agent("--delay", "100")
    long_call = say_scenario("killed", [QUESTIONS[i % len(QUESTIONS)] for i in range(6)])
    after = say_scenario("after-crash", ["q_time"])
    endpoint = local_endpoint(agent.url)
    launches: list[int] = []

    async def main() -> tuple[CallArtifacts, CallArtifacts]:
        async with BrowserCaller(corpus) as caller:
            first = asyncio.ensure_future(caller.run(CallSpec(call_id="killed", scenario=long_call,
                                                              endpoint=endpoint, caller=CallerKind.BROWSER)))
            for _ in range(300):  # until the first reply has been heard (at most 30 s)
                sessions = caller.server.sessions
                if sessions and sessions[0].evidence.steps:
                    break
                await asyncio.sleep(0.1)
            (pid,) = caller.pool.browser_pids()
            os.kill(pid, signal.SIGKILL)  # the browser this test's caller launched
            dropped = await asyncio.wait_for(first, 30)
            second = await caller.run(CallSpec(call_id="after", scenario=after, endpoint=endpoint,
                                               caller=CallerKind.BROWSER))
            launches.append(caller.pool.launches)
            assert pid not in caller.pool.browser_pids()
        return dropped, second

    dropped, second = asyncio.run(main())
    failure = dropped.recording.failure
    assert failure is not None and failure.kind is FailureKind.DROPPED, failure
    assert "Chromium" in failure.reason
    assert dropped.recording.sent and dropped.recording.steps  # what happened before is kept
    assert second.recording.failure is None, second.recording.failure
    assert [s.outcome for s in second.recording.steps] == ["reply_ended"]
    assert launches == [2]  # the dead browser was replaced, not reused


def test_get_user_media_mode_sends_through_chromium_audio_processing(corpus: Corpus, start_agent) -> None:  # type: ignore[no-untyped-def]
    agent = start_agent("--delay", "100")
    scenario = say_scenario("browser-gum", ["q_time", "q_name"])
    settings = BrowserSettings(use_get_user_media=True)
    (art,) = run_browser(corpus, [(scenario, local_endpoint(agent.url))], settings)
    rec = art.recording
    assert rec.failure is None, rec.failure
    capture = rec.caller_info["capture"]
    assert isinstance(capture, dict) and isinstance(capture["settings"], dict)
    assert capture["settings"]["echoCancellation"] is True and capture["settings"]["noiseSuppression"] is True
    # The clips were found in what Chromium sent after its processing, and the agent
    # heard each caller turn end where the recording says it was sent (within 15 ms:
    # noise suppression may shave a soft ending).
    truth = truth_turns(Path(str(agent.truth_log)), agent_call_id(art))
    assert [s.utterance_id for s in rec.sent] == ["q_time", "q_name"]
    assert rec.origin_monotonic_ns is not None
    for sent in rec.sent:
        end_abs = rec.origin_monotonic_ns + sent.speech_end_ns
        assert min(abs(t.speech_end_ns - end_abs) for t in truth) < 15e6, (sent, truth)


def test_get_user_media_mode_refuses_live_triggers(corpus: Corpus) -> None:
    settings = BrowserSettings(use_get_user_media=True)
    (art,) = run_browser(corpus, [(_barge_scenario(), local_endpoint("http://127.0.0.1:9"))], settings)
    failure = art.recording.failure
    assert failure is not None and failure.kind is FailureKind.BAD_SCENARIO
    assert "step 1 (barge_in)" in failure.reason and "live trigger" in failure.reason


@TIMED_AGAINST_CHROMIUM
def test_cutoff_verdicts_match_the_aiortc_caller(corpus: Corpus, start_agent) -> None:  # type: ignore[no-untyped-def]
    """Also: both callers reach a loopback endpoint over another local address (issue 12).

    The agents gather like a plain aiortc server (``--ice-interfaces``: this machine's
    interface addresses, no 127.0.0.1), so each call's media goes to an interface address
    while its URL is loopback: the call must work and say so in ``network_path`` (the
    smoke test covers the loopback path).
    """
    # Endpointing 600 ms: a 300 ms pause inside the caller's turn is never cut off, a
    # 1500 ms one always is (the agent's own log is checked by tests/metrics).
    interfaces = interface_addresses()  # none: the agent can only offer 127.0.0.1
    agents = {kind: start_agent("--endpointing-ms", "600", "--ice-interfaces")
              for kind in (CallerKind.BROWSER, CallerKind.AIORTC)}
    scenario = say_scenario("browser-cutoff", ["pause_300", "pause_1500"], reply_quiet_ms=1800)

    async def main() -> list[CallArtifacts]:
        async with BrowserCaller(corpus) as browser:
            callers = {CallerKind.BROWSER: browser, CallerKind.AIORTC: AiortcCaller(corpus)}
            return list(await asyncio.gather(*(
                callers[kind].run(CallSpec(call_id=f"cutoff-{kind}", scenario=scenario,
                                           endpoint=local_endpoint(agent.url, str(kind)), caller=kind))
                for kind, agent in agents.items())))

    curves, paths = {}, {}
    for art in asyncio.run(main()):
        rec = art.recording
        assert rec.failure is None, (rec.caller, rec.failure, rec.caller_info.get("ice_pair"))
        measured = score_call(rec, scenario, art.received_audio).measurements
        curves[rec.caller] = {m.metric: m.value for m in measured if m.metric.startswith("cutoff_pause_")}
        assert any(m.metric == "turn_latency_ms" and m.value is not None for m in measured), (rec.caller, measured)
        pair, path = rec.caller_info["ice_pair"], str(rec.caller_info["network_path"])
        assert isinstance(pair, dict)
        paths[rec.caller] = (pair, path)
        if interfaces:
            assert host_of(str(pair["remote"])) in interfaces, (rec.caller, pair)
            assert path.startswith(f"{NON_LOOPBACK}: ") and "the endpoint URL is loopback" in path, (rec.caller, path)
    print("cutoff by pause (browser, aiortc):", curves, "media paths:", paths)
    expected = {"cutoff_pause_300ms": 0.0, "cutoff_pause_1500ms": 1.0}
    assert curves == {CallerKind.BROWSER: expected, CallerKind.AIORTC: expected}


def test_agent_hanging_up_mid_call_is_dropped_quickly(corpus: Corpus, start_agent) -> None:  # type: ignore[no-untyped-def]
    agent = start_agent("--drop-after-s", "3")
    scenario = say_scenario("browser-drop", ["q_time", "q_name", "cmd_play_music"])
    started = time.monotonic()
    (art,) = run_browser(corpus, [(scenario, local_endpoint(agent.url))])
    failure = art.recording.failure
    assert failure is not None and failure.kind is FailureKind.DROPPED, failure
    assert "hung up" in failure.reason
    # Noticed from the DTLS close, not after ICE consent (~30 s) or the call's time bound.
    assert time.monotonic() - started < 15.0
    assert [s.utterance_id for s in art.recording.sent][:1] == ["q_time"]  # kept what came before

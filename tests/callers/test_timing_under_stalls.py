"""A busy caller still measures right: arrival times come from the kernel.

The caller's event loop is blocked for 100 ms every 370 ms (a neighbour call's work, a
garbage collection, a starved core). Packets that arrive meanwhile wait in the socket
buffer; with SO_TIMESTAMPNS their arrival is still the kernel's, so turn latency stays
within the spine's tolerances of the agent's ground truth.
"""

from __future__ import annotations

import asyncio
import statistics
import time
from pathlib import Path

import pytest
from support import CODEC_TERM_MS, agent_call_id, local_endpoint, say_scenario

from harness.agent.truth import truth_turns
from harness.callers.aiortc_caller import AiortcCaller
from harness.callers.base import CallArtifacts
from harness.corpus.model import Corpus
from harness.records import CallerKind, CallSpec
from harness.scoring import score_call

pytestmark = [pytest.mark.network, pytest.mark.slow]

STALL_S = 0.1
STALL_EVERY_S = 0.37


async def _stalling_call(corpus: Corpus, spec: CallSpec) -> CallArtifacts:
    async def stall() -> None:
        while True:
            await asyncio.sleep(STALL_EVERY_S)
            time.sleep(STALL_S)  # noqa: ASYNC251 - blocking the loop is the point

    staller = asyncio.ensure_future(stall())
    try:
        return await AiortcCaller(corpus).run(spec)
    finally:
        staller.cancel()


def test_latency_survives_a_stalling_event_loop(corpus: Corpus, start_agent) -> None:  # type: ignore[no-untyped-def]
    agent = start_agent("--delay", "300")
    scenario = say_scenario("stalls", ["q_time", "q_name", "cmd_play_music", "q_order_status"] * 2)
    spec = CallSpec(call_id="stalls", scenario=scenario, endpoint=local_endpoint(agent.url),
                    caller=CallerKind.AIORTC)
    art = asyncio.run(_stalling_call(corpus, spec))
    rec = art.recording
    assert rec.failure is None, rec.failure
    assert rec.arrival_source == "kernel"
    assert rec.send_timing is not None and rec.send_timing.error_max_ms > 50  # the stalls happened
    measured = {m.turn: m.value for m in score_call(rec, scenario, art.received_audio).measurements
                if m.metric == "turn_latency_ms"}
    truth = truth_turns(Path(agent.truth_log), agent_call_id(art))  # type: ignore[arg-type]
    errors = []
    for sent in rec.sent:
        end = rec.origin_monotonic_ns + sent.speech_end_ns  # type: ignore[operator]
        (match,) = [t for t in truth if abs(t.speech_end_ns - end) < 100_000_000]
        value = measured[sent.step_index]
        assert value is not None and match.latency_ms is not None
        errors.append(value - match.latency_ms - CODEC_TERM_MS)
    print(f"errors under {STALL_S * 1000:.0f} ms stalls: {[round(e, 1) for e in errors]}")
    assert statistics.median(abs(e) for e in errors) <= 5.0, errors
    assert max(abs(e) for e in errors) <= 20.0, errors

"""``agent serve --workers N``: requests about a call reach the worker that owns it."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient, TestServer
from support import local_endpoint, run_calls

from harness.agent.knobs import AgentKnobs
from harness.agent.server import AgentServer, WorkerSlot
from harness.agent.truth import TruthLog, read_truth
from harness.analysis.timeline import build_timeline
from harness.corpus.model import Corpus
from harness.records import Scenario, SegmentationParams, Step, StepKind


def test_another_workers_call_is_redirected_to_its_owner() -> None:
    async def main() -> None:
        server = AgentServer(AgentKnobs(), TruthLog(None), slot=WorkerSlot(index=0, ports=(1111, 2222)))
        async with TestClient(TestServer(server.app)) as client:
            other = await client.delete("/whip/rtc_w1_0003_abcd", allow_redirects=False)
            assert other.status == 307
            assert other.headers["Location"] == "http://127.0.0.1:2222/whip/rtc_w1_0003_abcd"
            patch = await client.patch("/api/offer", json={"pc_id": "rtc_w1_0001_ffff", "candidates": []},
                                       allow_redirects=False)
            assert patch.status == 307 and patch.headers["Location"].startswith("http://127.0.0.1:2222/")
            mine = await client.delete("/whip/rtc_w0_0002_abcd", allow_redirects=False)
            assert mine.status == 404  # its own (unknown) call: answered here, not bounced
            unknown_owner = await client.delete("/whip/rtc_w7_0002_abcd", allow_redirects=False)
            assert unknown_owner.status == 404

    asyncio.run(main())


@pytest.mark.network
@pytest.mark.slow
def test_playback_agent_workers_serve_real_calls(corpus: Corpus, start_agent) -> None:  # type: ignore[no-untyped-def]
    """Two playback-mode agent processes behind one port: both calls connect and hear the
    loop's speech bursts, and the agent answers nothing (no turns in its truth log)."""
    agent = start_agent("--mode", "playback", "--workers", "2")
    steps = (Step(index=0, kind=StepKind.SAY, utterance="q_time", await_reply=False),
             Step(index=1, kind=StepKind.SILENCE, duration_ms=3000))
    calls = [(Scenario(id="playback", steps=steps), local_endpoint(agent.url)) for _ in range(2)]
    for art in run_calls(corpus, calls):
        rec = art.recording
        assert rec.failure is None, rec.failure
        timeline = build_timeline(rec, art.received_audio, SegmentationParams())
        # 1.5 s of talk every 2 s: at least two bursts in a call of ~4.5 s
        assert len(timeline.agent_turns) >= 2, timeline.agent_turns
        assert str(rec.dialect_info["location"]).rsplit("/", 1)[-1].startswith("rtc_w")
    assert not [r for r in read_truth(Path(agent.truth_log)) if r.get("kind") == "turn"]

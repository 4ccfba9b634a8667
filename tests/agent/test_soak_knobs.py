"""The reference agent's soak knobs: a delay that drifts, refusals after a time or at a
rate, and a leak, each written to the truth log so soak tests know what happened."""

from __future__ import annotations

import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from harness.agent.knobs import AgentKnobs
from harness.agent.process import AgentProcess
from harness.agent.truth import read_truth


def test_drift_and_fail_after_are_functions_of_serving_time() -> None:
    knobs = AgentKnobs(delay_drift_ms_per_min=100.0, fail_after_s=60.0, origin_ns=10**12)
    assert knobs.drift_ms(10**12) == 0.0
    assert knobs.drift_ms(10**12 + 90 * 10**9) == pytest.approx(150.0)
    assert not knobs.failing(10**12 + 59_999_000_000) and knobs.failing(10**12 + 60 * 10**9)
    assert AgentKnobs(delay_drift_ms_per_min=100.0).drift_ms(10**15) == 0.0  # no origin: no drift
    assert knobs.as_json()["delay_drift_ms_per_min"] == 100.0


def post_offer(url: str) -> int:
    """A minimal 'offer' that reaches the knobs' check (a real answer would need ICE)."""
    req = urllib.request.Request(f"{url}/v1/realtime/calls", data=b"v=0\r\n", method="POST",
                                 headers={"Content-Type": "application/sdp"})
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return int(resp.status)
    except urllib.error.HTTPError as exc:
        return int(exc.code)


@pytest.mark.network
def test_refusals_match_the_truth_log(tmp_path: Path) -> None:
    """One agent, both knobs: refusals at a seeded 30 % rate, then every offer from 4 s
    after the first one (the knobs' time base, whenever the agent was started)."""
    truth = tmp_path / "truth.jsonl"
    with AgentProcess(["--fail-after", "4", "--fail-rate", "0.3", "--seed", "4"], truth_log=truth) as agent:
        time.sleep(0.5)  # the origin is the first offer, not the agent's start
        before = [post_offer(agent.url)]
        start = next(r for r in read_truth(truth) if r["kind"] == "knob_origin")
        origin = int(start["t_ns"])  # type: ignore[arg-type]
        agent_start = next(r for r in read_truth(truth) if r["kind"] == "agent_start")
        assert origin - int(agent_start["t_ns"]) >= 0.5e9  # type: ignore[arg-type]
        while time.monotonic_ns() - origin < 3.0e9:
            before.append(post_offer(agent.url))
        while time.monotonic_ns() - origin < 4.1e9:
            time.sleep(0.05)
        after = [post_offer(agent.url) for _ in range(3)]
    refused = [r for r in read_truth(truth) if r["kind"] == "offer_refused"]
    assert after == [503] * 3
    assert [r["reason"] for r in refused] == ["fail_rate"] * before.count(503) + ["fail_after"] * 3
    assert all(int(r["t_ns"]) - origin >= 4e9 for r in refused[-3:])  # type: ignore[arg-type]
    draws = AgentKnobs(fail_rate=0.3, seed=4).refusal_rng()
    expected = [503 if draws.random() < 0.3 else 400 for _ in before]  # 400: a real (bad) offer
    assert len(before) >= 3 and before == expected

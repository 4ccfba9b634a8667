"""Real soaks against the reference agent, as a user runs them (``voice-harness soak``).

Two soaks, each judged against the agent's own ground-truth log:

- concurrency 4 against an agent whose response delay grows 100 ms per minute and
  which refuses every call from 44 s after its first one: every started call accounted for,
  the drift's slope within 20 % of the truth, the failure rate stepping up in the
  window that holds the agent's first refusal, the harness's RSS flat after warm-up;
- a steady agent (which leaks a known amount per call), the soak killed with SIGKILL
  mid-way: ``voice-harness report`` on its folder shows every window that closed, and
  no drift; the agent's log shows the leak per call it answered.

The machine is shared: a neighbour loading the CPU disturbs calls (the validity guard
flags them, and they leave the latency windows), which can leave too few windows for a
drift verdict; check ``uptime`` before reading such a failure as a harness bug.

Tolerances: slope within 20 % (the issue's), RSS within 5 % of the first window after
warm-up (the issue's), the failure step in the window of the first refusal or the next
(a call refused at the end of a window is scored after it closes).
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from harness.agent.process import AgentProcess
from harness.agent.truth import read_truth
from harness.stats.drift import DriftVerdict
from harness.store.run_folder import read_run_info
from harness.store.windows import read_windows

pytestmark = [pytest.mark.network, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
DRIFT_MS_PER_MIN = 100.0
FAIL_AFTER_S = 44.0
DRIFT_SOAK = "72s"
"""Seven 6 s windows of latency after the warm-up, then four of refusals: with one or two
failing windows at the end (a 50 s onset in a 66 s soak) the failure rate's slope
interval sometimes straddled 0 (+3571 pp/hour [-1304, 8447], 2026-11-30)."""
WINDOW_S = 6
LEAK_KB = 256
ONE_SCENARIO = "suites/soak/soak_question.yaml"
"""One scenario, one utterance: the suite's weighted mix puts utterances whose latencies
differ by ~50 ms (their speech ends differ to the VAD) in different windows by chance,
a trend of its own (measured: a steady agent read -7.5 s/hour, a 6 s/hour drift 3.6)."""


def soak(url: str, out: Path, run_id: str, *args: str, suite: str = "suites/soak") -> subprocess.Popen[str]:
    cmd = [sys.executable, "-m", "harness", "soak", str(ROOT / suite), "-e",
           f"openai-realtime+{url}", "--out", str(out), "--run-id", run_id, *args]
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)


def wait_for_windows(path: Path, n: int, proc: subprocess.Popen[str], timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if path.exists() and len(path.read_bytes().splitlines()) >= n:
            return
        if proc.poll() is not None:
            raise AssertionError(f"soak ended early ({proc.returncode}): {proc.stderr.read() if proc.stderr else ''}")
        time.sleep(0.2)
    raise AssertionError(f"fewer than {n} windows in {timeout_s} s")


def test_soaks_against_drifting_failing_and_steady_agents(tmp_path: Path) -> None:
    """One after the other (side by side, 5 calls and 3 agent processes would crowd 2 cores)."""
    steady_truth, drift_truth = tmp_path / "steady.jsonl", tmp_path / "drift.jsonl"
    with AgentProcess(["--delay", "200", "--leak-kb-per-call", str(LEAK_KB)], truth_log=steady_truth) as steady:
        killed = soak(steady.url, tmp_path, "killed", "--duration", "120s", "--concurrency", "2",
                      "--window", "4s", "--warmup", "4s", suite=ONE_SCENARIO)
        try:
            wait_for_windows(tmp_path / "killed" / "windows.jsonl", 9, killed, 150)
            os.kill(killed.pid, signal.SIGKILL)
            killed.wait(10)
        finally:  # in its own session: its caller workers and scoring pool go with it
            with contextlib.suppress(ProcessLookupError):
                os.killpg(killed.pid, signal.SIGKILL)
            killed.wait(10)
    check_killed_soak(tmp_path / "killed", steady_truth)
    with AgentProcess(["--delay", "200", "--delay-drift-ms-per-min", str(DRIFT_MS_PER_MIN),
                       "--fail-after", str(FAIL_AFTER_S), "--workers", "2"], truth_log=drift_truth) as drifting:
        loaded = soak(drifting.url, tmp_path, "drift", "--duration", DRIFT_SOAK, "--concurrency", "4",
                      "--window", f"{WINDOW_S}s", "--warmup", f"{WINDOW_S}s", "--status-every", "10s",
                      suite=ONE_SCENARIO)
        try:
            _, err = loaded.communicate(timeout=240)
        finally:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(loaded.pid, signal.SIGKILL)
            loaded.wait(10)
    print(err[-3000:])
    check_loaded_soak(tmp_path / "drift", drift_truth, loaded.returncode)


def check_loaded_soak(folder: Path, truth_path: Path, code: int | None) -> None:
    assert code == 1, "calls failed (the agent refused them), so the soak exits 1"
    rows = read_windows(folder)
    assert len(rows) >= 3
    started = sum(r.calls_started for r in rows)
    assert started >= 30
    assert started == sum(r.calls_completed for r in rows) + sum(r.calls_failed for r in rows)
    assert rows[-1].active == 0

    # The failure step, where the agent's log says it began.
    truth = read_truth(truth_path)
    first_refusal = min(int(r["t_ns"]) for r in truth if r["kind"] == "offer_refused")  # type: ignore[arg-type]
    origin = rows[0].start_monotonic_ns
    assert origin is not None
    onset_s = (first_refusal - origin) / 1e9
    first_failing = next(r for r in rows if r.calls_failed)
    assert first_failing.index in (int(onset_s // WINDOW_S), int(onset_s // WINDOW_S) + 1), (onset_s, first_failing)
    for r in rows:
        rate = r.value("call_failed", "rate")
        if r.end_s <= onset_s:
            assert r.calls_failed == 0, r
        elif r.start_s >= onset_s + 2 * WINDOW_S and rate is not None:
            assert rate >= 0.9, r  # all refused (a call begun before the onset may still end)

    # The drift, against the agent's per-turn delay (the truth: 100 ms/min = 6000 ms/hour).
    info = read_run_info(folder)
    drift = {(d.metric, d.stat): d for d in info.drift}
    p50 = drift[("turn_latency_ms", "p50")]
    print("drift:", p50.text, "| failure:", drift[("call_failed", "rate")].text)
    assert p50.verdict is DriftVerdict.INCREASING
    assert p50.slope_per_hour == pytest.approx(DRIFT_MS_PER_MIN * 60, rel=0.2)
    assert drift[("call_failed", "rate")].verdict is DriftVerdict.INCREASING

    # The harness itself stays flat after warm-up.
    rss = [r.process.rss_mb for r in rows[1:] if r.complete and r.process.rss_mb is not None]
    assert len(rss) >= 3
    assert max(abs(x - rss[0]) / rss[0] for x in rss) <= 0.05, rss
    disturbed = sum(r.calls_disturbed for r in rows)
    print(f"{started} calls, {disturbed} disturbed, RSS {min(rss):.0f}-{max(rss):.0f} MB")


def check_killed_soak(folder: Path, truth_path: Path) -> None:
    # The leak knob's truth: every call the agent answered kept LEAK_KB more.
    leaks = [r for r in read_truth(truth_path) if r["kind"] == "leak"]
    assert [int(r["retained_bytes"]) for r in leaks] == [  # type: ignore[call-overload]
        (i + 1) * LEAK_KB * 1024 for i in range(len(leaks))]
    called = {p.name for p in (folder / "calls").iterdir()}
    # + the calls the kill cut short, and those that ended but were not yet written
    assert len(called) <= len(leaks) <= len(called) + 4

    lines = (folder / "windows.jsonl").read_bytes().split(b"\n")
    closed = [json.loads(x) for x in lines if x.strip() and x.endswith(b"}")]
    assert len(closed) >= 8 and all(r["complete"] for r in closed)
    assert read_run_info(folder).finished_at is None  # killed: never finished
    done = subprocess.run([sys.executable, "-m", "harness", "report", str(folder)],
                          capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, done.stderr
    html = (folder / "index.html").read_text()
    assert f"Soak: {len(read_windows(folder))} windows" in html
    assert len(read_windows(folder)) >= len(closed)
    drift = {(d.metric, d.stat): d for d in read_run_info(folder).drift}
    steady = drift[("turn_latency_ms", "p50")]
    print("steady agent:", steady.text)
    assert steady.verdict is DriftVerdict.STEADY

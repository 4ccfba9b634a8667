"""The pytest plugin against the reference agent: ``pytest --vh-suites suites/smoke -n 2``
and the CLI give equivalent run folders, and a killed session leaves a readable one.

Real calls over loopback; one plugin run and one CLI run are shared by the checks.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from importlib.metadata import entry_points
from pathlib import Path

import pytest

from harness.agent.process import AgentProcess
from harness.store.run_folder import iter_call_dirs, load_recording, read_results, read_run_info

pytestmark = [pytest.mark.network, pytest.mark.slow]
ROOT = Path(__file__).resolve().parents[1]
ENV = {**os.environ, "PYTHONPATH": str(ROOT)}


def _plugin_args() -> list[str]:
    """``-p harness.pytest_plugin`` only when the package's pytest11 entry point is absent
    (an uninstalled checkout): naming an installed plugin again is an error."""
    installed = any(ep.value == "harness.pytest_plugin" for ep in entry_points(group="pytest11"))
    return [] if installed else ["-p", "harness.pytest_plugin"]


PLUGIN_ARGS = _plugin_args()


def _pytest(args: list[str], **kw: object) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "pytest", *PLUGIN_ARGS,
                             "-p", "no:cacheprovider", *args], cwd=ROOT, env=ENV, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, **kw)  # type: ignore[call-overload]


def _shape(run_dir: Path) -> set[tuple[str, str, int, str, int | None]]:
    """Run content without endpoint names/ports: (scenario, caller, repeat, metric, turn)."""
    return {(m.scenario, str(m.caller), m.repeat, m.metric, m.turn) for m in read_results(run_dir)}


def _call_stem(call_id: str) -> str:
    return re.sub(r"-[0-9a-f]{6}$", "", call_id)


def test_pytest_xdist_and_cli_give_equivalent_run_folders(tmp_path: Path) -> None:
    py_dir = tmp_path / "py"
    # Both runs at once (each against its own agent): the suite is four short calls.
    proc = _pytest(["--vh-suites", "suites/smoke", "-n", "2", "--vh-run-dir", str(py_dir), "--vh-slo", "ci/slo.toml", "-q"])
    with AgentProcess(["--delay", "300"]) as agent:
        cli = subprocess.Popen(
            [sys.executable, "-m", "harness", "run", "suites/smoke", "-e", f"openai-realtime+{agent.url}",
             "--out", str(tmp_path), "--run-id", "cli", "--slo", "ci/slo.toml"],
            cwd=ROOT, env=ENV, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        cli_out, _ = cli.communicate(timeout=400)
        out, _ = proc.communicate(timeout=400)
    assert proc.returncode == 0, out
    assert "gate verdicts" in out
    assert cli.returncode == 0, cli_out[-3000:]
    cli_dir = tmp_path / "cli"

    # same calls, same measurements per call (no line lost or duplicated across workers)
    py_results, cli_results = read_results(py_dir), read_results(cli_dir)
    assert len(py_results) == len(cli_results)
    assert len({(m.call_id, m.metric, m.turn) for m in py_results}) == len(py_results)
    assert _shape(py_dir) == _shape(cli_dir)
    assert {_call_stem(p.name) for p in iter_call_dirs(py_dir)} == {
        _call_stem(p.name) for p in iter_call_dirs(cli_dir)}
    for run in (py_dir, cli_dir):
        info = read_run_info(run)
        assert info.finished_at is not None and info.counts.calls_finished == 4
        assert {v.metric for v in info.verdicts} >= {"turn_latency_ms", "no_response"}
        for name in ("index.html", "junit.xml", "summary.md", "allure-results"):
            assert (run / name).exists(), (run, name)
        for call in iter_call_dirs(run):
            assert {p.name for p in call.iterdir()} >= {"caller.flac", "received.flac", "mix.flac",
                                                       "recording.json", "scenario.json"}


def test_killed_session_leaves_a_readable_run_folder(tmp_path: Path) -> None:
    run_dir = tmp_path / "killed"
    proc = _pytest(["--vh-suites", "suites/smoke", "--vh-run-dir", str(run_dir), "-q"],
                   start_new_session=True)
    deadline = time.monotonic() + 240
    try:
        while time.monotonic() < deadline:  # wait for the first finished call, then kill
            if run_dir.is_dir() and any(True for _ in iter_call_dirs(run_dir)) and read_results(run_dir):
                break
            time.sleep(0.5)
        else:
            pytest.fail("no call finished in time")
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate(timeout=30)
    info = read_run_info(run_dir)  # written at the start, still readable
    assert info.finished_at is None
    # every call with results has a finished call folder whose recording.json reads back
    finished = {p.name for p in iter_call_dirs(run_dir)}
    with_results = {m.call_id for m in read_results(run_dir)}
    assert with_results, "no results although a call had finished"
    assert with_results <= finished, f"results without a finished call folder: {with_results - finished}"
    for cid in with_results:
        json.loads((run_dir / "calls" / cid / "recording.json").read_text())
        assert load_recording(run_dir / "calls" / cid)[0].call_id == cid
    # and the reports can be rebuilt from what is there
    rep = subprocess.run([sys.executable, "-m", "harness", "report", str(run_dir)], cwd=ROOT,
                         env=ENV, capture_output=True, text=True, timeout=120, check=False)
    assert rep.returncode == 0, rep.stderr
    assert (run_dir / "index.html").is_file()

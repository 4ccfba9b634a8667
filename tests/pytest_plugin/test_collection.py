"""The plugin's collection without calls: what ``pytest suites/`` makes of scenario files.

A subprocess pytest in a scratch folder (as a user runs it): a good scenario file
becomes one item per endpoint x caller x repeat, named as the runner names the calls; a
bad one becomes one failing item whose message is the loader's (file, step, field). No
call is made, so no run folder is written.
"""

from __future__ import annotations

import os
import subprocess
import sys
from importlib.metadata import entry_points
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[2]
PLUGIN = [] if any(ep.value == "harness.pytest_plugin" for ep in entry_points(group="pytest11")) \
    else ["-p", "harness.pytest_plugin"]


def _pytest(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-m", "pytest", *PLUGIN, "-p", "no:cacheprovider", *args],
                          cwd=cwd, env=env, capture_output=True, text=True, timeout=300, check=False)


def test_scenario_files_become_items_and_a_bad_one_fails_with_the_loaders_message(tmp_path: Path) -> None:
    suites = tmp_path / "suites"
    suites.mkdir()
    (suites / "good.yaml").write_text((ROOT / "suites/smoke/smoke_single_turn.yaml").read_text())
    (suites / "bad.yaml").write_text("id: bad\nsteps:\n  - say: {utterance: no_such_clip}\n")
    run_dir = tmp_path / "run"

    listed = _pytest(tmp_path, "suites", "--collect-only", "-q", "--vh-repeat", "2",
                     "--vh-caller", "aiortc", "--vh-caller", "browser", "--vh-run-dir", str(run_dir))
    assert listed.returncode == 0, listed.stdout + listed.stderr
    items = {line for line in listed.stdout.splitlines() if "::" in line}
    assert items == {"suites/bad.yaml::invalid"} | {
        f"suites/good.yaml::reference-agent-{caller}-r{r}" for caller in ("aiortc", "browser") for r in (0, 1)}

    ran = _pytest(tmp_path, "suites/bad.yaml", "-q", "--vh-run-dir", str(run_dir))
    assert ran.returncode == 1, ran.stdout + ran.stderr
    assert "bad.yaml" in ran.stdout and "no_such_clip" in ran.stdout, ran.stdout
    assert not run_dir.exists()  # nothing ran, so no run folder

"""The plugin's collection without calls: what pytest makes of scenario files, and of a
session that never asked for them.

Subprocess pytest sessions in a scratch folder (as a user runs them): the plugin is
loaded in every session of an environment that has the package, so a session without
xdist or with an unrelated YAML under some ``suites/`` folder must pass untouched;
scenario files are collected only from the paths given by ``--vh-suites`` or the
``vh_suites`` ini option, one item per endpoint x caller x repeat, named as the runner
names the calls; a bad one becomes one failing item whose message is the loader's (file,
step, field). No call is made, so no run folder is written.
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
KUBERNETES = "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: bot}\nspec: {replicas: 2}\n"


def _pytest(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-m", "pytest", *PLUGIN, "-p", "no:cacheprovider", *args],
                          cwd=cwd, env=env, capture_output=True, text=True, timeout=300, check=False)


def _items(result: subprocess.CompletedProcess[str]) -> set[str]:
    assert result.returncode == 0, result.stdout + result.stderr
    return {line for line in result.stdout.splitlines() if "::" in line}


def _project(tmp_path: Path) -> Path:
    """A user's folder: a test of its own, a good and a bad scenario, a Kubernetes file."""
    (tmp_path / "test_own.py").write_text("def test_own():\n    assert 1 + 1 == 2\n")
    suites = tmp_path / "suites"
    suites.mkdir()
    (suites / "good.yaml").write_text((ROOT / "suites/smoke/smoke_single_turn.yaml").read_text())
    (suites / "bad.yaml").write_text("id: bad\nsteps:\n  - say: {utterance: no_such_clip}\n")
    (tmp_path / "deploy" / "suites").mkdir(parents=True)
    (tmp_path / "deploy" / "suites" / "bot.yaml").write_text(KUBERNETES)
    return tmp_path


@pytest.mark.parametrize("xdist", [["-p", "no:xdist"], []], ids=["no-xdist", "xdist-loaded"])
def test_a_session_that_does_not_use_the_plugin_is_untouched(tmp_path: Path, xdist: list[str]) -> None:
    project = _project(tmp_path)
    ran = _pytest(project, *xdist, "-q")
    assert ran.returncode == 0, ran.stdout + ran.stderr
    assert "1 passed" in ran.stdout, ran.stdout
    assert "INTERNALERROR" not in ran.stdout + ran.stderr
    assert _items(_pytest(project, *xdist, "--collect-only", "-q")) == {"test_own.py::test_own"}
    assert not (project / "reports").exists()  # nothing written either


def test_vh_suites_collects_those_paths_only_and_runs_them_when_no_path_is_given(tmp_path: Path) -> None:
    project = _project(tmp_path)
    run_dir = tmp_path / "run"
    listed = _pytest(project, "--collect-only", "-q", "--vh-repeat", "2", "--vh-caller", "aiortc",
                     "--vh-caller", "browser", "--vh-run-dir", str(run_dir), "--vh-suites", "suites")
    assert _items(listed) == {"suites/bad.yaml::invalid"} | {
        f"suites/good.yaml::reference-agent-{caller}-r{r}" for caller in ("aiortc", "browser") for r in (0, 1)}
    # given a path of its own, the session runs that; the Kubernetes file is still nobody's
    mixed = _pytest(project, ".", "--collect-only", "-q", "--vh-suites", "suites/good.yaml")
    assert _items(mixed) == {"test_own.py::test_own", "suites/good.yaml::reference-agent-aiortc-r0"}

    ran = _pytest(project, "-q", "--vh-run-dir", str(run_dir), "--vh-suites", "suites/bad.yaml")
    assert ran.returncode == 1, ran.stdout + ran.stderr
    assert "bad.yaml" in ran.stdout and "no_such_clip" in ran.stdout, ran.stdout
    assert "1 failed" in ran.stdout and "test_own" not in ran.stdout, ran.stdout
    assert not run_dir.exists()  # nothing ran, so no run folder


def test_ini_options_opt_in_and_the_command_line_wins(tmp_path: Path) -> None:
    project = _project(tmp_path)
    (project / "pytest.ini").write_text(
        "[pytest]\nvh_suites = suites/good.yaml\nvh_repeat = 2\nvh_caller = aiortc browser\n")
    from_ini = _pytest(project, "--collect-only", "-q")
    assert _items(from_ini) == {"test_own.py::test_own"} | {
        f"suites/good.yaml::reference-agent-{caller}-r{r}" for caller in ("aiortc", "browser") for r in (0, 1)}
    overridden = _pytest(project, "--collect-only", "-q", "--vh-repeat", "1", "--vh-caller", "browser")
    assert _items(overridden) == {"test_own.py::test_own", "suites/good.yaml::reference-agent-browser-r0"}
    # ini paths are relative to the ini file, wherever pytest is started
    (project / "sub").mkdir()
    from_below = _pytest(project / "sub", "--collect-only", "-q", "..")
    assert "suites/good.yaml::reference-agent-aiortc-r1" in _items(from_below)
    bad = _pytest(project, "--collect-only", "-q", "-o", "vh_repeat=zero")
    assert bad.returncode == pytest.ExitCode.USAGE_ERROR, bad.stdout + bad.stderr
    assert "vh_repeat" in bad.stderr, bad.stderr

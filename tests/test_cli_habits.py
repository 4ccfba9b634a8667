"""The command line behaves as CI scripts expect of a tool: ``--version``, ``--json`` on
stdout with the console on stderr, ``-q``/``-v``, ``--caller`` as a choice, and the
folder ``run --out`` wrote runs into accepted by ``report``/``compare``/``rescore``.

Synthetic run folders (real audio, no network); the one ``run`` has a bad scenario file
only, so no call is placed.
"""

from __future__ import annotations

import dataclasses
import json
import logging
from collections.abc import Iterator
from importlib.metadata import version
from pathlib import Path

import pytest
from report.report_synth import make_run
from typer.testing import CliRunner, Result

from harness.cli import app
from harness.cli.run_dirs import NoRunFolder, PickedRun, pick_run
from harness.records import SCHEMA_VERSION
from harness.store.run_folder import RunFolder, read_run_info

SLO = '[[slo]]\nmetric = "turn_latency_ms"\nstat = "p95"\nmax = 800\n'


def _invoke(*args: str | Path) -> Result:
    return CliRunner().invoke(app, [str(a) for a in args])


def _started(run: RunFolder, when: str) -> Path:
    info = read_run_info(run.path)
    run.write_run_json(dataclasses.replace(info, started_at=when))
    return run.path


@pytest.fixture
def runs(tmp_path: Path) -> Path:
    """A folder of two runs whose names sort the other way round from their start times."""
    folder = tmp_path / "reports"
    _started(make_run(folder, n_calls=3, run_id="a-newer"), "2026-03-01T10:00:00+00:00")
    _started(make_run(folder, n_calls=3, run_id="b-older"), "2026-01-01T10:00:00+00:00")
    (folder / "notes").mkdir()  # not a run: ignored
    return folder


@pytest.fixture
def restore_logging() -> Iterator[None]:
    root, harness = logging.getLogger(), logging.getLogger("harness")
    saved = (root.level, list(root.handlers), harness.level)
    yield
    root.setLevel(saved[0])
    root.handlers[:] = saved[1]
    harness.setLevel(saved[2])


def test_version_comes_from_the_package_metadata() -> None:
    result = _invoke("--version")
    assert result.exit_code == 0, result.output
    assert result.stdout == f"voice-harness {version('voice-harness')}\n"


def test_caller_is_a_choice() -> None:
    result = _invoke("run", "suites/smoke", "-e", "openai-realtime+http://127.0.0.1:9", "--caller", "chromium")
    assert result.exit_code == 2
    said = " ".join(result.output.replace("│", " ").split())  # rich boxes the message
    assert "'chromium' is not one of 'aiortc', 'browser'" in said, said


def test_report_takes_a_folder_of_runs_and_json_is_all_stdout_holds(runs: Path, tmp_path: Path) -> None:
    slo = tmp_path / "slo.toml"
    slo.write_text(SLO)
    result = _invoke("report", runs, "--slo", slo, "--json")
    assert result.exit_code == 0, result.output
    outcome = json.loads(result.stdout)  # nothing else on stdout
    assert outcome["schema_version"] == SCHEMA_VERSION
    assert (outcome["command"], outcome["exit_code"], outcome["passed"]) == ("report", 0, True)
    assert outcome["run_dir"] == str(runs / "a-newer") and outcome["run_id"] == "a-newer"
    assert outcome["report"] == str(runs / "a-newer" / "index.html")
    (verdict,) = outcome["verdicts"]
    assert (verdict["metric"], verdict["stat"], verdict["threshold"]) == ("turn_latency_ms", "p95", 800.0)
    # the console said which run it picked, on stderr
    said = " ".join(result.stderr.split())
    assert f"{runs}: the latest of 2 run(s) in it: {runs / 'a-newer'}" in said, said
    assert "gate verdicts" in said


def test_compare_takes_folders_of_runs_and_prints_json(runs: Path, tmp_path: Path) -> None:
    other = tmp_path / "vendor-b"
    _started(make_run(other, n_calls=3, run_id="only"), "2026-02-01T00:00:00+00:00")
    result = _invoke("compare", runs, other, "--json", "--gate")
    assert result.exit_code == 0, result.output
    outcome = json.loads(result.stdout)
    assert outcome["baseline"] == str(runs / "a-newer")
    (compared,) = outcome["runs"]
    assert compared["run_dir"] == str(other / "only")
    latency = [r for r in compared["rows"] if r["metric"] == "turn_latency_ms" and r["group"] == "all"]
    assert len(latency) == 1 and latency[0]["comparison"]["change"] == "unchanged", latency
    assert "voice-harness compare" in result.stderr  # the table went to the console


def test_rescore_json_and_a_folder_without_runs(runs: Path, tmp_path: Path) -> None:
    result = _invoke("rescore", runs / "b-older", "--json")
    assert result.exit_code == 0, result.output
    outcome = json.loads(result.stdout)
    assert outcome["run_id"] == "b-older" and outcome["summary"], outcome
    empty = tmp_path / "empty"
    empty.mkdir()
    refused = _invoke("rescore", empty, "--json")
    assert refused.exit_code == 2
    assert json.loads(refused.stdout) == {
        "schema_version": SCHEMA_VERSION, "command": "rescore", "exit_code": 2, "passed": False,
        "run_dir": None, "run_id": None, "counts": None, "summary": [], "verdicts": [], "failures": [],
        "report": None, "error": f"{empty}: not a run folder (no run.json), and no run folder inside it"}
    assert "not a run folder" in refused.stderr


def test_run_json_reads_the_new_run_folder_back(tmp_path: Path) -> None:
    suite = tmp_path / "suite"
    suite.mkdir()
    (suite / "bad.yaml").write_text("id: bad\nsteps:\n  - sing: x\n")
    out = tmp_path / "runs"
    result = _invoke("run", suite, "-e", "openai-realtime+http://127.0.0.1:9", "--out", out, "--json")
    assert result.exit_code == 1, result.output
    outcome = json.loads(result.stdout)
    (run_dir,) = out.iterdir()
    assert (outcome["command"], outcome["exit_code"], outcome["run_dir"]) == ("run", 1, str(run_dir))
    assert outcome["counts"]["scenario_errors"] == 1
    assert outcome["failures"][0]["failure"]["kind"] == "bad_scenario"
    assert "run folder:" in result.stderr


def test_quiet_keeps_errors_and_verbose_logs(runs: Path, tmp_path: Path, restore_logging: None) -> None:
    quiet = _invoke("-q", "report", runs / "a-newer")
    assert quiet.exit_code == 0, quiet.output
    assert quiet.output == ""
    assert (runs / "a-newer" / "index.html").is_file()
    missing = _invoke("-q", "report", tmp_path / "nowhere")
    assert missing.exit_code == 2
    assert "nowhere: no such run folder" in missing.stderr
    assert _invoke("report", runs / "a-newer").stderr  # not quiet once -q is gone
    assert _invoke("-vv", "report", runs / "a-newer").exit_code == 0
    assert logging.getLogger("harness").getEffectiveLevel() == logging.DEBUG
    assert _invoke("-v", "report", runs / "a-newer").exit_code == 0
    assert logging.getLogger("harness").getEffectiveLevel() == logging.INFO


def test_pick_run_passes_over_runs_it_cannot_date_and_says_so(runs: Path) -> None:
    newest = runs / "c-newest-but-damaged"
    newest.mkdir()
    (newest / "run.json").write_text("{not json")
    killed = runs / "d-killed-before-run-json"
    killed.mkdir()
    (killed / "results.jsonl").write_text("")
    picked = pick_run(runs)
    assert picked.path == runs / "a-newer"
    assert picked.note == (f"{runs}: the latest of 2 run(s) in it: {runs / 'a-newer'}; "
                           "2 without a readable run.json passed over")
    # named directly, a folder with results but no run.json is still a run folder
    assert pick_run(killed) == PickedRun(path=killed)
    with pytest.raises(NoRunFolder, match="no run folder inside it"):
        pick_run(runs / "notes")

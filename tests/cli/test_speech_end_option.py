"""``--speech-end-dbfs`` on ``run`` and ``rescore``: a level, ``detector``, or a clear exit 2.

A bad value is refused before anything runs or is rewritten, with a message that names
the option and what it takes; nothing here calls an endpoint or builds a corpus.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from harness.cli import app
from harness.cli.common import speech_end_level
from harness.exit_codes import EXIT_USAGE
from harness.records import CallerKind, Measurement
from harness.store.run_folder import RunFolder
from harness.store.run_info import RunInfo, collect_environment

NOWHERE = "openai-realtime+http://127.0.0.1:9"
BAD = ["abc", "nan", "inf", "-inf", "-120", "5", "", "-40 dB SPL"]


def invoke(*args: str) -> Result:
    result = CliRunner().invoke(app, list(args))
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    return result


@pytest.mark.parametrize(("text", "level"), [
    ("-40", -40.0), ("-40.5", -40.5), (" -50 dBFS ", -50.0), ("0", 0.0), ("-90", -90.0),
    ("detector", None), ("DETECTOR", None),
])
def test_a_level_or_detector_is_accepted(text: str, level: float | None) -> None:
    assert speech_end_level(text) == level


@pytest.mark.parametrize("text", BAD)
def test_run_refuses_a_bad_level_naming_the_option(tmp_path: Path, text: str) -> None:
    result = invoke("run", str(tmp_path), "-e", NOWHERE, "--out", str(tmp_path / "out"),
                    "--speech-end-dbfs", text)
    assert result.exit_code == EXIT_USAGE
    message = " ".join(result.output.split())
    assert "--speech-end-dbfs takes a level in dBFS from -90 to 0" in message and "'detector'" in message
    assert not (tmp_path / "out").exists()  # refused before a run folder was made


def test_rescore_refuses_a_bad_level_and_changes_nothing(tmp_path: Path) -> None:
    folder = RunFolder.create(tmp_path, "run")
    folder.append_results([Measurement(call_id="c", scenario="s", endpoint="e", caller=CallerKind.AIORTC,
                                       repeat=0, turn=0, metric="turn_latency_ms", value=1.0, unit="ms")])
    folder.write_run_json(RunInfo(run_id="run", started_at="2026-01-01T00:00:00+00:00",
                                  environment=collect_environment(())))
    before = {p.name: p.read_bytes() for p in folder.path.iterdir() if p.is_file()}
    result = invoke("rescore", str(folder.path), "--speech-end-dbfs", "-0.5e3")
    assert result.exit_code == EXIT_USAGE
    assert "--speech-end-dbfs takes a level" in " ".join(result.output.split())
    assert {p.name: p.read_bytes() for p in folder.path.iterdir() if p.is_file()} == before


def test_rescore_json_outcome_carries_the_error(tmp_path: Path) -> None:
    result = invoke("rescore", str(tmp_path), "--speech-end-dbfs", "loud", "--json")
    assert result.exit_code == EXIT_USAGE
    outcome = json.loads(result.stdout)
    assert outcome["exit_code"] == EXIT_USAGE and "--speech-end-dbfs" in outcome["error"]

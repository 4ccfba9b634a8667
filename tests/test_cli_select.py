"""``voice-harness run --tag/--skip-tag/--route``, and inline endpoint names in a run folder.

No call is placed: the run's executor is replaced by one that records the calls it was
handed and returns each as a failed call ("not placed"), so the test knows exactly
which (scenario, endpoint) pairs were planned and that every output carries the
endpoint names (``dialect host:port``, with a space) intact. Bad selections must end
with exit code 2 before any run folder exists.
"""

from __future__ import annotations

import json
import sys
import xml.etree.ElementTree as ET
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

import harness.session
from harness.cli import app
from harness.corpus.model import Corpus
from harness.executors.base import FinishedCall, OnFinished, OnStarted
from harness.records import CallRecording, CallSpec, Failure, FailureKind
from harness.store.run_folder import read_results

ECHO_URL = "openai-realtime+http://127.0.0.1:9"
TTS_URL = "openai-realtime+http://127.0.0.1:10"
ECHO, TTS = "openai-realtime 127.0.0.1:9", "openai-realtime 127.0.0.1:10"
NOT_PLACED = "not placed: this test's executor makes no calls"
SLO = '[[slo]]\nname = "failed calls"\nmetric = "call_failed"\nstat = "rate"\nmax = 0.0\nmin_samples = 1\n' \
      'by = ["endpoint"]\n'


class RecordingExecutor:
    """Takes the planned calls and hands each back as a failed call, in plan order."""

    def __init__(self) -> None:
        self.specs: list[CallSpec] = []

    async def run(self, specs: Sequence[CallSpec], on_finished: OnFinished,
                  on_started: OnStarted | None = None) -> None:
        for spec in specs:
            self.specs.append(spec)
            rec = CallRecording(call_id=spec.call_id, scenario_id=spec.scenario.id, endpoint=spec.endpoint.name,
                                caller=spec.caller, repeat=spec.repeat,
                                failure=Failure(kind=FailureKind.CONNECT_ERROR, reason=NOT_PLACED))
            await on_finished(FinishedCall(recording=rec))

    async def aclose(self) -> None:
        pass


@pytest.fixture
def executor(monkeypatch: pytest.MonkeyPatch, corpus: Corpus) -> RecordingExecutor:
    fake = RecordingExecutor()
    monkeypatch.setattr(harness.session, "_executor", lambda request, config: fake)
    return fake


def _run(out: Path, *args: str | Path, monkeypatch: pytest.MonkeyPatch | None = None) -> Result:
    argv = ["run", *map(str, args), "--out", str(out)]
    if monkeypatch is not None:  # run.json records the command line as typed
        monkeypatch.setattr(sys, "argv", ["voice-harness", *argv])
    return CliRunner().invoke(app, argv)


def _said(result: Result) -> str:
    return " ".join(result.output.replace("│", " ").split())  # rich may box or wrap the message


def test_route_and_tags_plan_the_right_calls_and_every_output_names_the_endpoints(
        tmp_path: Path, executor: RecordingExecutor, monkeypatch: pytest.MonkeyPatch) -> None:
    slo = tmp_path / "slo.toml"
    slo.write_text(SLO)
    out = tmp_path / "runs"
    result = _run(out, "suites", "-e", ECHO_URL, "-e", TTS_URL, "--route", f"tts={TTS_URL}", "--tag", "smoke",
                  "--tag", "accuracy", "--skip-tag", "no-such-tag", "--slo", slo, monkeypatch=monkeypatch)
    assert result.exit_code == 3, result.output  # every call failed, and the SLO says so
    assert "note: no scenario carries the tag 'no-such-tag'" in _said(result)

    planned = Counter((s.scenario.id, s.endpoint.name) for s in executor.specs)
    assert planned == Counter({("smoke_repeat", ECHO): 1, ("smoke_silence_then_question", ECHO): 1,
                               ("smoke_single_turn", ECHO): 1, ("smoke_three_turns", ECHO): 1,
                               ("accuracy_echo_repeat", ECHO): 1, ("accuracy_tts_answers", TTS): 1})

    (run_dir,) = out.iterdir()
    info = json.loads((run_dir / "run.json").read_text())
    assert [e["name"] for e in info["endpoints"]] == [ECHO, TTS]
    assert sorted(s["id"] for s in info["scenarios"]) == sorted(s for s, _ in planned)  # what was selected
    assert info["argv"][info["argv"].index("--route") + 1] == f"tts={TTS_URL}"
    assert info["counts"]["calls_planned"] == 6
    groups = {s["group"] for s in info["summary"] if s["metric"] == "call_failed"}
    assert groups == {f"endpoint={ECHO},caller=aiortc", f"endpoint={TTS},caller=aiortc"}
    assert {v["group"] for v in info["verdicts"]} == {f"endpoint={ECHO}", f"endpoint={TTS}"}

    rows = [m for m in read_results(run_dir) if m.metric == "call_failed"]
    assert Counter(m.endpoint for m in rows) == Counter({ECHO: 5, TTS: 1})

    # Names with a space survive every format, and never become a file name.
    junit = ET.parse(run_dir / "junit.xml").getroot()
    names = {case.get("name", "") for case in junit.iter("testcase")}
    classnames = {case.get("classname", "") for case in junit.iter("testcase")}
    assert f"call_failed rate [endpoint={TTS}]" in names
    assert f"accuracy_tts_answers.{TTS}.aiortc" in classnames
    markdown = (run_dir / "summary.md").read_text()
    assert f"[endpoint={TTS}]" in markdown and f"| {ECHO} · aiortc | {TTS} · aiortc |" in markdown
    html = (run_dir / "index.html").read_text()
    assert f"<code>{ECHO}</code>" in html and f"<code>{TTS}</code>" in html
    allure = [json.loads(p.read_text()) for p in (run_dir / "allure-results").glob("*-result.json")]
    assert Counter(label["value"] for r in allure for label in r["labels"]
                   if label["name"] == "parentSuite") == Counter({ECHO: 5, TTS: 1, "gate": 2})
    assert [p for p in run_dir.rglob("*") if " " in p.name] == []


def test_a_route_without_equals_is_a_usage_error_before_anything_runs(tmp_path: Path) -> None:
    result = _run(tmp_path / "runs", "suites", "-e", ECHO_URL, "--route", "tts")
    assert result.exit_code == 2
    assert "--route 'tts': write TAG=ENDPOINT" in _said(result)
    as_json = _run(tmp_path / "runs", "suites", "-e", ECHO_URL, "--route", "tts", "--json")
    assert as_json.exit_code == 2
    assert json.loads(as_json.stdout)["error"].startswith("--route 'tts': write TAG=ENDPOINT")
    assert not (tmp_path / "runs").exists()


def test_a_route_to_an_endpoint_not_in_the_run_is_a_usage_error(tmp_path: Path, executor: RecordingExecutor) -> None:
    result = _run(tmp_path / "runs", "suites/smoke", "-e", ECHO_URL, "--route", "tts=my-tts-bot", "--json")
    assert result.exit_code == 2, result.output
    assert json.loads(result.stdout)["error"] == (
        f"--route tts=my-tts-bot: 'my-tts-bot' is not an endpoint of this run; route to one of: '{ECHO}' "
        f"(-e {ECHO_URL})")
    assert executor.specs == [] and not (tmp_path / "runs").exists()


def test_a_tag_filter_that_leaves_nothing_says_which_tags_exist(tmp_path: Path, executor: RecordingExecutor) -> None:
    result = _run(tmp_path / "runs", "suites/smoke", "suites/accuracy", "-e", ECHO_URL, "--tag", "smok")
    assert result.exit_code == 2, result.output
    assert "--tag smok leaves none of the 6 scenarios; their tags: accuracy, echo, smoke, tts" in _said(result)
    assert executor.specs == [] and not (tmp_path / "runs").exists()


def test_routes_that_strand_scenarios_and_names_given_twice_are_usage_errors(
        tmp_path: Path, executor: RecordingExecutor) -> None:
    stranded = _run(tmp_path / "runs", "suites/accuracy", "-e", TTS_URL, "--route", f"tts={TTS}")
    assert stranded.exit_code == 2, stranded.output
    assert "so 1 scenario(s) would not run: accuracy_echo_repeat" in _said(stranded)
    twice = _run(tmp_path / "runs", "suites/smoke", "-e", ECHO_URL, "-e", ECHO_URL + "/")
    assert twice.exit_code == 2, twice.output
    assert f"endpoint name '{ECHO}' is given twice" in _said(twice)
    assert executor.specs == [] and not (tmp_path / "runs").exists()


def test_soak_takes_the_same_tag_filters(tmp_path: Path, corpus: Corpus) -> None:
    result = CliRunner().invoke(app, ["soak", "suites/soak", "-e", ECHO_URL, "--tag", "smoke", "--duration", "1s",
                                      "--out", str(tmp_path / "runs")])
    assert result.exit_code == 2, result.output
    assert "--tag smoke leaves none of the 2 scenarios; their tags: soak" in _said(result)
    assert not (tmp_path / "runs").exists()


def test_a_long_inline_name_is_whole_in_the_summary(tmp_path: Path, executor: RecordingExecutor) -> None:
    """``dialect host:port`` of a vendor's host is longer than a bare address was; the
    pull-request summary must not cut it (it did at 40 characters)."""
    slo = tmp_path / "slo.toml"
    slo.write_text(SLO)
    url = "gemini-live+wss://generativelanguage.googleapis.com/ws/google.ai.v1beta.BidiGenerateContent"
    name = "gemini-live generativelanguage.googleapis.com:443"
    result = _run(tmp_path / "runs", "suites/smoke", "-e", url, "--tag", "smoke", "--slo", slo)
    assert result.exit_code == 3, result.output
    (run_dir,) = (tmp_path / "runs").iterdir()
    markdown = (run_dir / "summary.md").read_text()
    assert f"| {name} · aiortc |" in markdown  # the scorecard's column, whole
    assert f"**call_failed rate** [endpoint={name}]: 1" in markdown
    assert {s.endpoint.name for s in executor.specs} == {name} and len(executor.specs) == 4

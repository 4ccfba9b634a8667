"""Every hostile input the issue lists, through the commands a user types.

Each ends as a clear error (exit 2, a message naming the file, line or field) or a
recorded failure of a run that still finishes; never a traceback, never a hang, never
an unbounded wait or allocation. No endpoint is called: a run whose scenario files are
all bad still writes its run folder and reports.
"""

from __future__ import annotations

import json
import os
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from report.report_synth import make_run
from slo.synth_runs import measurement
from typer.testing import CliRunner, Result

from harness.cli import app
from harness.exit_codes import EXIT_FAILURES, EXIT_USAGE
from harness.records import FailureKind
from harness.store.run_folder import RunFolder, read_results

NOWHERE = "openai-realtime+http://127.0.0.1:9"
"""Never called: every scenario of these runs is refused before a call is planned."""

BAD_SCENARIOS = {
    "nul_byte": ("id: a\x00b\nsteps:\n  - say: q_time\n", "contains a NUL byte (not a text file?) (line 1)"),
    "tag_int": ("id: x\nsteps:\n  - silence: !!int x\n", "'x' is not a valid !!int (line 3)"),
    "tag_bool": ("id: x\nsteps:\n  - say: {utterance: q_time, await_reply: !!bool x}\n",
                 "'x' is not a valid !!bool (line 3)"),
    "tag_timestamp": ("id: x\ndescription: !!timestamp x\nsteps:\n  - say: q_time\n",
                      "'x' is not a valid !!timestamp (line 2)"),
    "huge_integer": ("id: x\nsteps:\n  - silence: " + "9" * 5000 + "\n",
                     "number of 5000 characters; at most 40 (line 3)"),
    "deep_nesting": ("id: x\nsteps: " + "[" * 500 + "]" * 500 + "\n", "nested too deeply"),
    "dotted_id": ("id: a..b\nsteps:\n  - say: q_time\n", "field 'id': must start with a letter"),
    "long_silence": ("id: x\nsteps:\n  - silence: 100000000000\n",
                     "step 0 (silence): field 'duration_ms': Input should be less than or equal to 3600000"),
    "infinite_within": ("id: x\nsteps:\n  - say: {utterance: q_time, expect: {within_ms: .inf}}\n",
                        "field 'expect.within_ms': Input should be a finite number"),
    "nan_wer": ("id: x\nsteps:\n  - say: {utterance: q_time, expect: {exact: hi, max_wer: .nan}}\n",
                "field 'expect.max_wer': Input should be a finite number"),
}


def _invoke(*args: str) -> Result:
    result = CliRunner().invoke(app, list(args))
    assert result.exception is None or isinstance(result.exception, SystemExit), (
        f"{type(result.exception).__name__}: {result.exception}\n{result.output}")
    return result


@pytest.mark.timeout(120)
def test_bad_scenario_files_are_recorded_failures_and_the_run_finishes(tmp_path: Path, corpus) -> None:  # type: ignore[no-untyped-def]
    suite = tmp_path / "suite"
    suite.mkdir()
    for name, (text, _) in BAD_SCENARIOS.items():
        (suite / f"{name}.yaml").write_text(text)
    fifo = tmp_path / "fifo.yaml"
    os.mkfifo(fifo)  # nobody ever writes to it: reading it would block forever
    out = tmp_path / "runs"
    result = _invoke("run", str(suite), str(fifo), "--out", str(out), "-e", NOWHERE)
    assert result.exit_code == EXIT_FAILURES, result.output
    (run_dir,) = out.iterdir()
    reasons = {m.call_id.removeprefix("invalid-"): m.reason or "" for m in read_results(run_dir)}
    for name, (_, expected) in BAD_SCENARIOS.items():
        assert f"{name}.yaml" in reasons[name] and expected in reasons[name], (name, reasons[name])
    assert "fifo.yaml: cannot read file: is a FIFO (named pipe), not a regular file" in reasons["fifo"]
    info = json.loads((run_dir / "run.json").read_text())
    assert info["finished_at"] is not None and info["counts"]["scenario_errors"] == len(BAD_SCENARIOS) + 1
    ET.parse(run_dir / "junit.xml")  # the reports were written (and junit parses)
    assert (run_dir / "index.html").is_file()


def test_a_catastrophic_contains_regex_is_bounded() -> None:
    """``re:(a+)+$`` took 8.4 s on 26 characters with ``re``; the ``regex`` engine answers it
    at once, and a pattern that defeats it too (``(a|aa)+$``) is stopped by the time limit."""
    import time

    from harness.asr.text import check_contains

    started = time.perf_counter()
    result = check_contains("a" * 26 + "!", ["re:(a+)+$", "re:a+!"])
    assert result.found == ("re:a+!",) and result.missing == ("re:(a+)+$",)
    assert time.perf_counter() - started < 1.0
    started = time.perf_counter()
    slow = check_contains("a" * 60 + "!", ["re:(a|aa)+$"])
    elapsed = time.perf_counter() - started
    assert slow.timed_out == ("re:(a|aa)+$",) and not slow.passed
    assert elapsed < 3.0, elapsed  # 0.25 s limit; the engine checks it every so often (0.5-0.8 s seen under load)


BAD_SLO = {
    "resamples": ("[regression]\nn_resamples = 30000000\n",
                  "field 'regression.n_resamples': Input should be less than or equal to 100000"),
    "nan_max": ('[[slo]]\nmetric = "turn_latency_ms"\nmax = nan\n',
                "slo rule 0 (turn_latency_ms): field 'max': Input should be a finite number"),
    "inf_min": ('[[slo]]\nmetric = "turn_latency_ms"\nmin = -inf\n', "field 'min': Input should be a finite number"),
    "deep_toml": ("a = " + "[" * 1200 + "]" * 1200 + "\n", "nested too deeply"),
    "deep_dotted": ("a." * 600 + "b = 1\n", "nested too deeply"),
    "huge_int": ("[defaults]\nmin_samples = " + "9" * 5000 + "\n", "invalid value: Exceeds the limit"),
    "nul": ('[[slo]]\nmetric = "a\x00"\nmax = 1\n', "TOML syntax error: Illegal character"),
}


@pytest.mark.parametrize("case", sorted(BAD_SLO))
def test_bad_slo_files_are_exit_2_naming_the_field(tmp_path: Path, case: str) -> None:
    folder = make_run(tmp_path)
    slo = tmp_path / f"{case}.toml"
    slo.write_text(BAD_SLO[case][0])
    result = _invoke("report", str(folder.path), "--slo", str(slo))
    assert result.exit_code == EXIT_USAGE, result.output
    text = " ".join(result.output.split())
    assert f"{case}.toml" in text and BAD_SLO[case][1] in text, text


@pytest.mark.timeout(60)
def test_fifo_slo_and_endpoints_files_do_not_block(tmp_path: Path) -> None:
    folder = make_run(tmp_path)
    fifo = tmp_path / "pipe.toml"
    os.mkfifo(fifo)
    result = _invoke("report", str(folder.path), "--slo", str(fifo))
    assert result.exit_code == EXIT_USAGE and "is a FIFO" in result.output
    result = _invoke("endpoints", "list", "--endpoints-file", str(fifo))
    assert result.exit_code == EXIT_USAGE and "is a FIFO" in result.output


@pytest.mark.parametrize("text", ["a = " + "[" * 1200 + "]" * 1200, "[endpoints." + "a." * 700 + "b]\n"])
def test_deep_endpoints_toml_is_exit_2(tmp_path: Path, text: str) -> None:
    path = tmp_path / "endpoints.toml"
    path.write_text(text)
    for args in (["endpoints", "list", "--endpoints-file", str(path)],
                 ["endpoints", "check", "x", "--endpoints-file", str(path)]):
        result = _invoke(*args)
        assert result.exit_code == EXIT_USAGE and "nested too deeply" in result.output, result.output


def test_markup_in_a_path_or_a_reason_is_printed_as_text(tmp_path: Path) -> None:
    folder = make_run(tmp_path / "[/x] runs [bold]")
    folder.append_results([measurement("c9", "call_failed", 1.0, turn=None, unit="bool", passed=False,
                                       reason="offer_refused: HTTP 401 [/x] closing tag [red]")])
    result = _invoke("report", str(folder.path))
    assert result.exit_code == 0, result.output
    assert "[/x] runs [bold]" in " ".join(result.output.split())


def test_control_characters_in_a_reason_keep_junit_valid(tmp_path: Path) -> None:
    folder = make_run(tmp_path)
    hostile = "bad \x00 nul \x1b[31m esc \x07 bell \ud800 surrogate \ufffe end"
    folder.append_results([measurement("c9", "turn_latency_ms", 1.0, passed=False, reason=hostile)])
    result = _invoke("report", str(folder.path))
    assert result.exit_code == 0, result.output
    root = ET.parse(folder.path / "junit.xml").getroot()
    messages = [f.get("message") or "" for f in root.iter("failure")]
    (mine,) = [m for m in messages if "bell" in m]
    assert "\\x00 nul" in mine and "\\x1b[31m esc" in mine and "\\x07 bell" in mine
    assert "end" in mine  # kept up to its end, nothing dropped


def test_a_metric_with_two_units_is_exit_2_naming_the_line(tmp_path: Path) -> None:
    folder = make_run(tmp_path)
    lines = len((folder.path / "results.jsonl").read_text().splitlines())
    folder.append_results([measurement("c0", "turn_latency_ms", 0.4, turn=3, unit="s")])
    result = _invoke("report", str(folder.path))
    assert result.exit_code == EXIT_USAGE, result.output
    text = " ".join(result.output.split())
    assert f"results.jsonl:{lines + 1}: field 'unit': metric 'turn_latency_ms' is in 's' here" in text
    assert "could not write the reports" not in text


def test_absurd_recordings_are_listed_not_drawn(tmp_path: Path) -> None:
    """``start_sample = 10**15`` and a 1 Hz rate crashed the plots (or asked for 57 GB)."""
    folder = make_run(tmp_path)
    for call, change in (("c0", {"sent": "start_sample"}), ("c1", {"sample_rate": 1})):
        path = folder.path / "calls" / call / "recording.json"
        obj = json.loads(path.read_text())
        if "sent" in change:
            obj["sent"][0]["start_sample"] = 10**15
        else:
            obj.update(change)
        path.write_text(json.dumps(obj))
    result = _invoke("report", str(folder.path))
    assert result.exit_code == 0, result.output
    html = (folder.path / "index.html").read_text()
    assert "sent[0].start_sample = 1000000000000000 is outside" in html
    assert "sample_rate = 1 Hz is outside" in html


def test_markup_in_a_corpus_tag_or_folder_is_printed_as_text(tmp_path: Path) -> None:
    import numpy as np
    import soundfile

    src = tmp_path / "rec"
    src.mkdir()
    t = np.arange(24_000) / 16_000
    tone = np.concatenate([np.zeros(4000), 0.3 * np.sin(2 * np.pi * 200 * t), np.zeros(4000)])
    soundfile.write(str(src / "hi.wav"), tone.astype(np.float32), 16_000)
    (src / "hi.txt").write_text("hi")
    out = tmp_path / "[/x] corpus"
    result = _invoke("corpus", "import", str(src), "--out", str(out), "--tag", "[/x]", "--tag", "[bold]")
    assert result.exit_code == 0, result.output
    assert "[/x] 1" in result.output and "[/x] corpus" in " ".join(result.output.split())


@pytest.mark.parametrize("option", ["--reply-timeout", "--signalling-timeout", "--connect-timeout"])
@pytest.mark.parametrize("value", ["nan", "inf", "1e308", "-1"])
def test_endpoint_check_timeouts_are_bounded(option: str, value: str) -> None:
    result = _invoke("endpoints", "check", NOWHERE, option, value)
    assert result.exit_code == EXIT_USAGE, result.output


def test_recorded_failure_reason_keeps_its_text_in_every_report(tmp_path: Path) -> None:
    """What the endpoint said is still readable after escaping and sanitising."""
    folder = RunFolder.create(tmp_path, "r")
    from slo.synth_runs import write_call

    write_call(folder, "c0")
    rec_path = folder.path / "calls/c0/recording.json"
    obj = json.loads(rec_path.read_text())
    obj["failure"] = json.loads(json.dumps({"kind": FailureKind.DROPPED.value, "reason": "gone [/x] \x07"}))
    rec_path.write_text(json.dumps(obj))
    folder.append_results([measurement("c0", "call_failed", 1.0, turn=None, unit="bool", passed=False,
                                       reason="dropped: gone [/x] \x07")])
    result = _invoke("report", str(folder.path))
    assert result.exit_code == 0, result.output
    assert "gone [/x]" in (folder.path / "index.html").read_text()

"""``rescore`` loses nothing: untouched runs come back byte for byte, damage is a reason.

The run folders here are written the way the runner writes them (recording, scenario,
texts, then the call's scored rows, in completion order, after a bad scenario file's
row), so "reproduces every row" is checked against the runner's own scoring.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from slo.synth_runs import RATE, tone
from typer.testing import CliRunner

from harness.cli import app
from harness.exit_codes import EXIT_USAGE
from harness.records import (
    CallerKind,
    CallRecording,
    EndpointEvent,
    EventKind,
    Failure,
    FailureKind,
    Measurement,
    Scenario,
    SentUtterance,
    Step,
    StepKind,
    StepLog,
    StepOutcome,
)
from harness.rescore import rescore_folder
from harness.scoring import CALL_FAILED, score_call
from harness.stats.percentiles import summarize
from harness.store.run_folder import RunFolder, read_results, read_run_info
from harness.store.run_info import RunInfo, collect_environment

TEXTS = {"q_a": "what time is it", "q_b": "play some music"}


def _call(folder: RunFolder, call_id: str, *, heard: str, latency_ms: float, texts: bool = True,
          failure: Failure | None = None) -> list[Measurement]:
    """One two-turn call as the runner leaves it; returns the rows it appended."""
    total = 4.5
    caller = np.zeros(int(total * RATE), np.float32)
    received = np.zeros(int(total * RATE), np.float32)
    sent, steps, events = [], [], []
    for k, utt in enumerate(TEXTS):
        s0 = int(k * 2.0 * RATE)
        caller[s0: s0 + RATE // 2] = tone(0.5)
        a0 = int((k * 2.0 + 0.5 + latency_ms / 1000) * RATE)
        received[a0: a0 + int(0.6 * RATE)] = tone(0.6, freq=200.0)
        ns = int(k * 2e9)
        sent.append(SentUtterance(step_index=k, kind=StepKind.SAY, utterance_id=utt, start_sample=s0,
                                  start_ns=ns, speech_start_ns=ns, speech_end_ns=ns + 500_000_000,
                                  voiced_ns=((ns, ns + 500_000_000),)))
        steps.append(StepLog(step_index=k, kind=StepKind.SAY, started_ns=ns, ended_ns=ns + 2_000_000_000,
                             outcome=StepOutcome.REPLY_ENDED))
        events.append(EndpointEvent(t_ns=ns + 700_000_000, kind=EventKind.INPUT_TRANSCRIPT,
                                    vendor_type="conversation.item.input_audio_transcription.completed",
                                    data={"transcript": heard if k == 0 else TEXTS[utt]}))
    # Received audio arrives as 16-bit PCM (Opus decoder), so it survives the WAV round trip.
    caller, received = (np.round(x * 32768) / 32768 for x in (caller, received))
    anchors = tuple((i, int(i * 1e9 / RATE)) for i in range(0, len(received), RATE // 50))
    rec = CallRecording(call_id=call_id, scenario_id="scn", endpoint="ep", caller=CallerKind.AIORTC,
                        sample_rate=RATE, duration_ns=int(total * 1e9), received_anchors=anchors,
                        sent=tuple(sent), steps=tuple(steps), events=tuple(events), failure=failure)
    scenario = Scenario(id="scn", source="suites/smoke/scn.yaml", steps=tuple(
        Step(index=k, kind=StepKind.SAY, utterance=u) for k, u in enumerate(TEXTS)))
    folder.write_recording(rec, caller, received)
    folder.write_scenario(call_id, scenario)
    if texts:
        folder.write_texts(call_id, TEXTS)
    rows = list(score_call(rec, scenario, received, caller_audio=caller, texts=TEXTS).measurements)
    folder.append_results(rows)
    return rows


def _run(root: Path, *, texts: bool = True) -> tuple[Path, list[Measurement]]:
    folder = RunFolder.create(root, "run")
    bad_file = Measurement(call_id="invalid-broken", scenario="broken", endpoint="-",
                           caller=CallerKind.AIORTC, repeat=0, turn=None, metric=CALL_FAILED,
                           value=1.0, unit="bool", passed=False, reason="bad_scenario: broken.yaml")
    folder.append_results([bad_file])
    rows = [bad_file]
    # Completion order is not call-id order: c2 finished first.
    rows += _call(folder, "c2", heard="what time is it", latency_ms=300, texts=texts)
    rows += _call(folder, "c0", heard="what time is it", latency_ms=450, texts=texts)
    rows += _call(folder, "c1", heard="what tie is it", latency_ms=380, texts=texts,
                  failure=Failure(kind=FailureKind.DROPPED, reason="dropped [/x] mid-call", step_index=1))
    folder.write_run_json(RunInfo(run_id="run", started_at="2026-01-01T00:00:00+00:00",
                                  environment=collect_environment(()),
                                  summary=tuple(summarize(rows, by=("metric", "endpoint", "caller")))))
    return folder.path, rows


def _rescore(run_dir: Path) -> tuple[int, str]:
    result = CliRunner().invoke(app, ["rescore", str(run_dir)])
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    return result.exit_code, " ".join(result.output.split())  # the console wraps long paths


def test_untouched_run_comes_back_byte_for_byte(tmp_path: Path) -> None:
    run_dir, rows = _run(tmp_path)
    assert sum(m.metric == "input_wer" for m in rows) == 5  # the rows the old rescore dropped
    before = (run_dir / "results.jsonl").read_bytes()
    summary = read_run_info(run_dir).summary
    code, output = _rescore(run_dir)
    assert code == 1, output  # c1 dropped: the run had a failure, as before
    assert (run_dir / "results.jsonl").read_bytes() == before
    assert read_run_info(run_dir).summary == summary
    assert "0 row(s) changed" in output and "[/x]" in output  # a reason with markup is printed as text
    assert (run_dir / "index.html").is_file()


def test_input_wer_is_recomputed_from_texts_json(tmp_path: Path) -> None:
    run_dir, _ = _run(tmp_path)
    texts = json.loads((run_dir / "calls/c0/texts.json").read_text())
    texts["texts"]["q_a"] = "what time is it now"  # the script changed: one word missing from what was heard
    (run_dir / "calls/c0/texts.json").write_text(json.dumps(texts))
    outcome = rescore_folder(run_dir)
    wer = {(m.call_id, m.turn): m.value for m in outcome.measurements if m.metric == "input_wer"}
    assert wer[("c0", 0)] == pytest.approx(1 / 5) and wer[("c2", 0)] == 0.0
    assert outcome.changed == 1


def test_rows_whose_text_is_missing_from_texts_json_are_kept(tmp_path: Path) -> None:
    """A driver without the corpus writes an empty texts.json; the rows scored elsewhere stand."""
    run_dir, rows = _run(tmp_path)
    (run_dir / "calls/c0/texts.json").write_text(json.dumps({"schema_version": 1, "texts": {}}))
    outcome = rescore_folder(run_dir)
    assert list(outcome.measurements) == rows
    assert any("lacks the text of 2 utterance(s)" in n for n in outcome.notes)


def test_folders_without_texts_keep_their_input_wer_rows(tmp_path: Path) -> None:
    run_dir, rows = _run(tmp_path, texts=False)
    before = (run_dir / "results.jsonl").read_bytes()
    outcome = rescore_folder(run_dir)
    assert list(outcome.measurements) == rows
    assert len(outcome.notes) == 4 and all("no texts.json" in n for n in outcome.notes[:3])
    code, _ = _rescore(run_dir)
    assert code == 1 and (run_dir / "results.jsonl").read_bytes() == before


@pytest.mark.parametrize("damage", ["no calls folder", "empty calls folder", "calls is a file"])
def test_a_folder_without_calls_is_refused_and_left_alone(tmp_path: Path, damage: str) -> None:
    run_dir, _ = _run(tmp_path)
    results, run_json = (run_dir / "results.jsonl").read_bytes(), (run_dir / "run.json").read_bytes()
    shutil.rmtree(run_dir / "calls")
    if damage == "empty calls folder":
        (run_dir / "calls").mkdir()
    elif damage == "calls is a file":
        (run_dir / "calls").write_text("x")
    code, output = _rescore(run_dir)
    assert code == EXIT_USAGE
    assert "no saved calls to rescore" in output and "nothing was changed" in output
    assert (run_dir / "results.jsonl").read_bytes() == results
    assert (run_dir / "run.json").read_bytes() == run_json


def test_a_garbage_results_line_is_refused_and_left_alone(tmp_path: Path) -> None:
    run_dir, _ = _run(tmp_path)
    with (run_dir / "results.jsonl").open("ab") as f:
        f.write(b"\x00garbage{\n")
    before = (run_dir / "results.jsonl").read_bytes()
    code, output = _rescore(run_dir)
    assert code == EXIT_USAGE and "results.jsonl:" in output and "nothing was changed" in output
    assert (run_dir / "results.jsonl").read_bytes() == before


def _damage_recording(call: Path, change: dict[str, object]) -> None:
    obj = json.loads((call / "recording.json").read_text())
    obj.update(change)
    (call / "recording.json").write_text(json.dumps(obj))


DAMAGE = {
    "garbage recording.json": lambda c: (c / "recording.json").write_bytes(b"{\x00nope"),
    "recording.json is a list": lambda c: (c / "recording.json").write_text("[1, 2]"),
    "recording.json nested 100,000 deep": lambda c: (c / "recording.json").write_text("[" * 100_000),
    "missing scenario.json": lambda c: (c / "scenario.json").unlink(),
    "bad scenario.json": lambda c: (c / "scenario.json").write_text('{"schema_version": 1, "id": 5}'),
    "missing received audio": lambda c: (c / "received.flac").unlink(),
    "received audio is not audio": lambda c: (c / "received.flac").write_bytes(b"RIFF" + b"\x00" * 40),
    "received audio is a directory": lambda c: ((c / "received.flac").unlink(), (c / "received.flac").mkdir()),
    "1 Hz recording": lambda c: (_damage_recording(c, {"sample_rate": 1}),
                                 sf.write(c / "caller.flac", np.zeros(300_000, np.int16), 1, format="WAV"),
                                 sf.write(c / "received.flac", np.zeros(300_000, np.int16), 1, format="WAV")),
    "unsorted anchors": lambda c: _damage_recording(c, {"received_anchors": [[960, 0], [0, 20_000_000]]}),
    "anchor at sample 10**15": lambda c: _damage_recording(c, {"received_anchors": [[10**15, 0]]}),
    "anchor beyond int64": lambda c: _damage_recording(c, {"received_anchors": [[0, 10**30]]}),
    "start_sample 10**15": lambda c: _damage_recording(c, {"sent": [{**json.loads(
        (c / "recording.json").read_text())["sent"][0], "start_sample": 10**15}]}),
    "wav name escapes the folder": lambda c: _damage_recording(c, {"caller_wav": "../../run.json"}),
    "recording.json removed": lambda c: (c / "recording.json").unlink(),
}


def test_each_damaged_call_keeps_its_rows_and_the_others_are_rescored(tmp_path: Path) -> None:
    """One run, one call per kind of damage, plus c2 whose script changed (so it must move)."""
    folder = RunFolder.create(tmp_path, "run")
    rows = {f"d{i}": _call(folder, f"d{i}", heard="what time is it", latency_ms=400)
            for i in range(len(DAMAGE))}
    rows["c2"] = _call(folder, "c2", heard="what time is it", latency_ms=300)
    folder.write_run_json(RunInfo(run_id="run", started_at="2026-01-01T00:00:00+00:00",
                                  environment=collect_environment(())))
    for i, damage in enumerate(sorted(DAMAGE)):
        DAMAGE[damage](folder.path / "calls" / f"d{i}")
    (folder.path / "calls/c2/texts.json").write_text(json.dumps(
        {"schema_version": 1, "texts": {**TEXTS, "q_a": "what time is it now"}}))
    code, output = _rescore(folder.path)
    assert code == EXIT_USAGE, output
    assert "Traceback" not in output
    outcome_lines = " ".join(output.split())  # the console wraps long lines
    after = read_results(folder.path)
    for i, damage in enumerate(sorted(DAMAGE)):
        assert f"calls/d{i}/" in outcome_lines, damage  # each damaged call is named ...
        assert [m for m in after if m.call_id == f"d{i}"] == rows[f"d{i}"], damage  # ... and kept
    assert output.count("not rescored:") == len(DAMAGE)
    # c2 really was rescored (its changed script shows), and the reports were written.
    assert [m.value for m in after if m.call_id == "c2" and m.metric == "input_wer" and m.turn == 0] == [
        pytest.approx(0.2)]
    assert (folder.path / "junit.xml").is_file()


def test_a_call_folder_removed_keeps_its_rows(tmp_path: Path) -> None:
    run_dir, rows = _run(tmp_path)
    shutil.rmtree(run_dir / "calls" / "c1")
    before = (run_dir / "results.jsonl").read_bytes()
    outcome = rescore_folder(run_dir)
    assert list(outcome.measurements) == rows and any("without a call folder" in n for n in outcome.notes)
    code, _ = _rescore(run_dir)
    assert code == 1 and (run_dir / "results.jsonl").read_bytes() == before


def test_not_a_run_folder(tmp_path: Path) -> None:
    code, output = _rescore(tmp_path / "nope")
    assert code == EXIT_USAGE and "no such run folder" in output
    (tmp_path / "empty").mkdir()
    code, output = _rescore(tmp_path / "empty")
    assert code == EXIT_USAGE and "run.json" in output


@pytest.mark.network
@pytest.mark.slow
@pytest.mark.driver
def test_a_real_run_is_reproduced_exactly(tmp_path: Path, start_agent) -> None:  # type: ignore[no-untyped-def]
    """A real call through ``run`` (latency, audio-quality and transport rows), then ``rescore``."""
    agent = start_agent("--delay", "200")
    out = tmp_path / "runs"
    result = CliRunner().invoke(app, ["run", "suites/smoke/smoke_single_turn.yaml", "--out", str(out),
                                      "-e", f"openai-realtime+{agent.url}"])
    assert result.exit_code in (0, 1), result.output
    (run_dir,) = out.iterdir()
    before = (run_dir / "results.jsonl").read_bytes()
    metrics = {m.metric for m in read_results(run_dir)}
    assert {"turn_latency_ms", "loudness_lufs", "packet_loss"} <= metrics, metrics
    summary = read_run_info(run_dir).summary
    code, output = _rescore(run_dir)
    assert code == result.exit_code, output
    assert (run_dir / "results.jsonl").read_bytes() == before
    assert read_run_info(run_dir).summary == summary

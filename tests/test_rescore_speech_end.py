"""``rescore --speech-end-dbfs``: every latency moves by exactly the caller's end shift.

The run folder is synthetic, so the test knows the truth: each caller clip is a tone
at -20 dBFS that fades exponentially (time constant 517 samples, ~10.8 ms), its
recorded end is where the corpus segmenter puts it (as ``corpus build`` does), and the
last sample whose 2 ms mean square is at or above -40 dBFS is found by brute force
(``np.convolve``) on the audio as saved (16-bit). The agent's replies do not move, so
turn latency must change by (detector end - that sample) / 48 kHz, to the nanosecond
rounding of the call clock (1e-6 ms).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from harness.analysis.segmentation import segment_speech
from harness.cli import app
from harness.records import (
    CallerKind,
    CallRecording,
    Measurement,
    Scenario,
    SegmentationParams,
    SentUtterance,
    Step,
    StepKind,
    StepLog,
    StepOutcome,
)
from harness.scoring import score_call
from harness.store.run_folder import RunFolder, read_results, read_run_info
from harness.store.run_info import RunInfo, collect_environment

SR = 48_000
W = 96
TAU = 517.0
LATENCY = "turn_latency_ms"


def q16(x: np.ndarray) -> np.ndarray:
    """As caller.wav keeps it (16-bit), so the truth is computed on what rescore reads."""
    return (np.round(np.asarray(x, np.float64) * 32768) / 32768).astype(np.float32)


def clip() -> np.ndarray:
    """200 ms lead, 500 ms of a -20 dBFS tone, an exponential fade, a quiet tail: 1.2 s."""
    n = np.arange(int(1.2 * SR))
    n0 = int(0.7 * SR)
    amp = 10 ** (-20 / 20) * np.exp(-np.maximum(n - n0, 0) / TAU) * (n >= int(0.2 * SR))
    return q16(amp * np.where(n % 2 == 0, 1.0, -1.0))


def last_at_or_above(x: np.ndarray, level_dbfs: float) -> int:
    power = np.convolve(x.astype(np.float64) ** 2, np.ones(W) / W)[W - 1:]
    return int(np.flatnonzero(power >= 10 ** (level_dbfs / 10))[-1]) + 1


def ns(sample: int) -> int:
    return sample * 1_000_000_000 // SR


def write_call(folder: RunFolder, call_id: str, reply_after_ms: tuple[float, ...]) -> tuple[list[Measurement], int]:
    """A call of one clip per reply delay, scored as the runner would; (rows, truth shift in samples)."""
    one = clip()
    (seg,) = segment_speech(one, SR)  # the corpus's bounds of the clip
    truth = last_at_or_above(one, -40.0)
    caller = np.zeros(int(3.0 * SR * len(reply_after_ms)), np.float32)
    received = np.zeros_like(caller)
    sent, steps = [], []
    for k, after_ms in enumerate(reply_after_ms):
        s0 = int(k * 3.0 * SR)
        caller[s0: s0 + one.size] = one
        end = s0 + seg.end
        a0 = end + round(after_ms * SR / 1000)
        received[a0: a0 + SR // 2] = q16(0.1 * np.sin(2 * np.pi * 300 * np.arange(SR // 2) / SR + 0.5))
        sent.append(SentUtterance(step_index=k, kind=StepKind.SAY, utterance_id="fade", start_sample=s0,
                                  start_ns=ns(s0), speech_start_ns=ns(s0 + seg.start), speech_end_ns=ns(end),
                                  voiced_ns=((ns(s0 + seg.start), ns(end)),), speech_end_sample=end))
        steps.append(StepLog(step_index=k, kind=StepKind.SAY, started_ns=ns(s0), ended_ns=ns(s0 + 3 * SR),
                             outcome=StepOutcome.REPLY_ENDED))
    anchors = tuple((i, ns(i)) for i in range(0, received.size, SR // 50))
    rec = CallRecording(call_id=call_id, scenario_id="scn", endpoint="ep", caller=CallerKind.AIORTC,
                        sample_rate=SR, duration_ns=ns(caller.size), received_anchors=anchors,
                        sent=tuple(sent), steps=tuple(steps))
    scenario = Scenario(id="scn", steps=tuple(Step(index=k, kind=StepKind.SAY, utterance="fade")
                                              for k in range(len(reply_after_ms))))
    folder.write_recording(rec, caller, received)
    folder.write_scenario(call_id, scenario)
    rows = list(score_call(rec, scenario, received, SegmentationParams(), caller_audio=caller).measurements)
    folder.append_results(rows)
    return rows, seg.end - truth


def rescore(run_dir: Path, *options: str) -> str:
    result = CliRunner().invoke(app, ["rescore", str(run_dir), *options])
    assert result.exit_code == 0, result.output
    return " ".join(result.output.split())


@pytest.fixture
def run(tmp_path: Path) -> tuple[Path, list[Measurement], int]:
    folder = RunFolder.create(tmp_path, "run")
    rows, shift = write_call(folder, "c0", (300.0, 450.0))
    more, again = write_call(folder, "c1", (380.0,))
    assert again == shift
    folder.write_run_json(RunInfo(run_id="run", started_at="2026-01-01T00:00:00+00:00",
                                  environment=collect_environment(())))
    return folder.path, rows + more, shift


def latencies(rows: list[Measurement] | tuple[Measurement, ...]) -> dict[tuple[str, int | None], float]:
    return {(m.call_id, m.turn): m.value for m in rows if m.metric == LATENCY and m.value is not None}


def test_the_truth_is_what_the_fade_says() -> None:
    """The premise: the brute-force end is the analytic -40 crossing of the fade (1 sample)."""
    n0 = int(0.7 * SR)
    gain = (1 - np.exp(-2 * W / TAU)) / (W * (1 - np.exp(-2 / TAU)))
    analytic = n0 + TAU / 2 * np.log(10 ** (-20 / 10) * gain / 10 ** (-40 / 10))
    assert abs(last_at_or_above(clip(), -40.0) - (np.floor(analytic) + 1)) <= 1


def test_latency_moves_by_exactly_the_end_shift(run: tuple[Path, list[Measurement], int]) -> None:
    run_dir, rows, shift = run
    assert shift > 0  # the -40 end precedes the detector's release on this fade
    before = latencies(rows)
    assert len(before) == 3
    output = rescore(run_dir, "--speech-end-dbfs", "-40")
    after = latencies(read_results(run_dir))
    assert after.keys() == before.keys()
    for key, value in before.items():
        assert after[key] - value == pytest.approx(shift * 1000 / SR, abs=1e-6), key
    assert "last sample ≥ -40 dBFS" in output


def test_run_json_records_the_definition_and_round_trips(run: tuple[Path, list[Measurement], int]) -> None:
    run_dir, _, shift = run
    rescore(run_dir, "--speech-end-dbfs=-40")
    raw = json.loads((run_dir / "run.json").read_text())
    assert raw["segmentation"]["caller_end_dbfs"] == -40.0
    assert raw["speech_end"]["level_dbfs"] == -40.0
    info = read_run_info(run_dir)  # from_json of what was written
    assert info.segmentation == SegmentationParams(caller_end_dbfs=-40.0)
    ends = info.speech_end
    assert ends is not None and ends.utterances == 3 and ends.kept == 0
    assert ends.shift_ms_p50 == pytest.approx(-shift * 1000 / SR, abs=0.05)
    assert ends.effective_dbfs_p50 is not None and ends.effective_dbfs_p50 < -40.0


def test_rescore_keeps_the_runs_definition_and_detector_restores_the_original(
    run: tuple[Path, list[Measurement], int],
) -> None:
    run_dir, _, _ = run
    original = (run_dir / "results.jsonl").read_bytes()
    rescore(run_dir, "--speech-end-dbfs", "-40")
    at_40 = (run_dir / "results.jsonl").read_bytes()
    assert at_40 != original
    rescore(run_dir)  # no option: the definition run.json now holds
    assert (run_dir / "results.jsonl").read_bytes() == at_40
    output = rescore(run_dir, "--speech-end-dbfs", "detector")
    assert (run_dir / "results.jsonl").read_bytes() == original
    assert read_run_info(run_dir).segmentation.caller_end_dbfs is None
    assert "caller speech ends: detector release (effective" in output

"""rescore on a soak folder whose retention policy dropped some calls' audio: those calls'
results lines stay as they were, the others are recomputed."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from rich.console import Console
from slo.synth_runs import measurement, write_call

from harness.rescore import rescore_run
from harness.store.run_folder import RunFolder, load_recording, read_results
from harness.store.run_info import RunInfo, collect_environment


def test_rescore_keeps_calls_without_audio(tmp_path: Path) -> None:
    folder = RunFolder.create(tmp_path, "soak")
    folder.write_run_json(RunInfo(run_id="soak", started_at="t", environment=collect_environment(())))
    write_call(folder, "with-audio", latency_ms=400.0)
    write_call(folder, "no-audio", latency_ms=700.0)
    rec, _, _ = load_recording(folder.call_dir("no-audio"))
    for name in ("caller.flac", "received.flac", "mix.flac"):
        (folder.call_dir("no-audio") / name).unlink()
    nothing = np.zeros(0, np.float32)
    folder.write_recording(rec, nothing, nothing, keep_audio=False)
    folder.append_results([measurement("no-audio", "turn_latency_ms", 701.0, turn=0),
                           measurement("with-audio", "turn_latency_ms", 1.0, turn=0)])
    out = io.StringIO()
    code = rescore_run(folder.path, Console(file=out, width=200))
    assert code in (0, 1), out.getvalue()  # not 2: a call without audio is not a problem
    assert "1 call(s) whose audio the soak did not keep" in out.getvalue()
    by_call: dict[str, list[float]] = {}
    for m in read_results(folder.path):
        if m.metric == "turn_latency_ms" and m.value is not None:
            by_call.setdefault(m.call_id, []).append(m.value)
    assert by_call["no-audio"] == [701.0]  # kept as written by the soak
    assert by_call["with-audio"] == [pytest.approx(400, abs=15)] * 2  # recomputed (the 1.0 is gone)

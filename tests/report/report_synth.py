"""A small synthetic run with audio, shared by the report tests (no network)."""

from __future__ import annotations

from pathlib import Path

from slo.synth_runs import measurement, write_call

from harness.store.run_folder import RunFolder
from harness.store.run_info import RunInfo, collect_environment

HOSTILE = "<script>window.__pwned=1</script><img src=x onerror=alert(1)>"


def make_run(root: Path, n_calls: int = 3, run_id: str = "r1") -> RunFolder:
    folder = RunFolder.create(root, run_id)
    folder.write_run_json(RunInfo(run_id=run_id, started_at="2026-01-01T00:00:00+00:00",
                                  environment=collect_environment(())))
    for i in range(n_calls):
        cid = f"c{i}"
        write_call(folder, cid, latency_ms=400 + 10 * (i % 10), transcript=HOSTILE if i == 0 else "fine")
        failed = i == n_calls - 1
        folder.append_results([
            measurement(cid, "call_failed", 0.0, turn=None, unit="bool", passed=True),
            measurement(cid, "turn_latency_ms", 400.0 + 10 * i, turn=0, passed=not failed,
                        reason=f"too slow {HOSTILE}" if failed else None),
            measurement(cid, "turn_latency_ms", 405.0 + 10 * i, turn=1, passed=True),
            measurement(cid, "cutoff_pause_700ms", float(i == 0), turn=1, unit="bool"),
            measurement(cid, "cutoff_pause_300ms", 1.0, turn=1, unit="bool"),
        ])
    return folder

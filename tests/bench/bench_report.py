"""Benchmark: report generation time and size for a synthetic run of 200 calls.

Run with ``PYTHONPATH=. .venv/bin/pytest tests/bench/bench_report.py -s``; prints the
numbers. Each call has 2 turns of audio (4.5 s at 16 kHz), like a short smoke call.
"Before" draws a timeline for every call in this process (the old behaviour);
"after" uses the default :class:`ReportSettings` (capped, failed/slowest first,
drawn in a 2-process pool).
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from report.report_synth import make_run

from harness.gate import gate_and_report
from harness.report.write import ReportPaths, ReportSettings
from harness.slo.rules import parse_slo

N_CALLS = 200
MAX_AFTER_S = 60.0
"""Seconds the default report of 200 calls may take (README: 18 s)."""


def _size(path: Path) -> int:
    if path.is_file():
        return path.stat().st_size
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def _line(label: str, elapsed: float, paths: ReportPaths) -> str:
    return (f"{label}: {elapsed:.1f} s; index.html {_size(paths.html) / 1e6:.2f} MB, "
            f"junit.xml {_size(paths.junit) / 1e3:.0f} kB, summary.md {_size(paths.markdown)} B, "
            f"allure-results {_size(paths.allure) / 1e6:.1f} MB "
            f"({len(list(paths.allure.iterdir()))} files, WAVs hard-linked)")


@pytest.mark.bench
def test_bench_report_200_calls(tmp_path: Path) -> None:
    folder = make_run(tmp_path, n_calls=N_CALLS)
    base = make_run(tmp_path, n_calls=N_CALLS, run_id="base")
    slo = parse_slo('[[slo]]\nmetric = "turn_latency_ms"\nstat = "p95"\nmax = 800\n')
    lines, elapsed = [], []
    for label, settings in (
        ("before (every call, 1 process)", ReportSettings(max_timelines=N_CALLS, workers=1)),
        (f"after (defaults: {ReportSettings()})", ReportSettings()),
    ):
        t0 = time.perf_counter()
        paths = gate_and_report(folder.path, slo=slo, baseline=base.path, settings=settings)
        elapsed.append(time.perf_counter() - t0)
        lines.append(_line(f"report for {N_CALLS} calls, {label}", elapsed[-1], paths))
        assert paths.html.stat().st_size > 0
    print("\n" + "\n".join(lines))
    # What the defaults are for: faster than drawing every call, and within a budget
    # (README: 18 s on 2 cores; a loaded machine gets a margin, a regression does not).
    before, after = elapsed
    assert after < before, lines
    assert after < MAX_AFTER_S, lines

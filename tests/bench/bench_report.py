"""Benchmark: report generation time and size for a synthetic run of 200 calls.

Run with ``PYTHONPATH=. .venv/bin/pytest tests/bench/bench_report.py -s``; prints the
numbers. Each call has 2 turns of audio (4.5 s at 16 kHz), like a short smoke call.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from report.report_synth import make_run

from harness.report.write import write_reports
from harness.slo.rules import parse_slo


def _size(path: Path) -> int:
    if path.is_file():
        return path.stat().st_size
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


@pytest.mark.bench
def test_bench_report_200_calls(tmp_path: Path) -> None:
    folder = make_run(tmp_path, n_calls=200)
    base = make_run(tmp_path, n_calls=200, run_id="base")
    slo = parse_slo('[[slo]]\nmetric = "turn_latency_ms"\nstat = "p95"\nmax = 800\n')
    t0 = time.perf_counter()
    paths = write_reports(folder.path, slo=slo, baseline=base.path)
    elapsed = time.perf_counter() - t0
    print(f"\nreport for 200 calls: {elapsed:.1f} s; index.html {_size(paths.html) / 1e6:.2f} MB, "
          f"junit.xml {_size(paths.junit) / 1e3:.0f} kB, summary.md {_size(paths.markdown)} B, "
          f"allure-results {_size(paths.allure) / 1e6:.1f} MB "
          f"({len(list(paths.allure.iterdir()))} files, WAVs hard-linked)")
    assert paths.html.stat().st_size > 0

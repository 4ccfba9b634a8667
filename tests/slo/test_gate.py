"""Baseline gating on synthetic runs: flips for real changes only."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from slo.synth_runs import latency_measurements, measurement, write_run

from harness.gate import gate_run
from harness.records import VerdictKind, VerdictStatus
from harness.slo.baseline import compare_runs, policy_for
from harness.slo.data import load_run
from harness.slo.rules import Direction, parse_slo
from harness.stats.regression import Change
from harness.store.run_folder import read_run_info


def _latencies(rng: np.random.Generator, n: int, shift: float = 0.0) -> list[float]:
    # a latency-like distribution: 300 ms floor + lognormal jitter (~40 ms spread, long tail)
    return list(300.0 + shift + rng.lognormal(3.5, 0.5, n))


def test_same_agent_repeated_runs_never_alarm(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    base = load_run(write_run(tmp_path, latency_measurements(_latencies(rng, 30)), run_id="base"))
    for k in range(10):
        cur = load_run(write_run(tmp_path, latency_measurements(_latencies(rng, 30)), run_id=f"r{k}"))
        (row,) = compare_runs(base, cur)
        assert row.comparison.change is not Change.REGRESSION, row


def test_200ms_slower_agent_is_a_latency_regression(tmp_path: Path) -> None:
    rng = np.random.default_rng(2)
    base = write_run(tmp_path, latency_measurements(_latencies(rng, 12)), run_id="base")
    cur = write_run(tmp_path, latency_measurements(_latencies(rng, 12, shift=200)), run_id="cur")
    result = gate_run(cur, None, base)
    (v,) = result.verdicts
    assert v.kind is VerdictKind.REGRESSION and v.status is VerdictStatus.FAIL
    assert result.failed
    c = result.rows[0].comparison
    assert c.diff == pytest.approx(200, abs=40)
    assert c.ci is not None and c.ci[0] > 0
    assert read_run_info(cur).verdicts == result.verdicts  # recorded in run.json


def test_change_within_tolerance_is_not_a_regression(tmp_path: Path) -> None:
    # +15 ms on a 300 ms median, perfectly consistent: significant but under 30 ms / 10 %
    base = write_run(tmp_path, latency_measurements([300.0 + i for i in range(20)]), run_id="b")
    cur = write_run(tmp_path, latency_measurements([315.0 + i for i in range(20)]), run_id="c")
    (row,) = compare_runs(load_run(base), load_run(cur))
    assert row.comparison.p_worse is not None and row.comparison.p_worse < 0.05
    assert row.comparison.change is Change.UNCHANGED


def test_large_but_noisy_difference_from_few_samples_is_not_supported(tmp_path: Path) -> None:
    base = write_run(tmp_path, latency_measurements([100, 900, 300, 700, 500]), run_id="b")
    cur = write_run(tmp_path, latency_measurements([200, 1000, 400, 800, 600]), run_id="c")
    (row,) = compare_runs(load_run(base), load_run(cur))
    assert row.comparison.diff == pytest.approx(100)
    assert row.comparison.change is Change.UNCHANGED


def test_barge_in_regression_on_synthetic_results(tmp_path: Path) -> None:
    """Barge-in off: the agent no longer stops -> handled rate drops, stop latency rises."""
    def run(handled_rate: float, stop_ms: float, rid: str) -> Path:
        ms = []
        for i in range(30):
            handled = 1.0 if i < handled_rate * 30 else 0.0
            ms.append(measurement(f"c{i}", "barge_in_handled", handled, turn=1, unit="bool"))
            ms.append(measurement(f"c{i}", "barge_in_stop_ms", stop_ms + (i % 7) * 10, turn=1))
        return write_run(tmp_path, ms, run_id=rid)
    base, cur = run(1.0, 250, "on"), run(0.1, 5000, "off")
    result = gate_run(cur, None, base)
    failed = {v.metric for v in result.verdicts if v.status is VerdictStatus.FAIL}
    assert failed == {"barge_in_handled", "barge_in_stop_ms"}
    same = gate_run(run(1.0, 250, "on2"), None, base)
    assert not same.failed


def test_higher_is_better_direction_and_user_override(tmp_path: Path) -> None:
    assert policy_for("pesq_wb").direction is Direction.HIGHER
    assert policy_for("turn_latency_ms").direction is Direction.LOWER
    assert policy_for("agent_speech_ms").direction is Direction.NONE
    assert policy_for("some_new_metric").direction is Direction.NONE
    settings = parse_slo('[regression.metrics.some_new_metric]\ndirection = "higher"\n').regression
    assert policy_for("some_new_metric", settings).direction is Direction.HIGHER
    base = write_run(tmp_path, [measurement(f"c{i}", "pesq_wb", 4.0 + i * 0.01, unit="mos") for i in range(20)], run_id="b")
    worse = write_run(tmp_path, [measurement(f"c{i}", "pesq_wb", 3.0 + i * 0.01, unit="mos") for i in range(20)], run_id="w")
    better = write_run(tmp_path, [measurement(f"c{i}", "pesq_wb", 4.5 + i * 0.01, unit="mos") for i in range(20)], run_id="g")
    assert compare_runs(load_run(base), load_run(worse))[0].comparison.change is Change.REGRESSION
    assert compare_runs(load_run(base), load_run(better))[0].comparison.change is Change.IMPROVEMENT


def test_slo_and_regression_together(tmp_path: Path) -> None:
    slo = parse_slo('[[slo]]\nmetric = "turn_latency_ms"\nstat = "p95"\nmax = 350\n')
    base = write_run(tmp_path, latency_measurements([300.0] * 10), run_id="b")
    cur = write_run(tmp_path, latency_measurements([400.0] * 10), run_id="c")
    result = gate_run(cur, slo, base)
    kinds = {(v.kind, v.status) for v in result.verdicts}
    assert kinds == {(VerdictKind.SLO, VerdictStatus.FAIL), (VerdictKind.REGRESSION, VerdictStatus.FAIL)}
    slo_v = next(v for v in result.verdicts if v.kind is VerdictKind.SLO)
    assert slo_v.observed == 400.0 and slo_v.threshold == 350.0 and slo_v.n == 10

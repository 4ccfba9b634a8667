"""Drift rules in the SLO file: parsed apart from ordinary rules, judged on a soak's windows."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from harness.gate import gate_run
from harness.records import VerdictKind, VerdictStatus
from harness.slo.rules import SloError, parse_slo
from harness.stats.windows import ProcessFigures, WindowMetric, WindowRow
from harness.store.run_folder import RunFolder
from harness.store.windows import append_window

SLO = """
[[slo]]
metric = "turn_latency_ms"
stat = "p50"
max_drift_per_hour = 30
[[slo]]
metric = "pesq_wb"
stat = "mean"
min_drift_per_hour = -0.2
[[slo]]
metric = "call_failed"
stat = "rate"
max_drift_per_hour = 0.05
[[slo]]
metric = "barge_in_stop_ms"
stat = "p50"
max_drift_per_hour = 50
"""


def test_drift_rules_parse_apart() -> None:
    slo = parse_slo(SLO, "s.toml")
    assert slo.rules == ()
    assert [(r.metric, r.op, r.threshold_per_hour) for r in slo.drift_rules] == [
        ("turn_latency_ms", "<=", 30), ("pesq_wb", ">=", -0.2), ("call_failed", "<=", 0.05),
        ("barge_in_stop_ms", "<=", 50)]
    assert slo.drift_rules[0].name == "turn_latency_ms p50 drift <= 30/hour"
    with pytest.raises(SloError, match="exactly one of"):
        parse_slo('[[slo]]\nmetric = "x"\nmax = 3\nmax_drift_per_hour = 3\n', "s.toml")
    with pytest.raises(SloError, match="takes no 'by'"):
        parse_slo('[[slo]]\nmetric = "x"\nmax_drift_per_hour = 3\nby = ["endpoint"]\n', "s.toml")


def soak_folder(tmp_path: Path, latency_per_hour: float, seed: int) -> Path:
    """A soak folder of 30 one-minute windows: latency trending, PESQ and failures flat."""
    folder = RunFolder.create(tmp_path, f"soak{seed}")
    rng = np.random.default_rng(seed)
    for i in range(30):
        hours = (i + 0.5) / 60
        append_window(folder.path, WindowRow(index=i, start_s=60.0 * i, end_s=60.0 * (i + 1), metrics=(
            WindowMetric(metric="turn_latency_ms", stat="p50", n=20, unit="ms",
                         value=300 + latency_per_hour * hours + rng.normal(0, 5)),
            WindowMetric(metric="pesq_wb", stat="mean", n=20, unit="mos", value=4.2 + rng.normal(0, 0.05)),
            WindowMetric(metric="call_failed", stat="rate", n=8, value=float(rng.binomial(8, 0.05)) / 8),
        ), process=ProcessFigures(rss_mb=200.0)))
    return folder.path


def test_gate_fails_a_significant_rise_beyond_the_bound(tmp_path: Path) -> None:
    slo = parse_slo(SLO, "s.toml")
    rising = gate_run(soak_folder(tmp_path, 120.0, 1), slo, write=False)
    by_metric = {v.metric: v for v in rising.verdicts}
    assert all(v.kind is VerdictKind.DRIFT for v in rising.verdicts)
    latency = by_metric["turn_latency_ms"]
    assert latency.status is VerdictStatus.FAIL and rising.failed
    assert latency.observed == pytest.approx(120, rel=0.2) and latency.unit == "ms/hour"
    assert "turn latency p50 +" in latency.detail and "Mann-Kendall p=" in latency.detail
    assert by_metric["pesq_wb"].status is VerdictStatus.PASS
    assert by_metric["call_failed"].status is VerdictStatus.PASS
    missing = by_metric["barge_in_stop_ms"]  # no window carries it: said, not passed
    assert missing.status is VerdictStatus.INSUFFICIENT_SAMPLES and missing.n == 0

    steady = gate_run(soak_folder(tmp_path, 0.0, 2), slo, write=False)
    assert not steady.failed
    assert {v.metric: v.status for v in steady.verdicts}["turn_latency_ms"] is VerdictStatus.PASS


def test_a_slow_rise_within_the_bound_passes(tmp_path: Path) -> None:
    result = gate_run(soak_folder(tmp_path, 20.0, 3), parse_slo(SLO, "s.toml"), write=False)
    latency = next(v for v in result.verdicts if v.metric == "turn_latency_ms")
    assert latency.status is VerdictStatus.PASS and latency.observed is not None
    assert latency.observed < 30


def test_the_shipped_soak_slo_file_parses() -> None:
    from harness.slo.rules import load_slo_file

    slo = load_slo_file(Path(__file__).resolve().parents[2] / "ci" / "soak-slo.toml")
    assert len(slo.rules) == 2 and len(slo.drift_rules) == 3


def test_a_rule_judges_the_slope_not_the_entrys_size_tolerance(tmp_path: Path) -> None:
    """+50 ms/hour for 29 min is ~24 ms: inside the 30 ms size tolerance, so the entry alone
    reads steady, but the user's own bound (30/hour) is what the rule checks."""
    folder = soak_folder(tmp_path, 50.0, 4)
    result = gate_run(folder, parse_slo(SLO, "s.toml"), write=False)
    latency = next(v for v in result.verdicts if v.metric == "turn_latency_ms")
    assert latency.status is VerdictStatus.FAIL, latency.detail
    assert "within the 30 ms tolerance" in latency.detail

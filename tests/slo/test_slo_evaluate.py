"""SLO verdicts on synthetic run folders: observed value, threshold, sample size, status."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from slo.synth_runs import latency_measurements, measurement, write_run

from harness.records import Scenario, Step, StepKind, VerdictStatus
from harness.slo.data import load_run
from harness.slo.evaluate import evaluate, gate_failed
from harness.slo.rules import parse_slo


def _rule(body: str) -> str:
    return "[[slo]]\n" + body


def test_p95_pass_and_fail_report_observed_value(tmp_path: Path) -> None:
    values = list(range(100, 1100, 10))  # 100 values: 100..1090, p95 = 1045.5 (linear)
    run = write_run(tmp_path, latency_measurements(values))
    data = load_run(run)
    expected = float(np.percentile(values, 95))
    ok = evaluate(parse_slo(_rule('metric = "turn_latency_ms"\nstat = "p95"\nmax = 1100\n')), data)
    bad = evaluate(parse_slo(_rule('metric = "turn_latency_ms"\nstat = "p95"\nmax = 800\n')), data)
    assert [v.status for v in ok] == [VerdictStatus.PASS]
    (v,) = bad
    assert v.status is VerdictStatus.FAIL
    assert v.observed == pytest.approx(expected, abs=1e-9)
    assert (v.threshold, v.n, v.unit, v.op) == (800.0, 100, "ms", "<=")
    assert gate_failed(bad) and not gate_failed(ok)


def test_too_few_samples_is_its_own_verdict_not_a_pass(tmp_path: Path) -> None:
    run = write_run(tmp_path, latency_measurements([100, 110, 120]))
    (v,) = evaluate(parse_slo(_rule('metric = "turn_latency_ms"\nmax = 800\nmin_samples = 5\n')),
                    load_run(run))
    assert v.status is VerdictStatus.INSUFFICIENT_SAMPLES
    assert v.n == 3 and v.observed == pytest.approx(119.0)
    assert not gate_failed([v])


def test_rule_matching_nothing_is_insufficient_with_n_zero(tmp_path: Path) -> None:
    run = write_run(tmp_path, latency_measurements([100] * 10))
    (v,) = evaluate(parse_slo(_rule('metric = "turn_latncy_ms"\nmax = 800\n')), load_run(run))
    assert (v.status, v.n, v.observed) == (VerdictStatus.INSUFFICIENT_SAMPLES, 0, None)


def test_lower_bound_rule_for_higher_is_better_metrics(tmp_path: Path) -> None:
    ms = [measurement(f"c{i}", "pesq_wb", v, unit="mos") for i, v in enumerate([3.0, 3.2, 3.4, 3.3, 3.1])]
    (v,) = evaluate(parse_slo(_rule('metric = "pesq_wb"\nstat = "p50"\nmin = 3.5\n')),
                    load_run(write_run(tmp_path, ms)))
    assert v.status is VerdictStatus.FAIL and v.observed == pytest.approx(3.2) and v.op == ">="


def test_rate_at_one_pause_length_with_turn_and_tag_filters(tmp_path: Path) -> None:
    # 20 calls: turn 1 has a 700 ms pause; 3 of 20 cut off there (15 %); turn 0 never.
    ms = []
    scenarios = {}
    for i in range(20):
        call = f"c{i}"
        ms.append(measurement(call, "cutoff", 0.0, turn=0, unit="bool"))
        ms.append(measurement(call, "cutoff", 1.0 if i < 3 else 0.0, turn=1, unit="bool"))
        ms.append(measurement(call, "cutoff_pause_700ms", 1.0 if i < 3 else 0.0, turn=1, unit="bool"))
        tags = ("pauses",) if i < 10 else ("other",)
        scenarios[call] = Scenario(id="scn", tags=tags, source="suites/endpointing/p.yaml",
                                   steps=(Step(index=0, kind=StepKind.SAY, utterance="q"),))
    data = load_run(write_run(tmp_path, ms, scenarios=scenarios))
    slo = parse_slo(
        _rule('metric = "cutoff_pause_700ms"\nstat = "rate"\nmax = 0.05\nwhere = { suite = "endpointing" }\n')
        + _rule('metric = "cutoff"\nstat = "rate"\nmax = 0.05\nwhere = { turn = 1 }\n')
        + _rule('metric = "cutoff"\nstat = "rate"\nmax = 0.05\nwhere = { turn = 0 }\n')
        + _rule('metric = "cutoff"\nstat = "rate"\nmax = 0.5\nwhere = { turn = 1, tags = ["pauses"] }\n')
        + _rule('metric = "cutoff_pause_*"\nstat = "rate"\nmax = 0.05\nwhere = { suite = "latency" }\n')
    )
    by_pause, turn1, turn0, tagged, wrong_suite = evaluate(slo, data)
    assert (by_pause.status, by_pause.observed, by_pause.n) == (VerdictStatus.FAIL, 0.15, 20)
    assert (turn1.status, turn1.observed, turn1.n) == (VerdictStatus.FAIL, 0.15, 20)
    assert (turn0.status, turn0.observed) == (VerdictStatus.PASS, 0.0)
    assert (tagged.observed, tagged.n) == (0.3, 10)  # calls 0..9 carry the tag, 3 of them cut
    assert wrong_suite.n == 0


def test_per_endpoint_groups_and_none_values_skipped(tmp_path: Path) -> None:
    ms = latency_measurements([100] * 10, endpoint="fast", prefix="f") + latency_measurements(
        [900] * 10, endpoint="slow", prefix="s")
    ms.append(measurement("s9", "turn_latency_ms", None, endpoint="slow", reason="no reply"))
    verdicts = evaluate(parse_slo(_rule('metric = "turn_latency_ms"\nmax = 800\nby = ["endpoint"]\n')),
                        load_run(write_run(tmp_path, ms)))
    got = {v.group: (v.status, v.n, v.observed) for v in verdicts}
    assert got == {"endpoint=fast": (VerdictStatus.PASS, 10, 100.0),
                   "endpoint=slow": (VerdictStatus.FAIL, 10, 900.0)}


def test_rate_of_a_non_boolean_metric_is_insufficient_with_reason(tmp_path: Path) -> None:
    (v,) = evaluate(parse_slo(_rule('metric = "turn_latency_ms"\nstat = "rate"\nmax = 0.1\n')),
                    load_run(write_run(tmp_path, latency_measurements([100] * 10))))
    assert v.status is VerdictStatus.INSUFFICIENT_SAMPLES and "0/1" in v.detail

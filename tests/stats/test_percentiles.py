"""Summaries against numpy on known arrays, and bootstrap CIs against a known distribution."""

from __future__ import annotations

import math

import numpy as np
import pytest

from harness.records import CallerKind, Measurement
from harness.stats.percentiles import summarize


def meas(
    values: list[float | None] | np.ndarray,
    *,
    metric: str = "turn_latency_ms",
    unit: str = "ms",
    scenario: str = "s1",
    endpoint: str = "e1",
) -> list[Measurement]:
    return [
        Measurement(
            call_id=f"c{i}",
            scenario=scenario,
            endpoint=endpoint,
            caller=CallerKind.AIORTC,
            repeat=0,
            turn=0,
            metric=metric,
            value=None if v is None else float(v),
            unit=unit,
        )
        for i, v in enumerate(values)
    ]


def test_percentiles_of_1_to_100() -> None:
    (s,) = summarize(meas(list(range(1, 101))))
    # numpy linear interpolation: p = 1 + (q/100)·99
    assert (s.metric, s.unit, s.group, s.n) == ("turn_latency_ms", "ms", "all", 100)
    assert s.p50 == pytest.approx(50.5)
    assert s.p90 == pytest.approx(90.1)
    assert s.p95 == pytest.approx(95.05)
    assert s.p99 == pytest.approx(99.01)
    assert s.max == 100.0
    assert s.mean == pytest.approx(50.5)


def test_percentiles_match_numpy_on_random_data() -> None:
    x = np.random.default_rng(7).gamma(2.0, 150.0, size=537)
    (s,) = summarize(meas(x))
    expected = np.percentile(x, [50, 90, 95, 99])
    assert [s.p50, s.p90, s.p95, s.p99] == pytest.approx(expected.tolist(), rel=1e-12)
    assert s.max == pytest.approx(x.max()) and s.mean == pytest.approx(x.mean())
    assert s.p50_ci is not None and s.p50_ci[0] < s.p50 < s.p50_ci[1]
    assert s.p95_ci is not None and s.p95_ci[0] < s.p95 < s.p95_ci[1]


def test_grouping_labels_and_metric_separation() -> None:
    ms = (
        meas([100, 200, 300], scenario="a")
        + meas([10, 20], scenario="b")
        + meas([0, 1, 0, 0], metric="no_response", unit="bool", scenario="a")
    )
    by_all = {(s.metric, s.group): s for s in summarize(ms)}
    assert set(by_all) == {("turn_latency_ms", "all"), ("no_response", "all")}
    assert by_all[("turn_latency_ms", "all")].n == 5
    assert by_all[("no_response", "all")].mean == pytest.approx(0.25)
    by_scn = summarize(ms, by=("metric", "scenario"))
    assert [(s.metric, s.group, s.n) for s in by_scn] == [
        ("no_response", "scenario=a", 4),
        ("turn_latency_ms", "scenario=a", 3),
        ("turn_latency_ms", "scenario=b", 2),
    ]
    two = summarize(meas([1, 2], scenario="a", endpoint="x"), by=("scenario", "endpoint"))
    assert two[0].group == "scenario=a,endpoint=x"


def test_none_and_nan_are_skipped_and_empty_groups_reported() -> None:
    (s,) = summarize(meas([None, 5.0, math.nan, 7.0]))
    assert s.n == 2 and s.p50 == pytest.approx(6.0)
    (empty,) = summarize(meas([None, None]))
    assert empty.n == 0 and empty.p50 is None and empty.max is None and empty.p50_ci is None


def test_ci_needs_five_values() -> None:
    (four,) = summarize(meas([1, 2, 3, 4]))
    assert four.p50_ci is None and four.p95_ci is None
    (five,) = summarize(meas([1, 2, 3, 4, 5]))
    assert five.p50_ci is not None and five.p95_ci is not None
    (same,) = summarize(meas([3.0] * 10))
    assert same.p50_ci == (3.0, 3.0)


def test_bootstrap_is_deterministic_per_seed_and_independent_of_other_groups() -> None:
    x = np.random.default_rng(3).normal(300.0, 40.0, size=60)
    a1 = summarize(meas(x), seed=1)[0]
    a2 = summarize(meas(x), seed=1)[0]
    b = summarize(meas(x), seed=2)[0]
    assert a1 == a2
    assert a1.p50_ci != b.p50_ci
    with_other = summarize(meas(x) + meas([1, 2, 3, 4, 5, 6], metric="greeting_latency_ms"), seed=1)
    assert [s for s in with_other if s.metric == "turn_latency_ms"] == [a1]


def test_ci_coverage_of_a_known_distribution() -> None:
    """100 seeded trials of n=200 from lognormal(μ=6, σ=0.5) (median e^6 ≈ 403 ms).

    A 95% CI should contain the true median in about 95 of 100 trials; we require >= 90
    (seen: 93), and the same for the true p95 (seen: 93). The mean width must be that
    of an informative interval: 2·1.96·SE ≈ 17% of the median for the median's CI, so
    it is required to lie between 10% and 25% (an infinitely wide CI would always cover).
    """
    true_p50 = math.exp(6.0)
    true_p95 = math.exp(6.0 + 0.5 * 1.6448536269514722)
    cover50 = cover95 = 0
    widths = []
    for trial in range(100):
        x = np.random.default_rng(trial).lognormal(6.0, 0.5, size=200)
        (s,) = summarize(meas(x), seed=trial)
        assert s.p50_ci is not None and s.p95_ci is not None
        cover50 += s.p50_ci[0] <= true_p50 <= s.p50_ci[1]
        cover95 += s.p95_ci[0] <= true_p95 <= s.p95_ci[1]
        widths.append((s.p50_ci[1] - s.p50_ci[0]) / true_p50)
    assert cover50 >= 90
    assert cover95 >= 90
    assert 0.10 <= float(np.mean(widths)) <= 0.25


def test_bad_arguments() -> None:
    with pytest.raises(ValueError, match="cannot group by"):
        summarize(meas([1]), by=("colour",))
    with pytest.raises(ValueError, match="mixed units"):
        summarize(meas([1]) + meas([2], unit="s"))

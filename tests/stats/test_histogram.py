"""MetricHistogram against numpy on the same values, within HdrHistogram's stated precision."""

from __future__ import annotations

import numpy as np
import pytest

from harness.stats.histogram import MetricHistogram

REL = 1e-3
"""3 significant digits: a reported value is within 0.1 % of a recorded one."""


def nearest_rank(values: np.ndarray, q: float) -> float:
    ordered = np.sort(values)
    rank = max(1, int(np.ceil(q / 100 * ordered.size)))
    return float(ordered[rank - 1])


def test_percentiles_match_nearest_rank_within_precision() -> None:
    rng = np.random.default_rng(7)
    values = rng.lognormal(np.log(400), 0.6, 50_000)
    hist = MetricHistogram()
    hist.record_all(values.tolist())
    assert hist.count == values.size
    for q in (50, 90, 95, 99, 99.9):
        assert hist.percentile(q) == pytest.approx(nearest_rank(values, q), rel=REL, abs=0.01)
    assert hist.mean() == pytest.approx(values.mean(), rel=1e-12)  # kept exactly
    assert hist.max() == pytest.approx(values.max(), rel=REL)


def test_merge_equals_recording_everything_in_one() -> None:
    rng = np.random.default_rng(3)
    parts = [rng.gamma(4, 80, 3000) for _ in range(5)]
    merged = MetricHistogram()
    for part in parts:
        h = MetricHistogram()
        h.record_all(part.tolist())
        merged.add(h)
    whole = MetricHistogram()
    whole.record_all(np.concatenate(parts).tolist())
    assert merged.count == whole.count == 15_000
    for q in (50, 95, 99):
        assert merged.percentile(q) == whole.percentile(q)


def test_memory_does_not_grow_with_values() -> None:
    hist = MetricHistogram()
    before = len(hist._hist.counts)
    hist.record_all(np.random.default_rng(1).uniform(0, 600_000, 200_000).tolist())
    assert len(hist._hist.counts) == before


def test_zero_and_out_of_range_values() -> None:
    wer = MetricHistogram(scale=1000, highest=10)
    for v in (0.0, 0.0, 0.25, 0.5):
        assert wer.record(v)
    assert wer.percentile(50) == 0.0
    assert wer.percentile(100) == pytest.approx(0.5)
    assert wer.mean() == pytest.approx(0.1875, abs=1e-3)
    for bad in (-1.0, 11.0, float("nan"), float("inf")):
        assert not wer.record(bad)
    assert wer.out_of_range == 4 and wer.count == 4


def test_empty_and_mismatched() -> None:
    hist = MetricHistogram()
    assert hist.percentile(50) is None and hist.mean() is None and hist.max() is None
    with pytest.raises(ValueError, match="different scale"):
        hist.add(MetricHistogram(scale=10))


def test_several_percentiles_in_one_pass_equal_one_at_a_time() -> None:
    hist = MetricHistogram(scale=10)
    hist.record_all(np.random.default_rng(2).gamma(3, 100, 5000).tolist())
    many = hist.percentiles((99, 50, 95, 50))
    assert list(many) == [50.0, 95.0, 99.0]
    assert all(many[q] == hist.percentile(q) for q in many)
    assert MetricHistogram().percentiles((50,)) == {50.0: None}

"""Is run B worse than baseline A? A change counts only if it is large *and* real.

Latency samples from two runs of the same agent differ by noise every time; gating on
the raw difference of two p50s would fail CI at random. So a comparison gives three
facts and the caller decides with all three (docs/run-folder.md):

- the difference of the chosen statistic (B - A), oriented so that positive is worse;
- its bootstrap 95% CI (``scipy.stats.bootstrap`` resampling both runs independently,
  percentile method, seeded) -- *supported* only if the whole CI lies on the worse side;
- a one-sided Mann-Whitney U test that B's values tend to be worse than A's
  (``scipy.stats.mannwhitneyu``), which makes no assumption about the distribution's
  shape and is robust to the outliers latency always has.

A regression needs the difference beyond the tolerance, the CI excluding zero *and*
the rank test below ``alpha``: requiring both tests keeps the false-alarm rate under
``alpha`` for an unchanged agent, which is what lets a nightly gate stay green.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

import numpy as np
from numpy.typing import NDArray
from scipy import stats

from harness.records import Stat
from harness.stats.seeding import keyed_rng
from harness.stats.stat import compute_axis

__all__ = ["Change", "Comparison", "compare_samples"]

_MAX_BATCH_ELEMENTS = 4_000_000
P50 = Stat("p50")


class Change(StrEnum):
    REGRESSION = "regression"
    IMPROVEMENT = "improvement"
    UNCHANGED = "unchanged"
    """Within tolerance or not statistically supported."""
    INSUFFICIENT = "insufficient_samples"
    UNGATED = "ungated"
    """The metric has no better direction; the change is reported only."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Comparison:
    stat: Stat
    n_a: int
    n_b: int
    a: float | None
    """The statistic in the baseline."""
    b: float | None
    diff: float | None
    """``b - a`` (raw, not oriented)."""
    ci: tuple[float, float] | None
    """Bootstrap CI of ``b - a``."""
    p_worse: float | None
    """One-sided rank-test p-value for "B is worse than A" (None when ungated)."""
    tolerance: float
    change: Change


def compare_samples(
    a: Sequence[float],
    b: Sequence[float],
    *,
    stat: Stat = P50,
    direction: str = "lower",
    abs_tolerance: float = 0.0,
    rel_tolerance: float = 0.0,
    alpha: float = 0.05,
    min_samples: int = 5,
    n_resamples: int = 2000,
    seed: int = 0,
    key: str = "",
) -> Comparison:
    """Compare sample ``b`` (new run) with ``a`` (baseline).

    ``direction``: ``lower`` (lower is better), ``higher`` or ``none``. The tolerance
    is ``max(abs_tolerance, rel_tolerance * |stat(a)|)``.
    """
    arr_a = np.asarray(a, dtype=np.float64)
    arr_b = np.asarray(b, dtype=np.float64)
    n_a, n_b = int(arr_a.size), int(arr_b.size)
    va = float(compute_axis(stat, arr_a)) if n_a else None
    vb = float(compute_axis(stat, arr_b)) if n_b else None
    tolerance = max(abs_tolerance, rel_tolerance * abs(va)) if va is not None else abs_tolerance
    if va is None or vb is None or n_a < min_samples or n_b < min_samples:
        return Comparison(stat=stat, n_a=n_a, n_b=n_b, a=va, b=vb,
                          diff=None if va is None or vb is None else vb - va, ci=None,
                          p_worse=None, tolerance=tolerance, change=Change.INSUFFICIENT)
    diff = vb - va
    ci = _bootstrap_diff(arr_a, arr_b, stat, alpha, n_resamples, keyed_rng(seed, key or stat))
    if direction == "none":
        return Comparison(stat=stat, n_a=n_a, n_b=n_b, a=va, b=vb, diff=diff, ci=ci,
                          p_worse=None, tolerance=tolerance, change=Change.UNGATED)
    sign = 1.0 if direction == "lower" else -1.0
    worse = sign * diff
    p_worse = _rank_p(arr_a, arr_b, "greater" if sign > 0 else "less")
    p_better = _rank_p(arr_a, arr_b, "less" if sign > 0 else "greater")
    lo, hi = ci
    ci_worse = lo > 0 if sign > 0 else hi < 0
    ci_better = hi < 0 if sign > 0 else lo > 0
    if worse > tolerance and ci_worse and p_worse < alpha:
        change = Change.REGRESSION
    elif -worse > tolerance and ci_better and p_better < alpha:
        change = Change.IMPROVEMENT
    else:
        change = Change.UNCHANGED
    return Comparison(stat=stat, n_a=n_a, n_b=n_b, a=va, b=vb, diff=diff, ci=ci,
                      p_worse=p_worse, tolerance=tolerance, change=change)


def _rank_p(a: NDArray[np.float64], b: NDArray[np.float64], alternative: str) -> float:
    if np.ptp(np.concatenate([a, b])) == 0:
        return 1.0  # all values identical: no evidence of any shift
    return float(stats.mannwhitneyu(b, a, alternative=alternative).pvalue)


def _bootstrap_diff(
    a: NDArray[np.float64],
    b: NDArray[np.float64],
    stat: Stat,
    alpha: float,
    n_resamples: int,
    rng: np.random.Generator,
) -> tuple[float, float]:
    if np.ptp(a) == 0 and np.ptp(b) == 0:
        d = float(b[0] - a[0])
        return d, d

    def diff(x: NDArray[np.float64], y: NDArray[np.float64], axis: int = -1) -> NDArray[np.float64]:
        return compute_axis(stat, y, axis=axis) - compute_axis(stat, x, axis=axis)

    result = stats.bootstrap(
        (a, b), diff, n_resamples=n_resamples, paired=False, vectorized=True,
        confidence_level=1.0 - alpha, method="percentile", rng=rng,
        batch=max(1, _MAX_BATCH_ELEMENTS // max(a.size, b.size)),
    )
    low, high = result.confidence_interval
    return float(low), float(high)

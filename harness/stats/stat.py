"""The one definition of each statistic an SLO or a regression can be stated in.

Percentiles use numpy's default (linear interpolation), as ``harness.stats.summarize``
does, so a verdict's observed value equals the p95 printed in the summary table. The
names themselves are ``harness.records.Stat`` (a validated string) and ``StatName``.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numpy.typing import NDArray

from harness.records import Stat, StatName

__all__ = ["StatError", "check_stat", "compute", "compute_axis"]


class StatError(ValueError):
    pass


def check_stat(stat: str) -> Stat:
    """``stat`` as a ``Stat``; ``StatError`` naming the valid forms if it is none."""
    try:
        return Stat(stat)
    except ValueError as exc:
        raise StatError(str(exc)) from None


def compute_axis(stat: Stat, values: NDArray[np.float64], axis: int = -1) -> NDArray[np.float64]:
    """The statistic along ``axis`` (vectorised for the bootstrap)."""
    stat = check_stat(stat)
    named = stat.named
    if named is StatName.MAX:
        return np.asarray(np.max(values, axis=axis), dtype=np.float64)
    if named is StatName.MIN:
        return np.asarray(np.min(values, axis=axis), dtype=np.float64)
    if named in (StatName.MEAN, StatName.RATE):
        return np.asarray(np.mean(values, axis=axis), dtype=np.float64)
    percentile = stat.percentile
    assert percentile is not None  # a Stat is a StatName or a percentile
    return np.asarray(np.percentile(values, percentile, axis=axis), dtype=np.float64)


def compute(stat: Stat, values: Sequence[float]) -> float | None:
    """The statistic of ``values``; ``None`` for no values. ``rate`` needs 0/1 values."""
    if not values:
        return None
    arr = np.asarray(values, dtype=np.float64)
    if check_stat(stat).named is StatName.RATE and not np.isin(arr, (0.0, 1.0)).all():
        raise StatError("stat 'rate' needs a 0/1 metric")
    return float(compute_axis(stat, arr))

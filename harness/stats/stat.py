"""The one definition of each statistic an SLO or a regression can be stated in.

Percentiles use numpy's default (linear interpolation), as ``harness.stats.summarize``
does, so a verdict's observed value equals the p95 printed in the summary table.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import numpy as np
from numpy.typing import NDArray

__all__ = ["STAT_NAMES", "StatError", "check_stat", "compute", "compute_axis"]

STAT_NAMES = ("p50", "p90", "p95", "p99", "max", "min", "mean", "rate", "pNN")
_PCT = re.compile(r"^p(\d{1,2}(?:\.\d+)?)$")


class StatError(ValueError):
    pass


def check_stat(stat: str) -> str:
    if stat in ("max", "min", "mean", "rate") or _PCT.match(stat):
        return stat
    raise StatError(f"unknown stat {stat!r}; use p50, p90, p95, p99 (any pNN), max, min, mean or rate")


def compute_axis(stat: str, values: NDArray[np.float64], axis: int = -1) -> NDArray[np.float64]:
    """The statistic along ``axis`` (vectorised for the bootstrap)."""
    if stat == "max":
        return np.asarray(np.max(values, axis=axis), dtype=np.float64)
    if stat == "min":
        return np.asarray(np.min(values, axis=axis), dtype=np.float64)
    if stat in ("mean", "rate"):
        return np.asarray(np.mean(values, axis=axis), dtype=np.float64)
    match = _PCT.match(stat)
    if match is None:
        raise StatError(f"unknown stat {stat!r}")
    return np.asarray(np.percentile(values, float(match.group(1)), axis=axis), dtype=np.float64)


def compute(stat: str, values: Sequence[float]) -> float | None:
    """The statistic of ``values``; ``None`` for no values. ``rate`` needs 0/1 values."""
    if not values:
        return None
    arr = np.asarray(values, dtype=np.float64)
    if stat == "rate" and not np.isin(arr, (0.0, 1.0)).all():
        raise StatError("stat 'rate' needs a 0/1 metric")
    return float(compute_axis(stat, arr))

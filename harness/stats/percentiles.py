"""Per-metric percentiles with bootstrap confidence intervals (docs/metrics.md).

A p95 from twenty turns is a guess; the CI says how good a guess, which is what lets a
report (and the regression gate) tell a real change from noise. Percentiles use numpy's
default (linear interpolation); CIs of p50 and p95 come from ``scipy.stats.bootstrap``
with the percentile method, seeded per metric and group so a summary does not change
when other groups are added to the same run.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

import numpy as np
from numpy.typing import NDArray
from scipy import stats

from harness.records import Measurement, MetricSummary
from harness.stats.seeding import keyed_rng

__all__ = ["GROUP_FIELDS", "MIN_CI_SAMPLES", "group_label", "summarize"]

GROUP_FIELDS = ("metric", "scenario", "endpoint", "caller", "repeat", "turn", "call_id")
"""Measurement fields a summary can be grouped by."""

MIN_CI_SAMPLES = 5
"""Below this many values a bootstrap CI says nothing useful, so none is given."""

_MAX_BATCH_ELEMENTS = 5_000_000
"""Caps the bootstrap's working array (resamples x values) to keep memory bounded."""


def group_label(measurement: Measurement, by: Sequence[str]) -> str:
    """``all``, or ``scenario=smoke_hello`` / ``scenario=a,endpoint=b`` for the ``by`` fields."""
    parts = [f"{name}={getattr(measurement, name)}" for name in by if name != "metric"]
    return ",".join(parts) if parts else "all"


def summarize(
    measurements: Iterable[Measurement],
    *,
    by: Sequence[str] = ("metric",),
    seed: int = 0,
    n_resamples: int = 2000,
    confidence_level: float = 0.95,
) -> tuple[MetricSummary, ...]:
    """One summary per metric and group, sorted by metric then group label.

    Measurements are always grouped by metric (percentiles across metrics mean nothing);
    the other ``by`` fields split each metric further. ``None`` and NaN values are
    skipped (they are reasons, not numbers); a group with none left has ``n == 0`` and
    no percentiles.
    """
    unknown = [name for name in by if name not in GROUP_FIELDS]
    if unknown:
        raise ValueError(f"summarize: cannot group by {unknown}; choose from {list(GROUP_FIELDS)}")
    if n_resamples < 1:
        raise ValueError(f"summarize: n_resamples must be >= 1, got {n_resamples}")
    if not 0.0 < confidence_level < 1.0:
        raise ValueError(f"summarize: confidence_level must be in (0, 1), got {confidence_level}")
    units: dict[str, str] = {}
    groups: dict[tuple[str, str], list[float]] = {}
    for m in measurements:
        unit = units.setdefault(m.metric, m.unit)
        if unit != m.unit:
            raise ValueError(
                f"summarize: metric {m.metric!r} has mixed units {unit!r} and {m.unit!r} "
                f"(call {m.call_id}, turn {m.turn})"
            )
        values = groups.setdefault((m.metric, group_label(m, by)), [])
        if m.value is not None and not math.isnan(m.value):
            values.append(float(m.value))
    return tuple(
        _summary(
            metric,
            units[metric],
            label,
            np.asarray(values, dtype=np.float64),
            seed,
            n_resamples,
            confidence_level,
        )
        for (metric, label), values in sorted(groups.items())
    )


def _summary(
    metric: str,
    unit: str,
    group: str,
    values: NDArray[np.float64],
    seed: int,
    n_resamples: int,
    confidence_level: float,
) -> MetricSummary:
    n = int(values.size)
    if n == 0:
        return MetricSummary(
            metric=metric,
            unit=unit,
            group=group,
            n=0,
            p50=None,
            p90=None,
            p95=None,
            p99=None,
            max=None,
            mean=None,
        )
    p50, p90, p95, p99 = (float(v) for v in np.percentile(values, [50, 90, 95, 99]))
    p50_ci = p95_ci = None
    if n >= MIN_CI_SAMPLES:
        p50_ci, p95_ci = _bootstrap_cis(
            values, keyed_rng(seed, metric, group), n_resamples, confidence_level
        )
    return MetricSummary(
        metric=metric,
        unit=unit,
        group=group,
        n=n,
        p50=p50,
        p90=p90,
        p95=p95,
        p99=p99,
        max=float(values.max()),
        mean=float(values.mean()),
        p50_ci=p50_ci,
        p95_ci=p95_ci,
    )


def _p50_p95(sample: NDArray[np.float64], axis: int) -> NDArray[np.float64]:
    return np.asarray(np.percentile(sample, [50, 95], axis=axis), dtype=np.float64)


def _bootstrap_cis(
    values: NDArray[np.float64], rng: np.random.Generator, n_resamples: int, confidence_level: float
) -> tuple[tuple[float, float], tuple[float, float]]:
    result = stats.bootstrap(
        (values,),
        _p50_p95,
        n_resamples=n_resamples,
        batch=max(1, _MAX_BATCH_ELEMENTS // values.size),
        vectorized=True,
        confidence_level=confidence_level,
        method="percentile",
        rng=rng,
    )
    low, high = result.confidence_interval
    return (float(low[0]), float(high[0])), (float(low[1]), float(high[1]))

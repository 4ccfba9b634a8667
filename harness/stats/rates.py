"""Rates of 0/1 metrics (no_response, later cutoffs and false stops) with a Wilson CI.

A rate is the mean of a 0/1 metric, but "2 of 3" and "200 of 300" deserve different
confidence; the Wilson interval (``scipy.stats.binomtest``) stays sensible at 0 and 1,
where a normal approximation collapses to a point.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from scipy import stats

from harness.records import Measurement
from harness.stats.percentiles import GROUP_FIELDS, group_label

__all__ = ["Rate", "rates", "wilson_interval"]


@dataclass(frozen=True, slots=True, kw_only=True)
class Rate:
    metric: str
    group: str
    """``all`` or ``scenario=<id>`` etc., as in :func:`~harness.stats.percentiles.summarize`."""
    hits: int
    """Measurements with value 1."""
    n: int
    rate: float | None
    """``hits / n``; ``None`` when ``n == 0``."""
    ci: tuple[float, float] | None
    """Wilson interval at the requested confidence; ``None`` when ``n == 0``."""


def wilson_interval(hits: int, n: int, confidence_level: float = 0.95) -> tuple[float, float]:
    """The Wilson score interval of ``hits`` out of ``n`` (``scipy.stats.binomtest``).

    Refuses what is not a count (negative, ``hits > n``, ``n == 0``): an interval of
    nothing would be a made-up number on a report.
    """
    if n < 1 or hits < 0 or hits > n:
        raise ValueError(f"wilson_interval: need 0 <= hits <= n and n >= 1, got {hits} of {n}")
    if not 0.0 < confidence_level < 1.0:
        raise ValueError(f"wilson_interval: confidence_level must be in (0, 1), got {confidence_level}")
    ci = stats.binomtest(hits, n).proportion_ci(confidence_level=confidence_level, method="wilson")
    return float(ci.low), float(ci.high)


def rates(
    measurements: Iterable[Measurement],
    metric: str,
    *,
    by: Sequence[str] = (),
    confidence_level: float = 0.95,
) -> tuple[Rate, ...]:
    """The rate of ``metric`` (values 0/1) per group, sorted by group label.

    ``None``/NaN values are not counted; any other value than 0 or 1 is refused, since
    it means the metric is not a yes/no one.
    """
    unknown = [name for name in by if name not in GROUP_FIELDS]
    if unknown:
        raise ValueError(f"rates: cannot group by {unknown}; choose from {list(GROUP_FIELDS)}")
    counts: dict[str, list[int]] = {}
    for m in measurements:
        if m.metric != metric:
            continue
        tally = counts.setdefault(group_label(m, by), [0, 0])
        if m.value is None or math.isnan(m.value):
            continue
        if m.value not in (0.0, 1.0):
            raise ValueError(
                f"rates: metric {metric!r} has value {m.value} (call {m.call_id}, turn {m.turn}); "
                "a rate needs 0/1 values"
            )
        tally[0] += int(m.value)
        tally[1] += 1
    out = []
    for label, (hits, n) in sorted(counts.items()):
        if n == 0:
            out.append(Rate(metric=metric, group=label, hits=0, n=0, rate=None, ci=None))
            continue
        out.append(Rate(metric=metric, group=label, hits=hits, n=n, rate=hits / n,
                        ci=wilson_interval(hits, n, confidence_level)))
    return tuple(out)

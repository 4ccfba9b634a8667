"""Drift: does a metric trend up or down over a soak's windows, and by how much per hour?

Two classical, distribution-free tools on the per-window values (from scipy):

- the **Theil–Sen** slope (median of all pairwise slopes) with Sen's (1968)
  confidence interval: the size of the change, robust to outlying windows;
- the **Mann–Kendall** test (Kendall's tau-b of value against time, which handles the
  ties of rates that sit at 0 in most windows): whether there is a trend at all.

A drift verdict (``increasing`` / ``decreasing``) needs three things: the test's
two-sided p-value below ``alpha``, the slope's ``1 - alpha`` interval excluding zero,
*and* a change over the soak (slope times the span of the windows judged) larger than
the metric's tolerance. Under no trend the windows are exchangeable and the test alone
keeps false alarms at or below ``alpha``; the other two can only lower that. The
tolerance is what keeps a short soak honest: 4 ms of rise over 28 s is significant with
seven quiet windows, and reads "+504 ms/hour", but nobody's call got worse; the same
slope held for an hour is 504 ms and is flagged. The caller supplies tolerances (a
soak uses the regression table's, ``harness.slo.baseline``); the default is none.

Rates (the failure rate, cutoffs) sit at exactly 0 in most windows of a healthy soak;
once more than half of the window pairs tie, the Theil–Sen median slope is 0 whatever
happens in the rest, so a failure rate that steps from 0 to 100 % would read "+0 per
hour". Rates therefore get the least-squares slope with its t interval (still gated by
Mann–Kendall, so the false-alarm bound holds). Windows are assumed
independent: an endpoint whose latency wanders slowly (strong autocorrelation between
windows) can look like drift, which is what a soak should flag anyway.

Slopes are per hour of soak time, in the metric's unit (a rate's in fractions: +0.12
per hour is 12 percentage points).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import StrEnum

import numpy as np
from scipy import stats

from harness.stats.windows import WindowRow, series

__all__ = [
    "DEFAULT_ALPHA",
    "MIN_WINDOWS",
    "DriftEntry",
    "DriftVerdict",
    "Tolerance",
    "describe",
    "no_tolerance",
    "trend",
    "window_drift",
]

DEFAULT_ALPHA = 0.05
MIN_WINDOWS = 6
"""Fewer windows with a value than this: ``insufficient`` (with 5 or fewer points no
ordering reaches p < 0.05 two-sided without ties, so a verdict could never fire)."""

RSS_METRIC = ("harness_rss_mb", "last")
"""The harness's own resident memory, trended like any metric (a leak shows as drift)."""


class DriftVerdict(StrEnum):
    INCREASING = "increasing"
    DECREASING = "decreasing"
    STEADY = "steady"
    """No significant trend (not proof of none: see the interval)."""
    INSUFFICIENT = "insufficient"
    """Too few windows with a value to judge."""


@dataclass(frozen=True, slots=True, kw_only=True)
class DriftEntry:
    """One metric's trend over the windows; ``run.json`` holds these as ``drift``."""

    metric: str
    stat: str
    unit: str = ""
    slope_per_hour: float | None
    """Theil–Sen slope in the metric's unit per hour; ``None`` when insufficient."""
    ci: tuple[float, float] | None
    """Sen's ``confidence`` interval of the slope, per hour."""
    confidence: float = 1 - DEFAULT_ALPHA
    p_value: float | None
    """Mann–Kendall (Kendall's tau-b vs time), two-sided."""
    windows: int
    """Windows that had a value."""
    verdict: DriftVerdict
    text: str
    """For people: ``turn latency p50 +38 ms/hour [21, 55]``."""

    @property
    def drifting(self) -> bool:
        """Significant and larger than the tolerance: what the console and report flag."""
        return self.verdict in (DriftVerdict.INCREASING, DriftVerdict.DECREASING)

    @property
    def significant(self) -> bool:
        """A real trend, whatever its size: p below alpha and the interval clear of 0. An SLO
        rule's own ``max_drift_per_hour`` is judged on this, not on the size tolerance."""
        if self.p_value is None or self.ci is None:
            return False
        return _significant(self.p_value, *self.ci, alpha=1 - self.confidence)


@dataclass(frozen=True, slots=True, kw_only=True)
class Trend:
    slope: float
    low: float
    high: float
    p_value: float
    n: int
    span: float = 0.0
    """From the first window's mid-time to the last's, in the unit of ``times``."""
    level: float = 0.0
    """The median value: what a relative tolerance is relative to."""

    @property
    def change(self) -> float:
        """The slope carried over the span: how much the metric moved during the soak."""
        return self.slope * self.span


def trend(times: Sequence[float], values: Sequence[float], alpha: float = DEFAULT_ALPHA, *,
          least_squares: bool = False) -> Trend | None:
    """The slope (per unit of ``times``) with its ``1 - alpha`` interval, and the
    Mann–Kendall p-value; ``None`` with fewer than ``MIN_WINDOWS`` points or no spread in
    time. Theil–Sen with Sen's interval, or ``least_squares`` with the t interval."""
    x = np.asarray(times, dtype=np.float64)
    y = np.asarray(values, dtype=np.float64)
    keep = np.isfinite(x) & np.isfinite(y)
    x, y = x[keep], y[keep]
    if x.size < MIN_WINDOWS or np.ptp(x) == 0:
        return None
    span, level = float(np.ptp(x)), float(np.median(y))
    if np.ptp(y) == 0:  # a constant series: no trend, and tau is undefined
        return Trend(slope=0.0, low=0.0, high=0.0, p_value=1.0, n=int(x.size), span=span, level=level)
    if least_squares:
        fit = stats.linregress(x, y)
        half = float(stats.t.ppf(1 - alpha / 2, x.size - 2)) * float(fit.stderr)
        slope, low, high = float(fit.slope), float(fit.slope) - half, float(fit.slope) + half
    else:
        sen = stats.theilslopes(y, x, alpha=1 - alpha)
        slope, low, high = float(sen.slope), float(sen.low_slope), float(sen.high_slope)
    p = float(stats.kendalltau(x, y).pvalue)
    return Trend(slope=slope, low=low, high=high, p_value=p if math.isfinite(p) else 1.0, n=int(x.size),
                 span=span, level=level)


def _label(metric: str, stat: str) -> str:
    name = metric.removesuffix("_ms").removesuffix("_mb").replace("_", " ")
    if (metric, stat) == ("call_failed", "rate"):
        return "failure rate"
    return name if stat in ("rate", "last") else f"{name} {stat}"


def _number(x: float) -> str:
    magnitude = abs(x)
    if magnitude >= 10 or x == 0:
        return f"{x:.0f}"
    if magnitude >= 1:
        return f"{x:.1f}"
    return f"{x:.2g}"


def _significant(p_value: float, low: float, high: float, *, alpha: float) -> bool:
    """Mann–Kendall below ``alpha`` and the slope's interval clear of 0."""
    return p_value < alpha and (low > 0 or high < 0)


Tolerance = Callable[[str, str, float], float]
"""(metric, stat, median level) -> the smallest change over a soak worth calling drift."""


def no_tolerance(metric: str, stat: str, level: float) -> float:
    return 0.0


def describe(metric: str, stat: str, unit: str, t: Trend | None, alpha: float = DEFAULT_ALPHA,
             windows: int = 0, tolerance: float = 0.0) -> DriftEntry:
    """The entry (verdict and its sentence) for one metric's trend; ``tolerance`` is the
    smallest change over the windows' span (in the metric's unit) that counts as drift."""
    label = _label(metric, stat)
    if t is None:
        return DriftEntry(metric=metric, stat=stat, unit=unit, slope_per_hour=None, ci=None,
                          confidence=1 - alpha, p_value=None, windows=windows,
                          verdict=DriftVerdict.INSUFFICIENT,
                          text=f"{label}: {windows} window(s), need {MIN_WINDOWS} to judge drift")
    significant = _significant(t.p_value, t.low, t.high, alpha=alpha)
    large = abs(t.change) > tolerance
    if significant and large:
        verdict = DriftVerdict.INCREASING if t.slope > 0 else DriftVerdict.DECREASING
    else:
        verdict = DriftVerdict.STEADY
    scale, shown_unit = (100.0, "pp") if stat == "rate" else (1.0, unit)
    sign = "+" if t.slope * scale >= 0 else ""
    text = (f"{label} {sign}{_number(t.slope * scale)} {shown_unit}/hour "
            f"[{_number(t.low * scale)}, {_number(t.high * scale)}]").replace("  ", " ")
    if not significant:
        text += " (no significant drift)"
    elif not large:
        change_sign = "+" if t.change >= 0 else ""
        text += (f" (over {_duration(t.span)} it moved {change_sign}{_number(t.change * scale)} {shown_unit},"
                 f" within the {_number(tolerance * scale)} {shown_unit} tolerance)").replace("  ", " ")
    return DriftEntry(metric=metric, stat=stat, unit=unit, slope_per_hour=t.slope, ci=(t.low, t.high),
                      confidence=1 - alpha, p_value=t.p_value, windows=t.n, verdict=verdict, text=text)


def _duration(hours: float) -> str:
    seconds = hours * 3600
    return f"{seconds:.0f} s" if seconds < 120 else f"{seconds / 60:.0f} min" if seconds < 7200 else f"{hours:.1f} h"


def window_drift(rows: Sequence[WindowRow], alpha: float = DEFAULT_ALPHA,
                 include_partial: bool = False, tolerance: Tolerance = no_tolerance) -> list[DriftEntry]:
    """One entry per (metric, stat) the windows carry, plus the harness's RSS.

    A window cut short by a stop is left out unless ``include_partial``: its statistics
    rest on fewer calls and its end is not on the window grid.
    """
    used = [r for r in rows if r.complete or include_partial]
    keys: dict[tuple[str, str], str] = {}
    for row in used:
        for m in row.metrics:
            keys.setdefault((m.metric, m.stat), m.unit)
    out = []
    for (metric, stat), unit in keys.items():
        times, values = series(used, metric, stat)
        t = trend(times, values, alpha, least_squares=stat == "rate")
        out.append(describe(metric, stat, unit, t, alpha, len(values), _tolerance_of(tolerance, metric, stat, t)))
    rss_times = [r.mid_hours for r in used if r.process.rss_mb is not None]
    rss_values = [r.process.rss_mb for r in used if r.process.rss_mb is not None]
    if rss_values:
        t = trend(rss_times, rss_values, alpha)
        out.append(describe(*RSS_METRIC, "MB", t, alpha, len(rss_values), _tolerance_of(tolerance, *RSS_METRIC, t)))
    return out


def _tolerance_of(tolerance: Tolerance, metric: str, stat: str, t: Trend | None) -> float:
    return tolerance(metric, stat, t.level) if t is not None else 0.0

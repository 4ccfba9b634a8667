"""Per-window rows and the running summary of a soak, in memory that never grows.

``WindowAccumulator`` is told when calls start and end (with their scored result) and
closes a ``WindowRow`` each time its clock passes a window boundary (windows with no
calls too: a stalled soak shows as empty windows, not as a gap). Metric statistics
come from HdrHistograms that are reset per window; the running summary merges them
into one histogram per metric and group, so memory depends on the number of metrics,
never on the number of calls or hours.

Disturbed calls (the validity guard's verdict) are counted, and left out of every
metric statistic: a slow harness must never look like a slower endpoint. A call is
counted in the window in which the accumulator hears of it (its start; its scored
result), on the injected clock, so tests drive hours of windows in milliseconds.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass

from harness.records import CallResult, CallValidity, Measurement, MetricSummary
from harness.stats.histogram import MetricHistogram
from harness.stats.windows import FAILURE_RATE, ProcessFigures, WindowMetric, WindowRow

__all__ = ["WINDOW_STATS", "Rolling", "WindowAccumulator", "histogram_for"]

WINDOW_STATS: dict[str, tuple[str, ...]] = {
    "turn_latency_ms": ("p50", "p95", "p99"),
    "barge_in_stop_ms": ("p50",),
    "cutoff": ("rate",),
    "pesq_wb": ("mean",),
    "reply_wer": ("mean",),
}
"""The metric statistics every window carries (when its calls produced any), besides
the failure rate."""

SUMMARY_GROUPS = ("endpoint", "caller")

_SCALES = {"ms": (10.0, 600_000.0), "bool": (1.0, 1.0), "mos": (1000.0, 10.0),
           "ratio": (1000.0, 100.0)}


def histogram_for(unit: str) -> MetricHistogram:
    """A histogram whose resolution suits the unit (0.1 ms, 0.001 for MOS and ratios; and
    3 significant digits above 2048 units)."""
    scale, highest = _SCALES.get(unit, (100.0, 1_000_000.0))
    return MetricHistogram(scale=scale, highest=highest)


def _stats(hist: MetricHistogram, stats: tuple[str, ...]) -> dict[str, float | None]:
    out: dict[str, float | None] = {s: hist.mean() for s in stats if s in ("mean", "rate")}
    pcts = {s: float(s.removeprefix("p")) for s in stats if s not in out}
    found = hist.percentiles(pcts.values())
    out.update({s: found[q] for s, q in pcts.items()})
    return out


@dataclass(frozen=True, slots=True, kw_only=True)
class Rolling:
    """What the live view shows: totals so far and the last stretch of the soak."""

    elapsed_s: float
    started: int
    completed: int
    failed: int
    disturbed: int
    skipped: int
    active: int
    calls_per_min: float
    """Ended calls per minute over the current and previous window."""
    failures: dict[str, int]
    latency_p50_ms: float | None
    latency_p95_ms: float | None
    """Turn latency over the current and previous window (undisturbed calls)."""


class _Window:
    """Counters and histograms of the open window."""

    def __init__(self) -> None:
        self.started = self.completed = self.failed = self.disturbed = self.skipped = 0
        self.failures: Counter[str] = Counter()
        self.hists: dict[str, MetricHistogram] = {}
        self.units: dict[str, str] = {}
        self.loop_lag_p99: float | None = None

    def add(self, m: Measurement) -> None:
        if m.value is None or math.isnan(m.value) or m.metric not in WINDOW_STATS:
            return
        hist = self.hists.get(m.metric)
        if hist is None:
            hist = self.hists[m.metric] = histogram_for(m.unit)
            self.units[m.metric] = m.unit
        hist.record(m.value)


class WindowAccumulator:
    """Turns a stream of call starts and results into window rows and a running summary."""

    def __init__(self, clock: Callable[[], float], window_s: float = 60.0,
                 origin_ns: Callable[[], int | None] | None = None) -> None:
        """``clock``: seconds since the soak started (the soak's injected clock);
        ``origin_ns``: CLOCK_MONOTONIC of its time 0, when that clock is the real one."""
        if window_s <= 0:
            raise ValueError("window_s must be positive")
        self.clock = clock
        self.window_s = window_s
        self.origin_ns = origin_ns
        self.index = 0
        self.active = 0
        self._open = _Window()
        self._previous = _Window()
        self._totals = Counter[str]()
        self._failures: Counter[str] = Counter()
        self._summary: dict[tuple[str, str], MetricHistogram] = {}
        self._summary_units: dict[str, str] = {}

    # -------------------------------------------------------------- events

    def started(self) -> None:
        self._open.started += 1
        self._totals["started"] += 1
        self.active += 1

    def skipped(self) -> None:
        """An open-model arrival that was not started (too many calls in flight)."""
        self._open.skipped += 1
        self._totals["skipped"] += 1

    def ended(self, result: CallResult, validity: CallValidity | None = None) -> None:
        """A call's scored result (its failure, if any, and its measurements)."""
        window = self._open
        self.active = max(0, self.active - 1)
        if result.failure is not None:
            window.failed += 1
            window.failures[str(result.failure.kind)] += 1
            self._failures[str(result.failure.kind)] += 1
            self._totals["failed"] += 1
        else:
            window.completed += 1
            self._totals["completed"] += 1
        if validity is not None and validity.loop_lag_p99_ms is not None:
            window.loop_lag_p99 = max(window.loop_lag_p99 or 0.0, validity.loop_lag_p99_ms)
        if validity is not None and validity.disturbed:
            window.disturbed += 1
            self._totals["disturbed"] += 1
            return
        for m in result.measurements:
            window.add(m)
            self._add_to_summary(m)

    def _add_to_summary(self, m: Measurement) -> None:
        if m.value is None or math.isnan(m.value):
            return
        unit = self._summary_units.setdefault(m.metric, m.unit)
        if unit != m.unit:
            return  # a metric's unit never changes within one harness version
        group = ",".join(f"{name}={getattr(m, name)}" for name in SUMMARY_GROUPS)
        hist = self._summary.get((m.metric, group))
        if hist is None:
            hist = self._summary[(m.metric, group)] = histogram_for(unit)
        hist.record(m.value)

    # -------------------------------------------------------------- windows

    @property
    def window_end(self) -> float:
        return (self.index + 1) * self.window_s

    def due(self) -> bool:
        return self.clock() >= self.window_end

    def close_due(self, figures: Callable[[], tuple[ProcessFigures, int | None]]) -> list[WindowRow]:
        """Close every window whose end the clock has passed (several after a stall, the
        later ones empty); ``figures`` gives the process figures and disk use at the close."""
        rows: list[WindowRow] = []
        while self.due():
            process, disk = figures()
            rows.append(self._close(self.window_end, complete=True, process=process, disk=disk))
        return rows

    def finish(self, process: ProcessFigures, disk_bytes: int | None) -> WindowRow | None:
        """The last, partial window at a stop (``None`` if it has not begun)."""
        now = self.clock()
        start = self.index * self.window_s
        if now <= start and not self._has_events(self._open):
            return None
        return self._close(max(now, start), complete=False, process=process, disk=disk_bytes)

    @staticmethod
    def _has_events(w: _Window) -> bool:
        return bool(w.started or w.completed or w.failed or w.skipped)

    def _close(self, end: float, *, complete: bool, process: ProcessFigures,
               disk: int | None) -> WindowRow:
        w = self._open
        metrics = []
        for metric, stats in WINDOW_STATS.items():
            hist = w.hists.get(metric)
            if hist is not None:
                values = _stats(hist, stats)
                metrics += [WindowMetric(metric=metric, stat=s, value=values[s], n=hist.count,
                                         unit=w.units[metric]) for s in stats]
        ended = w.completed + w.failed
        metrics.append(WindowMetric(metric=FAILURE_RATE[0], stat=FAILURE_RATE[1],
                                    value=w.failed / ended if ended else None, n=ended))
        origin = self.origin_ns() if self.origin_ns is not None else None
        start_s = self.index * self.window_s
        row = WindowRow(
            index=self.index, start_s=start_s, end_s=end, complete=complete,
            start_monotonic_ns=None if origin is None else origin + round(start_s * 1e9),
            calls_started=w.started, calls_completed=w.completed, calls_failed=w.failed,
            calls_disturbed=w.disturbed, calls_skipped=w.skipped, active=self.active,
            failures=dict(sorted(w.failures.items())), metrics=tuple(metrics),
            caller_loop_lag_p99_ms=w.loop_lag_p99, process=process, disk_bytes=disk,
        )
        self.index += 1
        self._previous, self._open = w, _Window()
        return row

    # -------------------------------------------------------------- summaries

    def rolling(self) -> Rolling:
        now = self.clock()
        recent = (self._previous, self._open)
        latency = histogram_for("ms")
        for w in recent:
            if "turn_latency_ms" in w.hists:
                latency.add(w.hists["turn_latency_ms"])
        span_s = (now - self.index * self.window_s) + (self.window_s if self.index else 0.0)
        ended = sum(w.completed + w.failed for w in recent)
        p = latency.percentiles((50, 95))
        return Rolling(
            elapsed_s=now, started=self._totals["started"], completed=self._totals["completed"],
            failed=self._totals["failed"], disturbed=self._totals["disturbed"],
            skipped=self._totals["skipped"], active=self.active,
            calls_per_min=ended / span_s * 60.0 if span_s > 0 else 0.0,
            failures=dict(self._failures), latency_p50_ms=p[50], latency_p95_ms=p[95],
        )

    def percentile(self, metric: str, q: float, min_values: int = 1) -> float | None:
        """A metric's running percentile over every group so far (for outlier calls);
        ``None`` until it has ``min_values`` values."""
        merged: MetricHistogram | None = None
        for (name, _), hist in self._summary.items():
            if name == metric:
                if merged is None:
                    merged = hist.empty_like()
                merged.add(hist)
        if merged is None or merged.count < max(1, min_values):
            return None
        return merged.percentile(q)

    def summary(self) -> list[MetricSummary]:
        """The whole soak so far, per metric and group, from the merged histograms (no
        bootstrap CIs: the values themselves are not kept)."""
        out = []
        for (metric, group), hist in sorted(self._summary.items()):
            p = hist.percentiles((50, 90, 95, 99))
            out.append(MetricSummary(
                metric=metric, unit=self._summary_units[metric], group=group, n=hist.count,
                p50=p[50], p90=p[90], p95=p[95], p99=p[99], max=hist.max(), mean=hist.mean(),
            ))
        return out

    def totals(self) -> dict[str, int]:
        return {k: self._totals[k] for k in ("started", "completed", "failed", "disturbed", "skipped")}

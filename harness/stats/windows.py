"""The records of a soak's time series: one ``WindowRow`` per window (``windows.jsonl``).

They live in ``stats`` (below ``store``, ``slo`` and ``report``) because all of those
read them: the run folder writes and reads the lines, drift is computed from them, the
gate and the HTML report use both. Each window says what happened in it, so a reader
can follow an endpoint (and the harness itself) over hours without any per-call data.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from harness.records import SCHEMA_VERSION

__all__ = ["FAILURE_RATE", "ProcessFigures", "WindowMetric", "WindowRow", "series"]

FAILURE_RATE = ("call_failed", "rate")
"""(metric, stat) of the share of the window's ended calls that failed."""


@dataclass(frozen=True, slots=True, kw_only=True)
class WindowMetric:
    """One statistic of one metric over a window's undisturbed calls."""

    metric: str
    """A measurement name (``turn_latency_ms``) or ``call_failed`` for the failure rate."""
    stat: str
    """p50 | p95 | p99 | mean | rate."""
    value: float | None
    """``None`` when the window had no value of the metric."""
    n: int
    """Values behind it (calls for ``call_failed``)."""
    unit: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class ProcessFigures:
    """The harness's own footprint at the end of a window, read from /proc."""

    rss_mb: float | None = None
    """Resident memory of the harness's main process."""
    children_rss_mb: float | None = None
    """Summed resident memory of its child processes (caller workers, browsers)."""
    open_fds: int | None = None
    threads: int | None = None
    """Native threads of the main process."""
    loop_lag_max_ms: float | None = None
    """How late the main process's event loop woke a periodic probe, worst in the window."""


@dataclass(frozen=True, slots=True, kw_only=True)
class WindowRow:
    """One window of a soak (``windows.jsonl`` has one line per row).

    Calls are counted in the window where they started (``calls_started``) and in the
    window where they ended (everything else): ``completed + failed`` over all windows
    equals ``started`` once no call is in flight.
    """

    schema_version: int = SCHEMA_VERSION
    index: int
    start_s: float
    """Seconds since the soak started."""
    end_s: float
    start_monotonic_ns: int | None = None
    """CLOCK_MONOTONIC of the window's start, so host-local ground truth (the reference
    agent's log) lines up with the windows exactly."""
    complete: bool = True
    """False for the last window of a stopped soak, cut short by the stop."""
    calls_started: int = 0
    calls_completed: int = 0
    """Ended with a recording and no failure."""
    calls_failed: int = 0
    """Ended with a failure (its kind counted in ``failures``)."""
    calls_disturbed: int = 0
    """Ended calls the validity guard marked as disturbed by the harness: counted here,
    left out of the window's metric statistics."""
    calls_skipped: int = 0
    """Open model: arrivals not started because ``max_active`` calls were in flight."""
    active: int = 0
    """Calls started and not yet counted as ended at the end of the window: in flight,
    or ended and waiting for their score."""
    failures: dict[str, int] = field(default_factory=dict)
    """Failure kind -> count."""
    metrics: tuple[WindowMetric, ...] = ()
    caller_loop_lag_p99_ms: float | None = None
    """Worst loop-lag p99 the window's calls recorded in their caller workers."""
    process: ProcessFigures = field(default_factory=ProcessFigures)
    disk_bytes: int | None = None
    """Bytes the run folder's calls took so far (cumulative)."""

    @property
    def calls_ended(self) -> int:
        return self.calls_completed + self.calls_failed

    @property
    def mid_hours(self) -> float:
        return (self.start_s + self.end_s) / 2 / 3600.0

    def value(self, metric: str, stat: str) -> float | None:
        for m in self.metrics:
            if m.metric == metric and m.stat == stat:
                return m.value
        return None


def series(rows: Sequence[WindowRow], metric: str, stat: str) -> tuple[list[float], list[float]]:
    """(window mid-times in hours, values) of one statistic, windows without a value left out."""
    times: list[float] = []
    values: list[float] = []
    for row in rows:
        value = row.value(metric, stat)
        if value is not None:
            times.append(row.mid_hours)
            values.append(value)
    return times, values

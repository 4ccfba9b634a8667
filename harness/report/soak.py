"""The soak part of a report: time series over the windows and the drift verdicts.

Rendered only for run folders that have ``windows.jsonl``. Everything comes from the
windows themselves (percentiles per window, counts, the harness's own figures), so a
soak killed mid-way reports every window that closed before it.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from harness.stats.drift import DriftEntry
from harness.stats.windows import WindowRow

__all__ = ["SoakView", "soak_series_png", "soak_view"]


@dataclass(frozen=True, slots=True, kw_only=True)
class SoakView:
    """What the HTML template shows for a soak."""

    windows: int
    complete: int
    span_s: float
    started: int
    completed: int
    failed: int
    disturbed: int
    skipped: int
    failures: dict[str, int]
    drift: tuple[DriftEntry, ...]
    series_png: bytes
    last_rss_mb: float | None
    disk_mb: float | None


def _png(fig: Figure, dpi: int = 80) -> bytes:
    FigureCanvasAgg(fig)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi)
    return buf.getvalue()


def _values(rows: Sequence[WindowRow], metric: str, stat: str) -> np.ndarray:
    return np.array([np.nan if (v := r.value(metric, stat)) is None else v for r in rows], dtype=float)


def soak_series_png(rows: Sequence[WindowRow]) -> bytes:
    """Turn latency p50/p95, failure rate (and disturbed calls) and RSS per window."""
    minutes = np.array([r.end_s / 60.0 for r in rows])
    fig = Figure(figsize=(9, 7), layout="constrained")
    lat, fail, mem = fig.subplots(3, 1, sharex=True)
    for stat, style in (("p50", "-o"), ("p95", "--o")):
        lat.plot(minutes, _values(rows, "turn_latency_ms", stat), style, ms=3, label=f"turn latency {stat}")
    lat.set_ylabel("ms")
    lat.legend(fontsize="small", loc="upper left")
    lat.set_title("per window (undisturbed calls)", fontsize="small")
    rate = _values(rows, "call_failed", "rate") * 100
    fail.plot(minutes, rate, "-o", ms=3, color="#c5221f", label="failure rate")
    fail.set_ylabel("% of ended calls")
    disturbed = np.array([r.calls_disturbed for r in rows], dtype=float)
    if disturbed.any():
        twin = fail.twinx()
        twin.bar(minutes, disturbed, width=0.6 * (minutes[1] - minutes[0]) if len(rows) > 1 else 0.5,
                 color="#b06000", alpha=0.4, label="disturbed calls")
        twin.set_ylabel("disturbed calls")
    fail.legend(fontsize="small", loc="upper left")
    rss = np.array([np.nan if r.process.rss_mb is None else r.process.rss_mb for r in rows])
    children = np.array([np.nan if r.process.children_rss_mb is None else r.process.children_rss_mb
                         for r in rows])
    mem.plot(minutes, rss, "-o", ms=3, label="harness RSS")
    if np.nansum(children) > 0:
        mem.plot(minutes, children, "--o", ms=3, label="child processes RSS")
    mem.set_ylabel("MB")
    mem.set_xlabel("minutes since the soak started (window end)")
    mem.legend(fontsize="small", loc="upper left")
    for ax in (lat, fail, mem):
        ax.grid(alpha=0.3)
    return _png(fig)


def soak_view(rows: Sequence[WindowRow], drift: Sequence[DriftEntry]) -> SoakView | None:
    if not rows:
        return None
    failures: dict[str, int] = {}
    for r in rows:
        for kind, n in r.failures.items():
            failures[kind] = failures.get(kind, 0) + n
    disk = next((r.disk_bytes for r in reversed(rows) if r.disk_bytes is not None), None)
    return SoakView(
        windows=len(rows), complete=sum(r.complete for r in rows), span_s=rows[-1].end_s,
        started=sum(r.calls_started for r in rows), completed=sum(r.calls_completed for r in rows),
        failed=sum(r.calls_failed for r in rows), disturbed=sum(r.calls_disturbed for r in rows),
        skipped=sum(r.calls_skipped for r in rows), failures=failures, drift=tuple(drift),
        series_png=soak_series_png(rows), last_rss_mb=rows[-1].process.rss_mb,
        disk_mb=None if disk is None else disk / 1e6,
    )

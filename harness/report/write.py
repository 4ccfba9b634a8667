"""Every report of a run folder from the folder alone: ``write_reports``.

Called by the run lifecycle after the gate (``harness.gate.gate_and_report``) and by
``voice-harness report RUN``.
Timelines are drawn once per call and shared by the HTML page and Allure; only for
the calls a reader looks at first (failed, then slowest; capped by
:class:`ReportSettings`), in a small process pool when that is safe, so a 200-call soak reports in
seconds. A call whose audio cannot be read is reported without a timeline rather
than stopping the other reports.
"""

from __future__ import annotations

import logging
import math
import multiprocessing
import threading
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from multiprocessing.context import BaseContext
from pathlib import Path

import numpy as np

from harness.analysis.timeline import build_timeline
from harness.records import Measurement, SegmentationParams, Verdict
from harness.report.allure import write_allure
from harness.report.context import CallEntry, ReportContext, read_context
from harness.report.html import write_html
from harness.report.junit import write_junit
from harness.report.markdown import write_markdown
from harness.report.overview import overview
from harness.report.plots import timeline_png
from harness.report.settings import ReportSettings
from harness.slo.baseline import MetricRow
from harness.slo.evaluate import gate_failed
from harness.store.run_folder import RunFolderError, load_recording

__all__ = ["ReportPaths", "ReportSettings", "draw_timelines", "timeline_calls", "write_reports"]

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True, kw_only=True)
class ReportPaths:
    junit: Path
    allure: Path
    html: Path
    markdown: Path
    verdicts: tuple[Verdict, ...] = ()
    gate_failed: bool = False


def _worst_latency(call: CallEntry) -> float:
    values = [m.value for m in call.measurements
              if m.value is not None and m.metric.endswith("latency_ms") and not math.isnan(m.value)]
    return max(values, default=-math.inf)


def timeline_calls(ctx: ReportContext, max_timelines: int) -> list[CallEntry]:
    """The calls that get a timeline: failed first, then slowest (worst turn latency).

    A reader of a big run opens the failures and the tail; those are the pictures
    worth drawing when there is no time to draw all of them.
    """
    drawable = [c for c in ctx.calls if c.recording is not None]
    ranked = sorted(drawable, key=lambda c: (c.ok, -_worst_latency(c)))
    return ranked[:max_timelines]


def _draw_one(call_dir: Path, measurements: tuple[Measurement, ...], params: SegmentationParams,
              dpi: int) -> bytes | None:
    """One call's timeline from its folder; ``None`` when its audio cannot be read.

    Module-level and fed only picklable records, so it runs in a pool worker.
    """
    try:
        rec, caller, received = load_recording(call_dir, dtype="float32")
        rx = np.asarray(received, dtype=np.float32)
        timeline = None
        if rx.size and rec.received_anchors:
            try:
                timeline = build_timeline(rec, rx, params, np.asarray(caller, dtype=np.float32))
            except ValueError:
                timeline = None
        return timeline_png(rec, np.asarray(caller), rx, timeline, measurements, dpi=dpi)
    except (RunFolderError, OSError, ValueError):
        return None


def _draw_serial(jobs: list[tuple[str, Path, tuple[Measurement, ...]]], params: SegmentationParams,
                 dpi: int) -> dict[str, bytes]:
    out: dict[str, bytes] = {}
    for cid, path, ms in jobs:
        png = _draw_one(path, ms, params, dpi)
        if png is not None:
            out[cid] = png
    return out


def _pool_context() -> BaseContext | None:
    """A start method that needs no ``if __name__ == "__main__"`` guard, or ``None``.

    fork is used only while this process has one thread: a thread left by the finished
    run (aiortc, executors, an agent's log reader) could hold a lock the child would
    inherit held. spawn/forkserver would re-import the caller's main script, which a
    user's unguarded script does not survive. Otherwise: draw in this process.
    """
    if threading.active_count() != 1 or "fork" not in multiprocessing.get_all_start_methods():
        return None
    return multiprocessing.get_context("fork")


def _draw_pooled(jobs: list[tuple[str, Path, tuple[Measurement, ...]]], params: SegmentationParams,
                 dpi: int, workers: int, mp: BaseContext) -> dict[str, bytes]:
    out: dict[str, bytes] = {}
    with ProcessPoolExecutor(max_workers=workers, mp_context=mp) as pool:
        futures = {cid: pool.submit(_draw_one, path, ms, params, dpi) for cid, path, ms in jobs}
        for cid, fut in futures.items():
            png = fut.result()
            if png is not None:
                out[cid] = png
    return out


def draw_timelines(ctx: ReportContext, params: SegmentationParams | None = None,
                   settings: ReportSettings | None = None) -> dict[str, bytes]:
    """call id -> timeline PNG for the calls :func:`timeline_calls` picks."""
    settings = settings or ReportSettings()
    params = params or (ctx.info.segmentation if ctx.info else SegmentationParams())
    jobs = [(c.call_id, c.path, c.measurements) for c in timeline_calls(ctx, settings.max_timelines)]
    workers = min(settings.effective_workers, len(jobs))
    mp = _pool_context() if workers > 1 and len(jobs) >= settings.pool_min_timelines else None
    if mp is not None:
        try:
            return _draw_pooled(jobs, params, settings.timeline_dpi, workers, mp)
        except (BrokenProcessPool, OSError) as exc:  # no pool here (sandbox, fd limit): draw inline
            log.warning("timeline pool unavailable (%s); drawing in this process", exc)
    return _draw_serial(jobs, params, settings.timeline_dpi)


def write_reports(
    run_dir: Path,
    *,
    rows: tuple[MetricRow, ...] = (),
    baseline: Path | None = None,
    settings: ReportSettings | None = None,
) -> ReportPaths:
    """Render junit, allure, html and markdown from the run folder alone.

    The verdicts shown are the ones in run.json: gating (``harness.gate``) runs first and
    stores them there, so rendering never decides anything. ``rows`` and ``baseline``
    add the baseline comparison table when a gate compared against one.
    """
    settings = settings or ReportSettings()
    ctx = read_context(run_dir, None, rows, baseline, include_disturbed=settings.include_disturbed)
    timelines = draw_timelines(ctx, settings=settings)
    view = overview(ctx)
    return ReportPaths(
        junit=write_junit(ctx),
        allure=write_allure(ctx, timelines),
        html=write_html(ctx, timelines, max_timelines=settings.max_timelines, view=view),
        markdown=write_markdown(ctx, view=view),
        verdicts=ctx.verdicts,
        gate_failed=gate_failed(ctx.verdicts),
    )

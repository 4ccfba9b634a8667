"""Every report of a run folder from the folder alone: ``write_reports``.

Called at the end of ``run`` and ``rescore``, and by ``voice-harness report RUN``.
Timelines are drawn once per call and shared by the HTML page and Allure. A call
whose audio cannot be read is reported without a timeline rather than stopping the
other reports.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from harness.analysis.timeline import build_timeline
from harness.records import SegmentationParams, Verdict
from harness.report.allure import write_allure
from harness.report.context import ReportContext, read_context
from harness.report.html import write_html
from harness.report.junit import write_junit
from harness.report.markdown import write_markdown
from harness.report.plots import timeline_png
from harness.report.run_folder import RunFolderError, load_recording
from harness.slo.baseline import MetricRow
from harness.slo.rules import SloFile

__all__ = ["ReportPaths", "draw_timelines", "write_reports"]


@dataclass(frozen=True, slots=True, kw_only=True)
class ReportPaths:
    junit: Path
    allure: Path
    html: Path
    markdown: Path
    verdicts: tuple[Verdict, ...] = ()
    gate_failed: bool = False


def draw_timelines(ctx: ReportContext, params: SegmentationParams | None = None) -> dict[str, bytes]:
    params = params or (ctx.info.segmentation if ctx.info else SegmentationParams())
    out: dict[str, bytes] = {}
    for call in ctx.calls:
        if call.recording is None:
            continue
        try:
            rec, caller, received = load_recording(call.path, dtype="float32")
            rx = np.asarray(received, dtype=np.float32)
            timeline = None
            if rx.size and rec.received_anchors:
                try:
                    timeline = build_timeline(rec, rx, params)
                except ValueError:
                    timeline = None
            out[call.call_id] = timeline_png(rec, np.asarray(caller), rx, timeline, call.measurements)
        except (RunFolderError, OSError, ValueError):
            continue
    return out


def write_reports(
    run_dir: Path,
    *,
    slo: SloFile | Path | None = None,
    baseline: Path | None = None,
) -> ReportPaths:
    """Gate (when ``slo``/``baseline`` are given) and write junit, allure, html and markdown.

    Without them the verdicts already in run.json (from an earlier gate) are shown.
    Raises ``harness.gate.GateError`` for an unreadable SLO file or baseline.
    """
    from harness.gate import gate_run, load_slo

    rows: tuple[MetricRow, ...] = ()
    verdicts = None
    if slo is not None or baseline is not None:
        slo_file = load_slo(slo) if isinstance(slo, Path) else slo
        result = gate_run(run_dir, slo_file, baseline)
        verdicts, rows = result.verdicts, result.rows
    ctx = read_context(run_dir, verdicts, rows, baseline)
    timelines = draw_timelines(ctx)
    paths = ReportPaths(
        junit=write_junit(ctx),
        allure=write_allure(ctx, timelines),
        html=write_html(ctx, timelines),
        markdown=write_markdown(ctx),
        verdicts=ctx.verdicts,
        gate_failed=any(v.status == "fail" for v in ctx.verdicts),
    )
    return paths

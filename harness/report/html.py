"""index.html: one self-contained page (inline CSS/JS, images as data: URIs).

Audio players point at the WAVs beside the page in the run folder (relative paths),
so the page opens from disk with no network and stays small for a 200-call run.
Jinja2 autoescaping is on for everything: transcripts, error messages and event data
come from the endpoint and may contain markup.
"""

from __future__ import annotations

import base64
import functools
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import jinja2
import markupsafe

from harness.fmt import fmt_value
from harness.records import EventKind, Measurement
from harness.report.comparison import CHANGE_WORDS
from harness.report.context import CallEntry, ReportContext
from harness.report.figures import ci_text, diff_text, figure_text, op_text
from harness.report.network import PANELS, network_section
from harness.report.overview import Overview, overview
from harness.report.plots import cdf_png, cutoff_curve_png, cutoff_points
from harness.report.regions import region_latency
from harness.report.soak import soak_view

__all__ = ["INDEX_HTML", "render_html", "write_html"]

INDEX_HTML = "index.html"
_TEMPLATES = Path(__file__).with_name("templates")
_TRANSCRIPTS = (EventKind.INPUT_TRANSCRIPT, EventKind.OUTPUT_TRANSCRIPT)

_env = jinja2.Environment(
    loader=jinja2.FileSystemLoader(_TEMPLATES),
    autoescape=True,
    undefined=jinja2.StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)


def _data_uri(png: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


_env.filters["num"] = functools.partial(fmt_value, ms_decimals=1)
_env.filters["fig"] = figure_text
_env.filters["ci"] = ci_text
_env.filters["diff"] = diff_text
_env.filters["op"] = op_text


@functools.cache
def _page_script() -> markupsafe.Markup:
    """The page's filter script (``templates/report.js``, type-checked by ``make lint``),
    inlined so the page stays one self-contained file."""
    text = (_TEMPLATES / "report.js").read_text(encoding="utf-8")
    if "</script" in text.lower():
        raise ValueError("templates/report.js must not contain '</script'")
    return markupsafe.Markup(text)


@dataclass(frozen=True, slots=True, kw_only=True)
class _Plot:
    title: str
    src: str


def _latency_plots(measurements: Sequence[Measurement]) -> list[_Plot]:
    metrics = sorted({m.metric for m in measurements if m.unit == "ms"},
                     key=lambda n: ("latency" not in n, n))
    plots = []
    for metric in metrics:
        groups: dict[str, list[float]] = {}
        unit = "ms"
        for m in measurements:
            if m.metric == metric and m.value is not None:
                groups.setdefault(f"{m.endpoint}/{m.caller}", []).append(m.value)
        if groups:
            plots.append(_Plot(title=f"{metric}: CDF per endpoint/caller",
                               src=_data_uri(cdf_png(metric, unit, groups))))
    return plots


def _call_view(call: CallEntry, run_dir: Path, timeline: bytes | None) -> dict[str, object]:
    rec = call.recording
    transcripts = []
    events = []
    if rec is not None:
        for ev in rec.events:
            text = " ".join(str(v) for k, v in ev.data.items() if k in ("transcript", "text", "delta"))
            if ev.kind in _TRANSCRIPTS and text:
                transcripts.append({"t": ev.t_ns / 1e9, "who": "caller" if ev.kind == EventKind.INPUT_TRANSCRIPT else "agent", "text": text})
            events.append({"t": ev.t_ns / 1e9, "kind": str(ev.kind), "vendor": ev.vendor_type,
                           "data": json.dumps(ev.data, ensure_ascii=False)[:500]})
    audio = []
    for name in ("mix.flac", "caller.flac", "received.flac", "mix.wav", "caller.wav", "received.wav"):
        if (call.path / name).is_file():
            audio.append({"name": name, "src": (call.path / name).relative_to(run_dir).as_posix()})
    failure = None
    if rec is not None and rec.failure is not None:
        failure = f"{rec.failure.kind}: {rec.failure.reason}"
    elif call.error:
        failure = call.error
    status = ("ok" if call.ok else "failed") + (" disturbed" if call.disturbed else "")
    return {
        "status": "disturbed" if status == "ok disturbed" else status,
        "id": call.call_id,
        "scenario": rec.scenario_id if rec else (call.measurements[0].scenario if call.measurements else ""),
        "endpoint": rec.endpoint if rec else (call.measurements[0].endpoint if call.measurements else ""),
        "caller": str(rec.caller) if rec else "",
        "ok": call.ok and not call.disturbed,
        "disturbed": call.validity_text if call.disturbed else None,
        "failure": failure,
        "measurements": call.measurements,
        "transcripts": transcripts,
        "events": events[:200],
        "audio": audio,
        "timeline": _data_uri(timeline) if timeline else None,
    }


def render_html(ctx: ReportContext, timelines: Mapping[str, bytes] | None = None,
                max_timelines: int | None = None, view: Overview | None = None) -> str:
    """``max_timelines``: the cap the timelines were drawn under, said on the page so a
    reader knows why a call has none. ``view``: the run's overview when the caller
    already computed it (``write_reports`` shares it with the Markdown summary)."""
    timelines = timelines or {}
    counted = ctx.counted_measurements
    view = view or overview(ctx)
    points = cutoff_points(counted)
    cutoff = _data_uri(cutoff_curve_png(points)) if points else None
    calls = [_call_view(c, ctx.run_dir, timelines.get(c.call_id)) for c in ctx.calls]
    return _env.get_template("index.html.j2").render(
        run_id=ctx.run_id,
        info=ctx.info,
        head=view.headline,
        card=view.scorecard,
        comparison=view.comparison,
        change_words=CHANGE_WORDS,
        families=view.families,
        filters={key: sorted({str(c[key]) for c in calls if c[key]}) for key in ("scenario", "endpoint", "caller")},
        script=_page_script(),
        regions=region_latency(ctx.calls),
        plots=_latency_plots(counted),
        cutoff=cutoff,
        verdicts=ctx.verdicts,
        baseline_rows=ctx.baseline_rows,
        baseline=ctx.baseline_path.name if ctx.baseline_path else None,
        calls=calls,
        n_timelines=sum(1 for c in ctx.calls if c.call_id in timelines),
        max_timelines=max_timelines,
        problems=ctx.problems,
        soak=_soak(ctx),
        network=_network_view(ctx),
    )


def _soak(ctx: ReportContext) -> dict[str, object] | None:
    """The soak section (time series, drift verdicts) when the run has windows."""
    view = soak_view(ctx.windows, ctx.drift)
    if view is None:
        return None
    return {"view": view, "series": _data_uri(view.series_png)}


def _network_view(ctx: ReportContext) -> dict[str, object] | None:
    section = network_section(ctx)
    if section is None:
        return None
    return {"profiles": section.profiles, "rows": section.rows, "panels": PANELS,
            "figures": {e: _data_uri(png) for e, png in section.figures.items()}}


def write_html(ctx: ReportContext, timelines: Mapping[str, bytes] | None = None,
               path: Path | None = None, *, max_timelines: int | None = None,
               view: Overview | None = None) -> Path:
    path = path or ctx.run_dir / INDEX_HTML
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(render_html(ctx, timelines, max_timelines, view), encoding="utf-8", errors="replace")
    tmp.replace(path)
    return path

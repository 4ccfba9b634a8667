"""summary.md: the run in a few lines, short enough for a pull-request comment.

It leads with what the HTML page's first screen says (``markdown_card``: the verdict
and the scorecard, from the same overview), then what failed and why. Bounded whatever
the run's size: the scorecard's columns, failed gate verdicts, failed calls and the
other metrics are each capped, with a count of what was left out. Endpoint text is
never copied in verbatim; reasons are shortened and stripped of Markdown/HTML syntax
so a hostile transcript cannot inject markup into the comment.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path

from harness.fmt import fmt_value
from harness.records import MetricSummary, VerdictStatus
from harness.report.context import ReportContext
from harness.report.families import family_rank
from harness.report.markdown_card import NAME_LIMIT, headline_lines, scorecard_lines
from harness.report.overview import Overview, overview
from harness.report.regions import RegionLatency, region_latency
from harness.report.scorecard import ROWS
from harness.stats.regression import Change
from harness.stats.speech_end import describe_speech_end

__all__ = ["SUMMARY_MD", "render_markdown", "write_markdown"]

SUMMARY_MD = "summary.md"
MAX_ROWS = 12
MAX_OTHER = 6
MAX_FAILED = 8
_UNSAFE = re.compile(r"[<>`|*\[\]\\#!]")


def _safe(text: str, limit: int = 140) -> str:
    """One line, no markup: endpoint text must not turn into HTML, links or table cells."""
    text = _UNSAFE.sub(" ", " ".join(text.split()))
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _other_metrics(summaries: Sequence[MetricSummary]) -> list[str]:
    """Distribution metrics the scorecard does not show, overall per endpoint × caller."""
    shown = {r.metric for r in ROWS}
    rows = sorted((s for s in summaries if s.n > 0 and s.metric not in shown),
                  key=lambda s: (family_rank(s.metric), s.group))
    if not rows:
        return []
    lines = ["### Other metrics", "", "| metric | group | n | p50 | p95 | max |", "|---|---|--:|--:|--:|--:|"]
    for s in rows[:MAX_OTHER]:
        lines.append(f"| {_safe(s.metric, 40)} | {_safe(s.group, NAME_LIMIT)} | {s.n} | {fmt_value(s.p50, s.unit, ms_suffix=True)} "
                     f"| {fmt_value(s.p95, s.unit, ms_suffix=True)} | {fmt_value(s.max, s.unit, ms_suffix=True)} |")
    if len(rows) > MAX_OTHER:
        lines.append(f"\n_{len(rows) - MAX_OTHER} more rows in index.html_")
    return [*lines, ""]


def _region_rows(regions: Sequence[RegionLatency]) -> list[str]:
    lines = ["| region | calls | nodes | turns | p50 | p95 |", "|---|--:|--:|--:|--:|--:|"]
    for r in regions[:MAX_ROWS]:
        s = r.summary
        lines.append(f"| {_safe(r.region, 40)} | {r.calls} | {r.nodes} | {s.n} | {fmt_value(s.p50, s.unit, ms_suffix=True)} "
                     f"| {fmt_value(s.p95, s.unit, ms_suffix=True)} |")
    if len(regions) > MAX_ROWS:
        lines.append(f"\n_{len(regions) - MAX_ROWS} more regions in index.html_")
    left_out = sum(r.disturbed for r in regions)
    if left_out:
        lines.append(f"\n_{left_out} disturbed calls left out_")
    return lines


def _soak_lines(ctx: ReportContext) -> list[str]:
    """A soak's windows in one line and its drift verdicts (drifting ones first)."""
    w = ctx.windows
    ended = sum(r.calls_ended for r in w)
    lines = ["### Soak", "", f"{len(w)} windows over {w[-1].end_s / 60:.1f} min: "
             f"{sum(r.calls_started for r in w)} calls started, {ended} ended, "
             f"{sum(r.calls_failed for r in w)} failed, {sum(r.calls_disturbed for r in w)} disturbed.", ""]
    for d in sorted(ctx.drift, key=lambda d: not d.drifting)[:MAX_ROWS]:
        lines.append(f"- {'**drift**' if d.drifting else d.verdict}: {_safe(d.text)}")
    return [*lines, ""]


def render_markdown(ctx: ReportContext, view: Overview | None = None) -> str:
    """The summary: the headline and the scorecard first (the same ``view`` as the HTML
    page's first screen), then what failed and why."""
    view = view or overview(ctx)
    failed_calls = [c for c in ctx.calls if not c.ok]
    disturbed = ctx.disturbed_calls
    gate_fail = [v for v in ctx.verdicts if v.status is VerdictStatus.FAIL]
    lines = headline_lines(view.headline, ctx.run_id, _safe)
    lines += scorecard_lines(view, _safe)
    if ctx.info is not None and ctx.info.speech_end is not None:  # what latency counts from
        lines += [f"_{_safe(describe_speech_end(ctx.info.speech_end), 300)}._", ""]
    if gate_fail:
        lines += ["### Gate failures", ""]
        for v in gate_fail[:MAX_FAILED]:
            obs = fmt_value(v.observed, v.unit, ms_suffix=True)
            lines.append(f"- **{_safe(v.metric, 40)} {v.stat}** [{_safe(v.group, NAME_LIMIT + 20)}]: {obs} "
                         f"(threshold {v.op} {fmt_value(v.threshold, v.unit, ms_suffix=True)}, n={v.n}, {v.kind})")
        if len(gate_fail) > MAX_FAILED:
            lines.append(f"- … {len(gate_fail) - MAX_FAILED} more")
        lines.append("")
    regressions = [r for r in ctx.baseline_rows if r.comparison.change is Change.REGRESSION]
    improvements = [r for r in ctx.baseline_rows if r.comparison.change is Change.IMPROVEMENT]
    if ctx.baseline_rows:
        lines.append(f"Against baseline `{_safe(ctx.baseline_path.name if ctx.baseline_path else '?', 60)}`: "
                     f"{len(regressions)} regressions, {len(improvements)} improvements.")
        lines.append("")
    if disturbed:
        left_out = "counted anyway (include_disturbed)" if ctx.include_disturbed else (
            "left out of the statistics and the gate")
        lines += ["### Disturbed calls", "",
                  f"The harness could not keep these calls' timing (validity guard); their numbers "
                  f"are {left_out}:", ""]
        for c in disturbed[:MAX_FAILED]:
            lines.append(f"- `{_safe(c.call_id, 80)}`: {_safe(c.validity_text)}")
        if len(disturbed) > MAX_FAILED:
            lines.append(f"- … {len(disturbed) - MAX_FAILED} more")
        lines.append("")
    if ctx.windows:
        lines += _soak_lines(ctx)
    lines += _other_metrics(view.summaries)
    regions = region_latency(ctx.calls, n_resamples=200)
    if regions:
        lines += ["### Turn latency by caller region", "", *_region_rows(regions), ""]
    if failed_calls:
        lines += ["### Failed calls", ""]
        for c in failed_calls[:MAX_FAILED]:
            if c.recording is not None and c.recording.failure is not None:
                why = f"{c.recording.failure.kind}: {c.recording.failure.reason}"
            else:
                why = "; ".join(f"{m.metric} step {m.turn}: {m.reason or 'expectation not met'}"
                                for m in c.measurements if m.passed is False) or c.error
            lines.append(f"- `{_safe(c.call_id, 80)}`: {_safe(why)}")
        if len(failed_calls) > MAX_FAILED:
            lines.append(f"- … {len(failed_calls) - MAX_FAILED} more")
        lines.append("")
    lines.append("Full report: `index.html` in the run folder (also junit.xml, allure-results/).")
    return "\n".join(lines) + "\n"


def write_markdown(ctx: ReportContext, path: Path | None = None, view: Overview | None = None) -> Path:
    path = path or ctx.run_dir / SUMMARY_MD
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(render_markdown(ctx, view), encoding="utf-8", errors="replace")
    tmp.replace(path)
    return path

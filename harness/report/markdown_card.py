"""The headline and the scorecard in Markdown: what a CI job summary leads with.

The same :class:`~harness.report.overview.Overview` as the HTML page's first screen, in
compact form: one line of verdicts, then a table with one column per endpoint × caller
and one row per scorecard figure (value, 95% CI, SLO marks), then, with two or more
endpoints, the differences the comparison supports. Every string that came from an
endpoint or a file goes through ``safe`` (no Markdown or HTML syntax survives).
"""

from __future__ import annotations

from collections.abc import Callable

from harness.records import VerdictStatus
from harness.report.comparison import CHANGE_WORDS
from harness.report.figures import ci_text, diff_text, figure_text, op_text
from harness.report.headline import Headline
from harness.report.overview import Overview
from harness.report.scorecard import Cell, Figure, RowSpec
from harness.stats.regression import Change

NAME_LIMIT = 80
"""Characters of an endpoint name (an inline one is ``dialect host:port``, e.g.
``gemini-live generativelanguage.googleapis.com:443``) or a group label naming one."""

__all__ = ["MAX_CELLS", "NAME_LIMIT", "headline_lines", "scorecard_lines"]

MAX_CELLS = 6
"""Columns of the Markdown scorecard; the page has every card."""

Safe = Callable[[str, int], str]
_MARK = {VerdictStatus.PASS: "✅", VerdictStatus.FAIL: "❌", VerdictStatus.INSUFFICIENT_SAMPLES: "⚠️"}


def headline_lines(head: Headline, run_id: str, safe: Safe) -> list[str]:
    verdict = "✅ passed" if head.passed else "❌ failed"
    parts = [f"{head.calls} calls, "
             + (f"{head.failed_calls} failed ("
                + ", ".join(f"{safe(why, 40)} {n}" for why, n in head.reasons) + ")"
                if head.failed_calls else "none failed")]
    for g in head.gates:
        text = f"{g.kind}: {g.passed} pass, {g.failed} fail"
        parts.append(text + (f", {g.insufficient} with insufficient samples" if g.insufficient else ""))
    if not head.gates:
        parts.append("no SLO or baseline gate")
    disturbed = f"{head.disturbed} disturbed by the harness"
    if head.disturbed:
        disturbed += (" (validity guard): " + ("counted in" if head.disturbed_counted else "left out of")
                      + " the statistics and the gate")
    parts.append(disturbed)
    return [f"## voice-harness {verdict} — run `{safe(run_id, 60)}`", "", "; ".join(parts) + ".", ""]


def _figure(f: Figure | None) -> str:
    if f is None:
        return "–"
    text = figure_text(f.value, f.unit)
    if f.ci is not None:
        text += f" [{ci_text(f.ci, f.unit)}]"
    if f.hits is not None:
        text += f" {f.hits}/{f.n}"
    for v in f.verdicts:
        text += f" {_MARK[v.status]}{op_text(v.op)}{figure_text(v.threshold, v.unit)}"
    return text


def _extra_rows(cells: tuple[Cell, ...], row: RowSpec, safe: Safe) -> list[str]:
    """The cutoff curve and the failure reasons under their rows, as the cards have them."""
    if row.key == "cutoff" and any(c.cutoff_curve for c in cells):
        return ["| ↳ by pause | " + " | ".join(
            " · ".join(f"{p.pause_ms}: {figure_text(p.rate, 'bool')}" for p in c.cutoff_curve) or "–"
            for c in cells) + " |"]
    if row.key == "call_failed" and any(c.failures or c.unmet for c in cells):
        def reasons(c: Cell) -> str:
            text = ", ".join(f"{safe(k, 30)} {n}" for k, n in c.failures) or "none"
            return text + (f"; {c.unmet} missed an expectation" if c.unmet else "")
        return ["| ↳ reasons | " + " | ".join(reasons(c) for c in cells) + " |"]
    return []


def scorecard_lines(view: Overview, safe: Safe) -> list[str]:
    card = view.scorecard
    cells = card.cells[:MAX_CELLS]
    if not cells:
        return []
    lines = ["| | " + " | ".join(f"{safe(c.endpoint, NAME_LIMIT)} · {c.caller}" for c in cells) + " |",
             "|---|" + "--:|" * len(cells)]
    for row in card.rows:
        lines.append(f"| {row.label} | " + " | ".join(
            "left out (disturbed)" if row.key in c.left_out else _figure(c.figures.get(row.key))
            for c in cells) + " |")
        lines += _extra_rows(cells, row, safe)
    counted = "counted" if card.disturbed_counted else "left out"
    lines.append("| disturbed | " + " | ".join(f"{c.disturbed} ({counted})" if c.disturbed else "0"
                                               for c in cells) + " |")
    lines.append("")
    notes = ["95% CIs: bootstrap for percentiles, Wilson for rates; ✅/❌ the SLO verdicts on exactly that figure"]
    for v in card.wide_verdicts:
        notes.append(f"SLO {_MARK[v.status]} {safe(v.metric, 40)} {v.stat} [{safe(v.group, NAME_LIMIT + 20)}] "
                     f"{figure_text(v.observed, v.unit)} {op_text(v.op)} {figure_text(v.threshold, v.unit)}")
    if len(card.cells) > MAX_CELLS:
        notes.append(f"{len(card.cells) - MAX_CELLS} more endpoint × caller cards in index.html")
    if card.missing:
        notes.append("not measured: " + ", ".join(r.label for r in card.missing))
    lines += ["_" + "; ".join(notes) + "._", ""]
    for group in view.comparison:
        for i, other in enumerate(group.endpoints[1:]):
            found = [f"{r.spec.label} {diff_text(c.diff, r.unit)} "
                     f"[{diff_text(c.ci[0], r.unit)}, {diff_text(c.ci[1], r.unit)}] {CHANGE_WORDS[c.change]}"
                     for r in group.rows if (c := r.comparisons[i]).change in (Change.REGRESSION, Change.IMPROVEMENT)
                     and c.ci is not None]
            head = f"**{safe(other, 40)} vs {safe(group.endpoints[0], 40)}** ({group.caller}): "
            few = sum(1 for r in group.rows if r.comparisons[i].change is Change.INSUFFICIENT)
            if few == len(group.rows):
                lines.append(head + "too few samples to compare.")
                continue
            text = "; ".join(found) if found else "no supported difference"
            lines.append(head + text + (f" ({few} of {len(group.rows)} figures with too few samples)." if few else "."))
    if view.comparison:
        lines.append("")
    return lines

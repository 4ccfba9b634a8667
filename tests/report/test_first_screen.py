"""index.html and summary.md lead with the verdict and the scorecard (no browser here:
the layout in Chromium is ``test_first_screen_browser.py``)."""

from __future__ import annotations

from pathlib import Path

import pytest
from report.report_synth import HOSTILE, SynthTruth, make_rich_run

from harness.report.context import read_context
from harness.report.figures import ci_text, diff_text, figure_text
from harness.report.html import render_html
from harness.report.markdown import render_markdown
from harness.report.overview import overview

EVIL = "evil|ep <b>x</b> `y` [z](http://x)"


@pytest.fixture(scope="module")
def rich(tmp_path_factory: pytest.TempPathFactory) -> SynthTruth:
    return make_rich_run(tmp_path_factory.mktemp("first"), n_calls=60)


def test_page_order_verdict_scorecard_comparison_then_details(rich: SynthTruth) -> None:
    html = render_html(read_context(rich.folder.path))
    body = html[html.index("<body>"):]
    order = [body.index(marker) for marker in ('id="headline"', 'id="status"', 'id="scorecard"',
                                                'id="comparison"', 'id="filters"', 'id="metrics"',
                                                'id="distributions"', 'id="calls"')]
    assert order == sorted(order)
    assert body.count('<article class="card"') == 2
    assert '<span class="badge fail" id="status">failed</span>' in body
    assert "disturbed by the harness (validity guard): left out of the statistics and the gate" in body
    # every call is filterable by all four fields
    n_calls = sum(len(v) for v in rich.calls.values())
    assert body.count('<details class="call') == n_calls
    assert body.count("data-scenario=") == n_calls and body.count("data-status=") == n_calls
    for scenario in set(rich.scenario_of.values()):
        assert f"<option>{scenario}</option>" in body
    assert "<script src" not in body and " onchange=" not in body  # one inline script, no handlers in markup


def test_figures_on_the_page_are_the_overviews(rich: SynthTruth) -> None:
    ctx = read_context(rich.folder.path)
    view = overview(ctx)
    html = render_html(ctx, view=view)
    for cell in view.scorecard.cells:
        for key in ("latency_p50", "latency_p95", "no_response", "cutoff", "call_failed"):
            f = cell.figures[key]
            assert f'<td class="v" title="n={f.n}">{figure_text(f.value, f.unit)}</td><td class="ci">{ci_text(f.ci, f.unit)}</td>' in html
    (group,) = view.comparison
    lat = next(r for r in group.rows if r.spec.key == "latency_p50").comparisons[0]
    assert diff_text(lat.diff, "ms") in html and ">worse<" in html


def test_markdown_leads_with_the_verdict_and_the_scorecard(rich: SynthTruth) -> None:
    ctx = read_context(rich.folder.path)
    view = overview(ctx)
    md = render_markdown(ctx, view)
    lines = md.splitlines()
    assert lines[0] == "## voice-harness ❌ failed — run `rich`"
    assert lines[2].startswith("60 calls, ") and "disturbed by the harness" in lines[2]
    assert lines[4] == "| | vendor-a · aiortc | vendor-b · aiortc |"
    first_section = next(i for i, line in enumerate(lines) if line.startswith("### "))
    assert first_section > 4
    a = view.scorecard.cells[0].figures["latency_p50"]
    row = next(line for line in lines if line.startswith("| latency p50 |"))
    assert f"{figure_text(a.value, 'ms')} [{ci_text(a.ci, 'ms')}]" in row
    fs = view.scorecard.cells[1].figures["false_stop"]
    assert f"{figure_text(fs.value, 'bool')} [{ci_text(fs.ci, 'bool')}] {fs.hits}/{fs.n}" in md
    assert any(line.startswith("| ↳ by pause | 300: ") for line in lines)
    assert any(line.startswith("**vendor-b vs vendor-a** (aiortc): latency p50 +") and "worse" in line
               for line in lines)
    assert len(lines) < 60


def test_endpoint_names_cannot_inject_markup(tmp_path: Path) -> None:
    truth = make_rich_run(tmp_path, n_calls=8, endpoints=(EVIL, HOSTILE))
    ctx = read_context(truth.folder.path)
    md = render_markdown(ctx)
    header = next(line for line in md.splitlines() if line.startswith("| | "))
    assert header.count("|") == 4  # the name's own "|" did not open a column
    assert "<b>" not in md and "<script" not in md and "](" not in md
    html = render_html(ctx)
    assert HOSTILE not in html and "<b>x</b>" not in html
    assert "evil|ep &lt;b&gt;x&lt;/b&gt;" in html


def test_markdown_does_not_call_too_few_samples_no_difference(tmp_path: Path) -> None:
    # 4 calls over 2 endpoints: every figure has fewer than the comparison's 5 values a side
    few = make_rich_run(tmp_path, n_calls=4, run_id="few")
    md = render_markdown(read_context(few.folder.path))
    line = next(line for line in md.splitlines() if line.startswith("**vendor-b vs vendor-a**"))
    assert line.endswith("(aiortc): too few samples to compare.")
    # 8 calls: the pause sweep's 5 turns per call are enough for the cutoff rate, nothing else
    some = make_rich_run(tmp_path, n_calls=8, run_id="some")
    md = render_markdown(read_context(some.folder.path))
    line = next(line for line in md.splitlines() if line.startswith("**vendor-b vs vendor-a**"))
    rows = len(overview(read_context(some.folder.path)).comparison[0].rows)
    assert line.endswith(f"({rows - 1} of {rows} figures with too few samples).")

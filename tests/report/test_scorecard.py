"""The scorecard, the headline and the endpoint comparison against what the run holds.

The synthetic run (``report_synth.make_rich_run``) keeps every value it wrote; each
figure on the card must be that data's own statistic: percentiles as numpy computes
them, rates as counted with their Wilson interval, failures by reason and disturbed
calls as written. The comparison must call a 160 ms latency gap worse and leave two
draws from one distribution alone.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
from report.report_synth import DISTURBED, FAILS, PAUSES, SynthTruth, make_rich_run

from harness.gate import gate_run
from harness.records import CallerKind, Measurement, VerdictStatus
from harness.report.context import read_context
from harness.report.families import family_of
from harness.report.headline import EXPECTATION_NOT_MET
from harness.report.html import render_html
from harness.report.overview import Overview, overview
from harness.report.scorecard import ROWS, cell_label
from harness.slo.rules import parse_slo
from harness.stats.rates import wilson_interval
from harness.stats.regression import Change

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def rich(tmp_path_factory: pytest.TempPathFactory) -> SynthTruth:
    return make_rich_run(tmp_path_factory.mktemp("rich"), n_calls=120)


def _view(truth: SynthTruth) -> Overview:
    return overview(read_context(truth.folder.path))


def test_every_figure_is_the_runs_own_statistic(rich: SynthTruth) -> None:
    view = _view(rich)
    card = view.scorecard
    assert [(c.endpoint, c.caller) for c in card.cells] == [("vendor-a", "aiortc"), ("vendor-b", "aiortc")]
    for cell in card.cells:
        key = (cell.endpoint, cell.caller)
        assert cell.calls == len(rich.calls[key])
        assert cell.disturbed == len(rich.disturbed.get(key, []))
        assert cell.counted == cell.calls - cell.disturbed
        assert dict(cell.failures) == rich.failures.get(key, {})
        assert cell.unmet == len(rich.unmet.get(key, set()))

        def values(metric: str, _key: tuple[str, str] = key) -> list[float]:
            return rich.values[(metric, *_key)]

        latency = cell.figures["latency_p50"]
        assert latency.value == pytest.approx(np.percentile(values("turn_latency_ms"), 50))
        assert latency.n == len(values("turn_latency_ms")) and latency.unit == "ms"
        assert latency.ci is not None and latency.ci[0] <= latency.value <= latency.ci[1]
        p95 = cell.figures["latency_p95"]
        assert p95.value == pytest.approx(np.percentile(values("turn_latency_ms"), 95))
        assert cell.figures["barge_in_stop"].value == pytest.approx(np.percentile(values("barge_in_stop_ms"), 50))
        assert cell.figures["pesq_wb"].value == pytest.approx(np.percentile(values("pesq_wb"), 50))
        assert cell.figures["stoi"].value == pytest.approx(np.percentile(values("stoi"), 50))
        assert cell.figures["reply_wer"].value == pytest.approx(np.mean(values("reply_wer")))
        for row, metric in (("no_response", "no_response"), ("barge_in_handled", "barge_in_handled"),
                            ("false_stop", "false_stop"), ("cutoff", "cutoff"), ("call_failed", "call_failed")):
            fig, vals = cell.figures[row], values(metric)
            assert (fig.hits, fig.n) == (int(sum(vals)), len(vals)), row
            assert fig.value == pytest.approx(sum(vals) / len(vals)) and fig.unit == "bool"
            assert fig.ci == pytest.approx(wilson_interval(int(sum(vals)), len(vals))), row
        # the failure rate counts calls, disturbed ones left out
        assert cell.figures["call_failed"].n == cell.counted
        assert [p.pause_ms for p in cell.cutoff_curve] == list(PAUSES)
        for point in cell.cutoff_curve:
            vals = values(f"cutoff_pause_{point.pause_ms}ms")
            assert (point.hits, point.n) == (int(sum(vals)), len(vals))
            assert point.ci == pytest.approx(wilson_interval(point.hits, point.n))
    assert [r.key for r in card.missing] == ["pesq_nb"]  # the run has no narrowband scenario
    assert "pesq_nb" not in [r.key for r in card.rows]


def test_headline_counts_failures_by_reason_and_disturbed_calls(rich: SynthTruth) -> None:
    head = _view(rich).headline
    failed = [i for i in FAILS if i < 120]
    unmet = sum(len(v) for v in rich.unmet.values())
    assert not head.passed and head.calls == 120
    assert head.disturbed == len([i for i in DISTURBED if i < 120]) and not head.disturbed_counted
    reasons = dict(head.reasons)
    assert reasons.pop(EXPECTATION_NOT_MET) == unmet
    assert sum(reasons.values()) == len(failed)
    assert head.failed_calls == len(failed) + unmet
    assert head.gates == ()


def test_a_clean_single_endpoint_run_passes_and_has_no_comparison(tmp_path: Path) -> None:
    clean = make_rich_run(tmp_path, n_calls=8, endpoints=("solo",), run_id="clean")
    assert not clean.unmet and not clean.failures and not clean.disturbed  # calls 0-7
    view = _view(clean)
    assert view.headline.passed and view.headline.failed_calls == 0 and view.headline.reasons == ()
    assert view.comparison == ()
    (cell,) = view.scorecard.cells
    assert cell.endpoint == "solo" and cell.calls == 8 and cell.disturbed == 0
    # one disturbed call (index 9) and nothing else wrong: the run does not pass
    view = _view(make_rich_run(tmp_path, n_calls=12, endpoints=("solo",), run_id="disturbed"))
    assert view.headline.failed_calls == 0 and view.headline.disturbed == 1 and not view.headline.passed


def test_slo_verdicts_mark_the_card_they_judge_and_only_that_one(rich: SynthTruth) -> None:
    slo = parse_slo(
        '[[slo]]\nname = "p95 per card"\nmetric = "turn_latency_ms"\nstat = "p95"\nmax = 650\n'
        'by = ["endpoint", "caller"]\n'
        '[[slo]]\nname = "p50 overall"\nmetric = "turn_latency_ms"\nstat = "p50"\nmax = 500\n'
        '[[slo]]\nname = "false stops"\nmetric = "false_stop"\nstat = "rate"\nmax = 0.2\nmin_samples = 3\n'
        'by = ["endpoint", "caller"]\n')
    gate_run(rich.folder.path, slo)
    view = _view(rich)
    for cell in view.scorecard.cells:
        (p95,) = cell.figures["latency_p95"].verdicts
        assert p95.group == cell_label(cell.endpoint, cell.caller) and p95.stat == "p95"
        assert p95.observed == pytest.approx(cell.figures["latency_p95"].value)
        assert (p95.status is VerdictStatus.PASS) == (p95.observed <= 650)
        (fs,) = cell.figures["false_stop"].verdicts
        assert fs.observed == pytest.approx(cell.figures["false_stop"].value)
        # the run-wide p50 rule judges neither card alone
        assert cell.figures["latency_p50"].verdicts == ()
    (wide,) = view.scorecard.wide_verdicts
    assert wide.rule == "p50 overall" and wide.group == "all"
    html = render_html(read_context(rich.folder.path), view=view)
    wide_line = html[html.index('id="wide-verdicts"'):].split("</p>")[0]
    assert "turn_latency_ms p50 [all]" in wide_line and f": {wide.status}</span>" in wide_line
    assert [(g.kind, g.passed + g.failed + g.insufficient) for g in view.headline.gates] == [("SLO", 5)]
    statuses = {v.status for c in view.scorecard.cells for f in c.figures.values() for v in f.verdicts}
    assert VerdictStatus.FAIL in statuses  # vendor-b's p95 is over 650 ms
    gate_run(rich.folder.path, parse_slo(""))  # leave the shared run ungated for the other tests


def test_comparison_calls_a_real_gap_worse_and_noise_no_difference(rich: SynthTruth) -> None:
    (group,) = _view(rich).comparison
    assert group.caller == "aiortc" and group.endpoints == ("vendor-a", "vendor-b")
    rows = {r.spec.key: r for r in group.rows}
    (latency,) = rows["latency_p50"].comparisons
    a = np.percentile(rich.values[("turn_latency_ms", "vendor-a", "aiortc")], 50)
    b = np.percentile(rich.values[("turn_latency_ms", "vendor-b", "aiortc")], 50)
    assert latency.a == pytest.approx(a) and latency.b == pytest.approx(b)
    assert latency.change is Change.REGRESSION and latency.ci is not None and latency.ci[0] > 0
    assert latency.p_worse is not None and latency.p_worse < 0.05
    # PESQ of both vendors is drawn from one distribution
    (pesq,) = rows["pesq_wb"].comparisons
    assert pesq.change is Change.UNCHANGED
    # rates are compared as means of 0/1 values with the gate's own test
    (cut,) = rows["cutoff"].comparisons
    assert cut.stat == "mean" and cut.a == pytest.approx(np.mean(rich.values[("cutoff", "vendor-a", "aiortc")]))


def test_rates_are_never_shown_as_percentiles(rich: SynthTruth) -> None:
    view = _view(rich)
    assert not any(s.unit == "bool" for s in view.summaries)
    rate_metrics = {r.rate.metric for t in view.families for r in t.rates}
    dist_metrics = {d.summary.metric for t in view.families for d in t.distributions}
    assert {"cutoff", "no_response", "false_stop", "call_failed", "cutoff_pause_700ms"} <= rate_metrics
    assert not rate_metrics & dist_metrics
    families = [t.family for t in view.families]
    assert families == ["latency", "interruptions", "endpointing", "audio quality", "accuracy",
                        "transport", "failures"]


def test_a_bool_metric_with_other_values_is_summarised_not_rated(tmp_path: Path) -> None:
    truth = make_rich_run(tmp_path, n_calls=6, endpoints=("solo",))
    odd = Measurement(call_id="smoke_hello-solo-aiortc-000", scenario="smoke_hello", endpoint="solo",
                      caller=CallerKind.AIORTC, repeat=0, turn=0, metric="half_bool", value=0.5, unit="bool")
    truth.folder.append_results([odd])
    view = _view(truth)
    assert any(s.metric == "half_bool" for s in view.summaries)
    assert not any(r.rate.metric == "half_bool" for t in view.families for r in t.rates)


def test_scorecard_metric_names_are_the_metric_families_own() -> None:
    """A renamed metric must not leave an empty scorecard row that nobody notices."""
    source = "\n".join(p.read_text() for p in [*(ROOT / "harness/metrics").glob("*.py"), ROOT / "harness/scoring.py"])
    for row in ROWS:
        assert re.search(rf"""["']{re.escape(row.metric)}["']""", source), row.metric
        assert family_of(row.metric) != "other", row.metric


def test_a_figure_only_disturbed_calls_measured_reads_left_out_not_missing(tmp_path: Path) -> None:
    # 20 calls: vendor-b's only echo_quality call is call 9, which the guard disturbed
    truth = make_rich_run(tmp_path, n_calls=20)
    assert [cid for cid in truth.calls[("vendor-b", "aiortc")] if truth.scenario_of[cid] == "echo_quality"] == [
        "echo_quality-vendor-b-aiortc-009"]
    view = _view(truth)
    a, b = view.scorecard.cells
    assert "pesq_wb" in a.figures and "pesq_wb" not in b.figures
    assert {"pesq_wb", "stoi"} <= b.left_out and "pesq_wb" not in a.left_out
    assert "pesq_wb" in [r.key for r in view.scorecard.rows]
    html = render_html(read_context(truth.folder.path), view=view)
    assert "left out (disturbed)" in html


def test_headline_counts_baseline_verdicts_apart_from_slo(tmp_path: Path) -> None:
    from report.report_synth import make_run

    from harness.gate import gate_and_report

    run, base = make_run(tmp_path, n_calls=6), make_run(tmp_path, n_calls=6, run_id="base")
    slo = parse_slo('[[slo]]\nmetric = "turn_latency_ms"\nstat = "max"\nmax = 300\nmin_samples = 1\n')
    paths = gate_and_report(run.path, slo=slo, baseline=base.path)
    head = _view_of(run.path).headline
    kinds = {g.kind: g for g in head.gates}
    assert set(kinds) == {"SLO", "baseline"} and kinds["SLO"].failed == 1
    assert kinds["baseline"].passed + kinds["baseline"].insufficient == len(
        [v for v in paths.verdicts if v.kind == "regression"])
    (failing,) = head.failing
    assert (failing.metric, failing.stat, failing.status) == ("turn_latency_ms", "max", VerdictStatus.FAIL)
    md = paths.markdown.read_text().splitlines()
    assert md[2].startswith("6 calls, ") and "SLO: 0 pass, 1 fail" in md[2] and "baseline: " in md[2]


def _view_of(run_dir: Path) -> Overview:
    return overview(read_context(run_dir))

"""Turn latency per caller region, from the run folder alone (no network).

Known values per region: the breakdown must give numpy's percentiles of exactly the
calls that ran there, leave disturbed calls out (and say so), and stay out of a run
whose calls all ran locally.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from slo.synth_runs import measurement

from harness.records import CallerKind, CallRecording, CallValidity, WorkerInfo
from harness.report.context import read_context
from harness.report.html import render_html
from harness.report.markdown import render_markdown
from harness.report.regions import UNLABELLED, region_latency
from harness.store.run_folder import RunFolder
from harness.store.run_info import RunInfo, collect_environment

EU = [300.0, 320.0, 340.0, 360.0, 380.0, 400.0]
US = [700.0, 750.0, 800.0, 900.0]


def _call(folder: RunFolder, call_id: str, worker: WorkerInfo | None, latencies: list[float],
          *, disturbed: bool = False) -> None:
    validity = CallValidity(disturbed=disturbed, reasons=("send p99 12.0 ms > 5 ms",) if disturbed else ())
    rec = CallRecording(call_id=call_id, scenario_id="scn", endpoint="ep", caller=CallerKind.AIORTC,
                        sample_rate=16000, worker=worker, validity=validity)
    folder.write_recording(rec, np.zeros(160, np.float32), np.zeros(160, np.float32))
    folder.append_results([measurement(call_id, "call_failed", 0.0, turn=None, unit="bool", passed=True),
                           *(measurement(call_id, "turn_latency_ms", v, turn=i) for i, v in enumerate(latencies))])


def _run(root: Path, calls: dict[str, tuple[WorkerInfo | None, list[float]]]) -> Path:
    folder = RunFolder.create(root, "r")
    folder.write_run_json(RunInfo(run_id="r", started_at="2026-01-01T00:00:00+00:00",
                                  environment=collect_environment(())))
    for call_id, (worker, latencies) in calls.items():
        _call(folder, call_id, worker, latencies, disturbed=call_id == "bad")
    return folder.path


def test_latency_per_region_from_the_calls_that_ran_there(tmp_path: Path) -> None:
    eu_a, eu_b = (WorkerInfo(host="h1", pid=1, node=n, region="eu-west") for n in ("n-eu-1", "n-eu-2"))
    us = WorkerInfo(host="h2", pid=2, node="n-us", region="us-east")
    bare = WorkerInfo(host="h3", pid=3, node="n-bare", region="")
    run = _run(tmp_path, {"c0": (eu_a, EU[:2]), "c1": (eu_b, EU[2:4]), "c2": (eu_a, EU[4:]),
                          "c3": (us, US[:2]), "c4": (us, US[2:]), "bad": (us, [5000.0]),
                          "c6": (bare, [450.0])})
    ctx = read_context(run)
    rows = {r.region: r for r in region_latency(ctx.calls)}
    assert list(rows) == ["eu-west", UNLABELLED, "us-east"]
    eu = rows["eu-west"]
    assert (eu.calls, eu.nodes, eu.disturbed, eu.summary.n) == (3, 2, 0, 6)
    assert eu.summary.p50 == np.percentile(EU, 50) and eu.summary.p95 == np.percentile(EU, 95)
    assert eu.summary.group == "region=eu-west" and eu.summary.p50_ci is not None
    us_row = rows["us-east"]
    assert (us_row.calls, us_row.nodes, us_row.disturbed, us_row.summary.n) == (2, 1, 1, 4)
    assert us_row.summary.max == max(US)  # the disturbed call's 5 s turn is left out
    assert (rows[UNLABELLED].calls, rows[UNLABELLED].summary.p50) == (1, 450.0)

    md = render_markdown(ctx)
    assert "### Turn latency by caller region" in md
    assert f"| eu-west | 3 | 2 | 6 | {np.percentile(EU, 50):.0f} ms | {np.percentile(EU, 95):.0f} ms |" in md
    assert "1 disturbed calls left out" in md
    html = render_html(ctx)
    assert 'id="region-latency"' in html and "<td>us-east</td>" in html


def test_no_breakdown_for_a_local_run(tmp_path: Path) -> None:
    local = WorkerInfo(host="h", pid=1)
    ctx = read_context(_run(tmp_path, {"c0": (local, [400.0]), "c1": (None, [410.0])}))
    assert region_latency(ctx.calls) == ()
    assert "by caller region" not in render_markdown(ctx)
    assert "region-latency" not in render_html(ctx)

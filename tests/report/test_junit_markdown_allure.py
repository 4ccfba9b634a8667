"""junit.xml, summary.md and allure-results/ from a synthetic run with known outcomes."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

from report.report_synth import HOSTILE, make_run

from harness.gate import gate_and_report
from harness.slo.rules import parse_slo


def test_reports_written_with_expected_cases(tmp_path: Path) -> None:
    folder = make_run(tmp_path)
    slo = parse_slo('[[slo]]\nmetric = "turn_latency_ms"\nstat = "max"\nmax = 410\nmin_samples = 1\n')
    paths = gate_and_report(folder.path, slo=slo)
    assert paths.gate_failed  # max latency is 425 ms

    root = ET.parse(paths.junit).getroot()
    calls = root.find("testsuite[@name='calls']")
    assert calls is not None
    # 3 calls x (call_failed + 2 latency expectations) = 9 cases; 1 failure (c2 step 0)
    assert (calls.get("tests"), calls.get("failures")) == ("9", "1")
    (failure,) = calls.iter("failure")
    assert "too slow" in (failure.get("message") or "")
    gate = root.find("testsuite[@name='gate']")
    assert gate is not None and gate.get("failures") == "1"
    assert "observed 425" in (gate.find("testcase/failure").get("message") or "")  # type: ignore[union-attr]

    md = paths.markdown.read_text()
    assert "failed" in md and "turn_latency_ms" in md and "425 ms" in md
    assert "<script>" not in md and "<img" not in md
    assert len(md.splitlines()) < 60

    results = [json.loads(p.read_text()) for p in paths.allure.glob("*-result.json")]
    calls_r = {r["name"]: r for r in results if r["fullName"].startswith("ep.")}
    assert set(calls_r) == {"c0", "c1", "c2"}
    assert calls_r["c2"]["status"] == "failed" and calls_r["c0"]["status"] == "passed"
    kinds = {a["name"] for a in calls_r["c0"]["attachments"]}
    assert kinds == {"mix.flac", "caller.flac", "received.flac", "recording.json", "timeline.png"}
    for a in calls_r["c0"]["attachments"]:
        assert (paths.allure / a["source"]).stat().st_size > 100
    assert any(r["fullName"].startswith("gate.") and r["status"] == "failed" for r in results)


def test_rebuild_is_idempotent_and_keeps_verdicts(tmp_path: Path) -> None:
    folder = make_run(tmp_path)
    slo = parse_slo('[[slo]]\nmetric = "turn_latency_ms"\nmax = 10000\nmin_samples = 1\n')
    first = gate_and_report(folder.path, slo=slo)
    n_files = len(list(first.allure.iterdir()))
    again = gate_and_report(folder.path)  # no slo: verdicts come from run.json
    assert again.verdicts == first.verdicts and len(again.verdicts) == 1
    assert len(list(again.allure.iterdir())) == n_files  # no stale results left


def test_killed_run_without_run_json_or_with_torn_call_still_reports(tmp_path: Path) -> None:
    folder = make_run(tmp_path)
    (folder.path / "run.json").unlink()
    (folder.path / "calls" / "c1" / "recording.json").write_text("{not json")
    with (folder.path / "results.jsonl").open("a") as f:
        f.write('{"schema_version": 1, "call_id": "c9"')  # torn last line from a crash
    paths = gate_and_report(folder.path)
    html = paths.html.read_text()
    assert "c0" in html and "c1" in html and "not JSON" in html
    assert HOSTILE not in html

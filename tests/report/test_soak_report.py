"""A soak's report: time series and drift verdicts from windows.jsonl, even for a killed soak."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from harness.report.write import write_reports
from harness.stats.windows import ProcessFigures, WindowMetric, WindowRow
from harness.store.run_folder import RunFolder
from harness.store.windows import append_window


def test_soak_section_from_windows_of_a_killed_soak(tmp_path: Path) -> None:
    folder = RunFolder.create(tmp_path, "soak")
    rng = np.random.default_rng(0)
    for i in range(10):
        append_window(folder.path, WindowRow(
            index=i, start_s=15.0 * i, end_s=15.0 * (i + 1), calls_started=4, calls_completed=3,
            calls_failed=1 if i >= 6 else 0, calls_disturbed=1 if i == 2 else 0,
            failures={"offer_refused": 1} if i >= 6 else {},
            metrics=(WindowMetric(metric="turn_latency_ms", stat="p50", n=6, unit="ms",
                                  value=300 + 25 * i + rng.normal(0, 3)),
                     WindowMetric(metric="turn_latency_ms", stat="p95", n=6, unit="ms", value=420 + 25 * i),
                     WindowMetric(metric="call_failed", stat="rate", n=4, value=0.25 if i >= 6 else 0.0)),
            process=ProcessFigures(rss_mb=180 + 0.1 * (i % 2), open_fds=40, threads=9), disk_bytes=i * 10**6))
    with (folder.path / "windows.jsonl").open("ab") as f:
        f.write(b'{"schema_version":1,"index":10,')  # the kill came mid-append
    paths = write_reports(folder.path)  # no run.json at all: killed before writing it
    html = paths.html.read_text()
    assert 'id="soak-series"' in html and "data:image/png;base64," in html
    assert "Soak: 10 windows over 2.5 min" in html
    assert "failed 4 (offer_refused 4)" in html and "disturbed by the harness 1" in html
    assert "turn latency p50 +" in html and "ms/hour" in html and ">increasing<" in html
    rss_row = next(line for line in html.splitlines() if "harness rss" in line)
    assert "(no significant drift)" in rss_row and ">steady<" in rss_row
    md = paths.markdown.read_text()
    assert "### Soak" in md and "10 windows over 2.5 min: 40 calls started" in md
    assert "- **drift**: turn latency p50 +" in md.splitlines()[md.splitlines().index("### Soak") + 4]

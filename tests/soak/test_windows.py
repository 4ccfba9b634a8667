"""Window rows and the running summary on a virtual clock: hours of calls in milliseconds."""

from __future__ import annotations

import numpy as np
import pytest
from soak_synth import VirtualClock, result, validity

from harness.records import FailureKind
from harness.soak.windows import WindowAccumulator
from harness.stats.drift import DriftVerdict, window_drift
from harness.stats.windows import ProcessFigures
from harness.store.windows import WindowsFileError, append_window, read_windows

FIGURES = (ProcessFigures(rss_mb=100.0, open_fds=10, threads=4), 1234)


def test_counts_percentiles_and_disturbed_calls() -> None:
    clock = VirtualClock()
    acc = WindowAccumulator(clock, window_s=60)
    for i in range(10):
        acc.started()
        clock.advance(5)
        acc.ended(result(f"c{i}", (300.0 + i, 310.0 + i), cutoff=(False, i == 0), wer=0.1),
                  validity(loop_lag_p99_ms=float(i)))
    acc.started()
    acc.ended(result("slow", (5000.0,)), validity(disturbed=True))  # counted, not in percentiles
    acc.started()
    acc.ended(result("bad", failure=FailureKind.NO_AUDIO))
    acc.started()  # still in flight at the close
    clock.advance(10)
    rows = acc.close_due(lambda: FIGURES)
    assert len(rows) == 1
    row = rows[0]
    assert (row.calls_started, row.calls_completed, row.calls_failed, row.calls_disturbed, row.active) == (
        13, 11, 1, 1, 1)
    assert row.failures == {"no_audio": 1}
    assert row.value("turn_latency_ms", "p50") == pytest.approx(309, abs=0.5)  # nearest rank, 10th of 20
    assert row.value("turn_latency_ms", "p99") == pytest.approx(319, abs=0.5)  # not 5000
    assert row.value("cutoff", "rate") == pytest.approx(0.05)
    assert row.value("reply_wer", "mean") == pytest.approx(0.1, abs=1e-3)
    assert row.value("call_failed", "rate") == pytest.approx(1 / 12)
    assert row.caller_loop_lag_p99_ms == 9.0
    assert row.process.rss_mb == 100.0 and row.disk_bytes == 1234
    assert (row.start_s, row.end_s, row.complete) == (0, 60, True)


def test_empty_windows_after_a_stall_and_a_partial_last_window() -> None:
    clock = VirtualClock()
    acc = WindowAccumulator(clock, window_s=10)
    acc.started()
    clock.advance(35)  # nothing ran for three windows
    rows = acc.close_due(lambda: FIGURES)
    assert [r.index for r in rows] == [0, 1, 2]
    assert [r.calls_started for r in rows] == [1, 0, 0]
    assert rows[1].value("call_failed", "rate") is None
    acc.ended(result("c", (250.0,)))
    last = acc.finish(*FIGURES)
    assert last is not None and not last.complete and (last.start_s, last.end_s) == (30, 35)
    assert last.calls_completed == 1 and last.active == 0


def test_hours_of_calls_bounded_memory_and_drift_on_virtual_time() -> None:
    """Eight virtual hours, a call every 3 s whose latency grows 40 ms/hour: 480 windows,
    the summary built from histograms, drift recovered from the rows."""
    clock = VirtualClock()
    acc = WindowAccumulator(clock, window_s=60)
    rng = np.random.default_rng(4)
    rows = []
    for i in range(8 * 3600 // 3):
        acc.started()
        clock.advance(3)
        latency = 300 + 40 * clock.now / 3600 + rng.normal(0, 30)
        acc.ended(result(f"c{i}", (latency,)))
        rows += acc.close_due(lambda: FIGURES)
    assert len(rows) == 480
    assert sum(r.calls_started for r in rows) == sum(r.calls_ended for r in rows) == 9600
    summary = {s.metric: s for s in acc.summary()}
    assert summary["turn_latency_ms"].n == 9600
    assert summary["turn_latency_ms"].p50 == pytest.approx(460, abs=10)
    drift = {(e.metric, e.stat): e for e in window_drift(rows)}
    p50 = drift[("turn_latency_ms", "p50")]
    assert p50.verdict is DriftVerdict.INCREASING
    assert p50.slope_per_hour == pytest.approx(40, rel=0.2)
    assert drift[("call_failed", "rate")].verdict is DriftVerdict.STEADY
    assert acc.percentile("turn_latency_ms", 50) == pytest.approx(460, abs=10)


def test_failure_rate_step_shows_in_the_right_window() -> None:
    """Calls start failing at t = 300 s: the windows before show 0, those after 1."""
    clock = VirtualClock()
    acc = WindowAccumulator(clock, window_s=60)
    rows = []
    for i in range(200):
        acc.started()
        clock.advance(4)
        failing = clock.now > 300
        acc.ended(result(f"c{i}", () if failing else (300.0,),
                         failure=FailureKind.DROPPED if failing else None))
        rows += acc.close_due(lambda: FIGURES)
    rates = [r.value("call_failed", "rate") for r in rows]
    assert rates[:5] == [0.0] * 5 and rates[5:] == [1.0] * (len(rows) - 5)
    assert rows[5].failures == {"dropped": 15}


def test_rolling_view() -> None:
    clock = VirtualClock()
    acc = WindowAccumulator(clock, window_s=60)
    for i in range(30):
        acc.started()
        clock.advance(4)
        acc.ended(result(f"c{i}", (float(200 + i),)))
        acc.close_due(lambda: FIGURES)
    view = acc.rolling()
    assert view.elapsed_s == 120 and view.started == view.completed == 30
    assert view.calls_per_min == pytest.approx(15.0)
    assert view.latency_p50_ms == pytest.approx(222, abs=1)  # calls 15-29, the last full window


def test_windows_file_roundtrip_and_torn_tail(tmp_path) -> None:  # type: ignore[no-untyped-def]
    clock = VirtualClock()
    acc = WindowAccumulator(clock, window_s=10)
    acc.started()
    clock.advance(25)
    rows = acc.close_due(lambda: FIGURES)
    for row in rows:
        append_window(tmp_path, row)
    assert read_windows(tmp_path) == rows
    with (tmp_path / "windows.jsonl").open("ab") as f:
        f.write(b'{"schema_version":1,"index":2,"sta')  # a kill mid-append
    assert read_windows(tmp_path) == rows
    (tmp_path / "windows.jsonl").write_bytes(b"not json\n" + b"{}\n")
    with pytest.raises(WindowsFileError, match=r"windows\.jsonl:1"):
        read_windows(tmp_path)
    assert read_windows(tmp_path / "missing") == []

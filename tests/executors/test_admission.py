"""Admission: a worker stops taking calls before its loop falls behind, never when idle."""

from __future__ import annotations

from harness.executors.admission import AdmissionSettings, decide

MS = 1_000_000
QUIET = [int(0.3 * MS)] * 200
SETTINGS = AdmissionSettings(max_calls=4, lag_p99_ms=2.0, lag_max_ms=10.0)


def test_a_quiet_worker_under_its_share_admits() -> None:
    d = decide(2, 0, QUIET, SETTINGS)
    assert d.admitting and d.reason == "" and d.lag_p99_ms is not None and d.lag_p99_ms < 1


def test_each_reason_to_refuse() -> None:
    assert decide(4, 0, QUIET, SETTINGS).reason == "holds 4 calls (max 4)"
    assert decide(2, 1, QUIET, SETTINGS).reason == "1 call(s) still connecting"
    laggy = QUIET[:190] + [int(4 * MS)] * 10  # 5 % of readings 4 ms late: p99 4 ms
    d = decide(2, 0, laggy, SETTINGS)
    assert not d.admitting and d.reason.startswith("loop lag p99 4.0 ms")
    spike = [*QUIET, int(15 * MS)]  # one 15 ms stall: p99 quiet, max over
    d = decide(2, 0, spike, SETTINGS)
    assert not d.admitting and d.reason.startswith("loop lag max 15.0 ms")


def test_an_idle_worker_always_admits_so_a_run_makes_progress() -> None:
    overloaded = [int(50 * MS)] * 200  # a machine loaded by something else
    assert decide(0, 0, overloaded, SETTINGS).admitting
    assert decide(0, 0, [], SETTINGS).admitting

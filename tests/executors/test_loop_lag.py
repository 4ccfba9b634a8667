"""The loop-lag probe sees a blocked loop, and windows pick the readings of a call."""

from __future__ import annotations

import asyncio
import time

import pytest

from harness.executors.loop_lag import LoopLagProbe

pytestmark = pytest.mark.realclock  # asserts times on the real clock: never niced (Makefile)

MS = 1_000_000


def test_a_blocked_loop_shows_as_one_late_reading() -> None:
    def block() -> tuple[int, int]:
        start = time.monotonic_ns()
        time.sleep(0.15)  # hold the loop, as a blocking call would
        return start, time.monotonic_ns()

    async def main() -> list[int]:
        probe = LoopLagProbe(period_s=0.01)
        probe.start()
        await asyncio.sleep(0.1)
        start, end = block()
        await asyncio.sleep(0.1)
        await probe.aclose()
        return probe.lags_between(start, end + 50 * MS)

    during = asyncio.run(main())
    # the reading that waited for the block is taken once the loop is free again
    assert max(during) >= 140 * MS
    assert sum(1 for lag in during if lag > 50 * MS) == 1  # a stall is one reading, not a burst


def test_windows_select_readings_by_time() -> None:
    now = [0]
    probe = LoopLagProbe(period_s=0.01, clock=lambda: now[0])
    for t, lag in ((100, 1), (200, 2), (300, 3), (400, 4)):
        probe.record(t, lag)
    assert probe.lags_between(150, 300) == [2, 3]
    assert probe.lags_between(0, 50) == []
    now[0] = 400
    assert probe.recent(150) == [3, 4]
    probe.record(500, -5)  # a clock that woke early is on time, not negative
    assert probe.lags_between(500, 500) == [0]


def test_old_readings_are_dropped() -> None:
    probe = LoopLagProbe(period_s=0.01, keep_s=0.05)  # keeps 5 readings
    for t in range(10):
        probe.record(t, t)
    assert probe.lags_between(0, 100) == [5, 6, 7, 8, 9]

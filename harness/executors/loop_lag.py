"""A cheap probe of an event loop's responsiveness: how late a periodic timer wakes.

A caller worker's loop paces audio frames, stamps data-channel events and fires live
triggers; anything that holds it (a blocking call, a long garbage collection, a
neighbour process on the same core) delays all of those. The probe sleeps for one
period at a time and records how late it woke, on CLOCK_MONOTONIC, so each call can
be given the readings taken while its audio ran (validity guard) and a worker can see
whether it is keeping up right now (admission control).

One reading per period (10 ms) costs a timer wake-up: a few tens of microseconds.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import time
from collections.abc import Callable

PERIOD_S = 0.01
KEEP_S = 900.0
"""Readings older than this are dropped (longer than any planned call)."""


class LoopLagProbe:
    """Start it in the loop to watch; read windows of its readings from that loop."""

    def __init__(self, period_s: float = PERIOD_S, keep_s: float = KEEP_S,
                 clock: Callable[[], int] = time.monotonic_ns) -> None:
        self.period_ns = int(period_s * 1e9)
        self._clock = clock
        self._readings: collections.deque[tuple[int, int]] = collections.deque(
            maxlen=max(1, int(keep_s / period_s)))
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run(), name="loop-lag-probe")

    async def aclose(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _run(self) -> None:
        due = self._clock() + self.period_ns
        while True:
            await asyncio.sleep(max(0, due - self._clock()) / 1e9)
            now = self._clock()
            self.record(now, now - due)
            due = now + self.period_ns  # a stall is one late reading, not a burst of them

    def record(self, t_ns: int, lag_ns: int) -> None:
        """One reading (the probe's own; tests feed synthetic ones)."""
        self._readings.append((t_ns, max(0, lag_ns)))

    def lags_between(self, start_ns: int, end_ns: int) -> list[int]:
        """Lags of the readings taken in [start, end] (a stall shows at its end: the
        reading that waited for it is taken when the loop is free again)."""
        out = []
        for t, lag in reversed(self._readings):
            if t < start_ns:
                break
            if t <= end_ns:
                out.append(lag)
        out.reverse()
        return out

    def recent(self, window_ns: int) -> list[int]:
        """Lags of the readings of the last ``window_ns``."""
        now = self._clock()
        return self.lags_between(now - window_ns, now)


__all__ = ["LoopLagProbe"]

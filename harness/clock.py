"""The one time source of a call.

Every timestamp of a call is ``time.monotonic_ns()`` minus the call's origin. Processes
on one host share CLOCK_MONOTONIC, which is what lets the reference agent's
ground-truth log (absolute monotonic ns) be compared with the caller's measurements
exactly. Stages that schedule take a ``Clock`` so tests can drive them with
``VirtualClock`` faster than real time.
"""

from __future__ import annotations

import asyncio
import time
from typing import Protocol


class Clock(Protocol):
    def monotonic_ns(self) -> int: ...

    async def sleep_until(self, deadline_ns: int) -> None: ...


class SystemClock:
    """CLOCK_MONOTONIC, shared by every process on the host."""

    def monotonic_ns(self) -> int:
        return time.monotonic_ns()

    async def sleep_until(self, deadline_ns: int) -> None:
        delay = (deadline_ns - time.monotonic_ns()) / 1e9
        if delay > 0:
            await asyncio.sleep(delay)


class VirtualClock:
    """A clock that jumps to each deadline: runs schedulers faster than real time."""

    def __init__(self, start_ns: int = 0) -> None:
        self._now = start_ns

    def monotonic_ns(self) -> int:
        return self._now

    async def sleep_until(self, deadline_ns: int) -> None:
        self._now = max(self._now, deadline_ns)
        await asyncio.sleep(0)


class CallClock:
    """Call time: ns since the call's origin (the first frame sent), on a base clock."""

    def __init__(self, base: Clock | None = None) -> None:
        self.base: Clock = base or SystemClock()
        self.origin_ns: int | None = None

    def start(self, origin_ns: int | None = None) -> int:
        self.origin_ns = self.base.monotonic_ns() if origin_ns is None else origin_ns
        return self.origin_ns

    def now(self) -> int:
        """Call time of now; before ``start`` the origin is taken as now."""
        if self.origin_ns is None:
            self.start()
        assert self.origin_ns is not None
        return self.base.monotonic_ns() - self.origin_ns

    def to_call(self, monotonic_ns: int) -> int:
        assert self.origin_ns is not None, "call clock not started"
        return monotonic_ns - self.origin_ns

    async def sleep_until(self, call_ns: int) -> None:
        assert self.origin_ns is not None, "call clock not started"
        await self.base.sleep_until(self.origin_ns + call_ns)

"""An asyncio event loop on virtual time: sleeping costs nothing, so hours run in milliseconds.

When the loop would wait for its next timer, the selector advances the loop's clock to
that timer instead of blocking. Only for code whose waits are all timers (no real I/O).
"""

from __future__ import annotations

import asyncio
import selectors
from collections.abc import Coroutine
from typing import Any, TypeVar

T = TypeVar("T")
TICK_S = 1e-6


class _Selector(selectors.DefaultSelector):
    def __init__(self) -> None:
        super().__init__()
        self.loop: VirtualTimeLoop | None = None

    def select(self, timeout: float | None = None) -> list[tuple[selectors.SelectorKey, int]]:
        if self.loop is not None and timeout is not None and timeout > 0:
            # At least a microsecond: a deadline a few ulps away must still be reached
            # (adding 1e-13 to 120.0 would leave the clock where it was, forever).
            self.loop.virtual_now += max(timeout, TICK_S)
        return super().select(0)


class VirtualTimeLoop(asyncio.SelectorEventLoop):
    def __init__(self) -> None:
        selector = _Selector()
        super().__init__(selector)
        selector.loop = self
        self.virtual_now = 0.0

    def time(self) -> float:
        return self.virtual_now


def run_virtual(coro: Coroutine[Any, Any, T]) -> T:
    loop = VirtualTimeLoop()
    try:
        return loop.run_until_complete(coro)
    finally:
        loop.close()

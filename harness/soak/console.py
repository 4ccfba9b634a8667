"""The soak's live view, as Locust's console shows a load test: one line of what matters.

On a terminal the line refreshes in place (rich ``Live``); otherwise (CI logs, a file)
a plain line is printed every ``plain_interval_s``, so a log of an eight-hour soak has
one readable line a minute rather than thousands of carriage returns.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from types import TracebackType

from rich.console import Console
from rich.live import Live
from rich.text import Text

from harness.soak.windows import Rolling

__all__ = ["LiveView", "status_line"]


def _clock(seconds: float) -> str:
    s = int(seconds)
    return f"{s // 3600:d}:{s % 3600 // 60:02d}:{s % 60:02d}"


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.0f}"


def status_line(r: Rolling, duration_s: float | None = None) -> str:
    """``0:12:30/8:00:00 | 14.1 calls/min | active 4 | started 180 ok 170 failed 6
    (dropped 4, no_audio 2) | disturbed 0 | latency p50 312 ms p95 540 ms``"""
    elapsed = _clock(r.elapsed_s) + (f"/{_clock(duration_s)}" if duration_s else "")
    failures = ", ".join(f"{k} {v}" for k, v in sorted(r.failures.items(), key=lambda kv: -kv[1]))
    parts = [
        elapsed,
        f"{r.calls_per_min:.1f} calls/min",
        f"active {r.active}",
        f"started {r.started} ok {r.completed} failed {r.failed}" + (f" ({failures})" if failures else ""),
        f"disturbed {r.disturbed}",
        f"latency p50 {_ms(r.latency_p50_ms)} ms p95 {_ms(r.latency_p95_ms)} ms",
    ]
    if r.skipped:
        parts.insert(3, f"skipped {r.skipped}")
    return " | ".join(parts)


class LiveView:
    """``async with LiveView(console, accumulator.rolling): ...`` shows the line until exit."""

    def __init__(self, console: Console, source: Callable[[], Rolling], *,
                 duration_s: float | None = None, refresh_s: float = 1.0,
                 plain_interval_s: float = 60.0) -> None:
        self.console = console
        self.source = source
        self.duration_s = duration_s
        self.refresh_s = refresh_s
        self.plain_interval_s = plain_interval_s
        self._task: asyncio.Task[None] | None = None
        self._live: Live | None = None

    @property
    def interactive(self) -> bool:
        return self.console.is_terminal

    def line(self) -> str:
        return status_line(self.source(), self.duration_s)

    async def __aenter__(self) -> LiveView:
        if self.interactive:
            self._live = Live(Text(self.line()), console=self.console, auto_refresh=False,
                              transient=False)
            self._live.start()
        self._task = asyncio.get_running_loop().create_task(self._loop())
        return self

    async def _loop(self) -> None:
        interval = self.refresh_s if self.interactive else self.plain_interval_s
        while True:
            await asyncio.sleep(interval)
            self.show()

    def show(self) -> None:
        if self._live is not None:
            self._live.update(Text(self.line()), refresh=True)
        else:
            self.console.print(self.line(), highlight=False, soft_wrap=True)

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self.show()  # the final state, whatever the mode
        if self._live is not None:
            self._live.stop()
            self._live = None

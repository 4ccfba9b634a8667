"""The harness's own footprint, read from /proc: memory, file descriptors, threads, loop lag.

A soak must show that the harness itself stays flat over hours (a leak in the caller
would otherwise look like an endpoint getting slower). psutil is not a dependency, so
these are read from Linux's /proc directly; elsewhere the figures are ``None`` and the
windows say so instead of guessing.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
from pathlib import Path

from harness.stats.windows import ProcessFigures

__all__ = ["LoopLagProbe", "ProcessReader"]

PROC = Path("/proc")
_PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096
_MB = 1024 * 1024


def _rss_bytes(pid: int | str) -> int | None:
    """Resident set size (statm's second field, in pages)."""
    try:
        return int((PROC / str(pid) / "statm").read_text().split()[1]) * _PAGE
    except (OSError, ValueError, IndexError):
        return None


def _children(pid: int) -> list[int]:
    """Direct children, from each thread's ``children`` list (Linux 3.5+)."""
    out: list[int] = []
    try:
        tasks = list((PROC / str(pid) / "task").iterdir())
    except OSError:
        return out
    for task in tasks:
        with contextlib.suppress(OSError, ValueError):
            out.extend(int(c) for c in (task / "children").read_text().split())
    return out


def descendants(pid: int) -> list[int]:
    seen: list[int] = []
    todo = _children(pid)
    while todo:
        child = todo.pop()
        if child not in seen:
            seen.append(child)
            todo.extend(_children(child))
    return seen


class ProcessReader:
    """Reads the figures of one process (default: this one) and its descendants."""

    def __init__(self, pid: int | None = None) -> None:
        self.pid = pid or os.getpid()

    @property
    def available(self) -> bool:
        return (PROC / str(self.pid) / "statm").is_file()

    def read(self, loop_lag_max_ms: float | None = None) -> ProcessFigures:
        if not self.available:
            return ProcessFigures(loop_lag_max_ms=loop_lag_max_ms)
        rss = _rss_bytes(self.pid)
        children = [_rss_bytes(c) for c in descendants(self.pid)]
        return ProcessFigures(
            rss_mb=None if rss is None else rss / _MB,
            children_rss_mb=sum(c for c in children if c is not None) / _MB,
            open_fds=self._open_fds(),
            threads=self._threads(),
            loop_lag_max_ms=loop_lag_max_ms,
        )

    def _open_fds(self) -> int | None:
        try:
            return sum(1 for _ in (PROC / str(self.pid) / "fd").iterdir())
        except OSError:
            return None

    def _threads(self) -> int | None:
        try:
            for line in (PROC / str(self.pid) / "status").read_text().splitlines():
                if line.startswith("Threads:"):
                    return int(line.split()[1])
        except (OSError, ValueError, IndexError):
            return None
        return None


class LoopLagProbe:
    """How late this event loop wakes a periodic sleep: its own responsiveness.

    The worst lateness since the last ``take_max`` is what a window reports; a driver
    loop that lags delays call starts and result writing (never the media, which the
    caller workers pace).
    """

    def __init__(self, period_s: float = 0.1) -> None:
        self.period_s = period_s
        self._max_ms = 0.0
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run())

    async def _run(self) -> None:
        while True:
            due = time.monotonic() + self.period_s
            await asyncio.sleep(self.period_s)
            self._max_ms = max(self._max_ms, (time.monotonic() - due) * 1000.0)

    def take_max(self) -> float:
        value, self._max_ms = self._max_ms, 0.0
        return value

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

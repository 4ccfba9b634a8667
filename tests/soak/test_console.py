"""The live view's line, and its two modes: refreshing on a terminal, periodic lines otherwise."""

from __future__ import annotations

import asyncio
import dataclasses
import io

import pytest
from rich.console import Console

from harness.soak.console import LiveView, status_line
from harness.soak.windows import Rolling

pytestmark = pytest.mark.realclock  # asserts times on the real clock: never niced (Makefile)


def rolling(elapsed: float = 750.0, **kw: object) -> Rolling:
    base = Rolling(elapsed_s=elapsed, started=180, completed=170, failed=6, disturbed=1, skipped=0,
                   active=4, calls_per_min=14.14, failures={"no_audio": 2, "dropped": 4},
                   latency_p50_ms=312.4, latency_p95_ms=540.0)
    return dataclasses.replace(base, **kw)  # type: ignore[arg-type]


def test_status_line() -> None:
    line = status_line(rolling(), duration_s=8 * 3600)
    assert line == ("0:12:30/8:00:00 | 14.1 calls/min | active 4 | started 180 ok 170 failed 6 "
                    "(dropped 4, no_audio 2) | disturbed 1 | latency p50 312 ms p95 540 ms")
    empty = status_line(rolling(0.0, latency_p50_ms=None, latency_p95_ms=None, failures={}, skipped=3))
    assert "latency p50 - ms p95 - ms" in empty and "skipped 3" in empty and "()" not in empty


def test_plain_mode_prints_periodic_lines() -> None:
    out = io.StringIO()
    console = Console(file=out, force_terminal=False, width=300)
    ticks = iter(range(1000))

    def source() -> Rolling:
        return rolling(float(next(ticks)))

    async def main() -> None:
        async with LiveView(console, source, plain_interval_s=0.05):
            await asyncio.sleep(0.28)

    asyncio.run(main())
    lines = out.getvalue().splitlines()
    assert 4 <= len(lines) <= 7  # ~5 periodic lines and the final one
    assert all(" calls/min | active 4 | " in line for line in lines)
    assert "\r" not in out.getvalue()


def test_terminal_mode_refreshes_in_place() -> None:
    out = io.StringIO()
    console = Console(file=out, force_terminal=True, width=300)

    async def main() -> None:
        async with LiveView(console, rolling, refresh_s=0.02) as view:
            assert view.interactive
            await asyncio.sleep(0.1)

    asyncio.run(main())
    text = out.getvalue()
    assert text.count("calls/min") >= 3  # redrawn several times ...
    assert "\x1b[" in text  # ... with cursor movement, not new lines
    assert text.count("\n") <= 2

"""Concurrent browser calls (not a test): ``.venv/bin/python tests/bench/bench_browser.py [N ...]``.

For each concurrency N (default 1 2 4), N browser calls of six question turns run at
once, each against its own reference agent process (one agent's event loop cannot keep
up with several calls on a busy 2-core machine), and the script prints:

- **injection**: for every clip, when it left the page (found in the sent Opus frames)
  minus when the page scheduled it on the AudioContext clock. The median of a call is
  its WebAudio -> encoder path delay (constant by construction); the spread around it is
  the injection error, whose p99 the issue wants <= 10 ms. Clips the page scheduled
  after their time had passed (a starved page) are counted separately.
- **send jitter**: the outgoing frames' p99 distance from a steady 20 ms grid.
- **memory**: peak PSS of the Chromium processes during the calls (one browser holds all
  N pages), its growth per added call, and the peak RSS of this Python process.

Timing figures depend on what else the machine runs; the load average is printed.
On the 2-core CI machine the reference agents are the first to run out of CPU: past
~4 concurrent calls they receive slower than real time, their UDP buffers overflow,
Chromium's ICE consent checks go unanswered and the calls are dropped (reported as such).
"""

from __future__ import annotations

import asyncio
import os
import resource
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from harness.agent.process import AgentProcess
from harness.callers.base import CallArtifacts
from harness.callers.browser.caller import BrowserCaller, BrowserSettings
from harness.callers.browser.pool import PoolSettings
from harness.corpus.defaults import default_corpus
from harness.records import CallerKind, CallSpec, Dialect, EndpointSpec, Scenario, Step, StepKind

QUESTIONS = ("q_time", "q_name", "cmd_play_music", "q_order_status", "cmd_call_mother", "q_weather")


def scenario() -> Scenario:
    steps = tuple(Step(index=i, kind=StepKind.SAY, utterance=q) for i, q in enumerate(QUESTIONS))
    return Scenario(id="bench-browser", steps=steps)


async def run_level(n: int, urls: list[str]) -> dict[str, float]:
    corpus = default_corpus(build=True)
    # One browser for all calls, so memory reads as one browser plus n pages.
    settings = BrowserSettings(pool=PoolSettings(max_browsers=1, calls_per_browser=n))
    peak = 0
    async with BrowserCaller(corpus, settings) as caller:
        specs = [CallSpec(call_id=f"bench-{n}-{i}", scenario=scenario(),
                          endpoint=EndpointSpec(name=f"agent-{i}", dialect=Dialect.OPENAI_REALTIME, url=urls[i]),
                          caller=CallerKind.BROWSER) for i in range(n)]
        started = time.monotonic()
        calls = asyncio.gather(*(caller.run(s) for s in specs))
        while not calls.done():
            peak = max(peak, caller.pool.memory_bytes())
            await asyncio.sleep(0.5)
        arts = await calls
        wall = time.monotonic() - started
    errors, paths, late, send_p99, failures = [], [], 0, [], 0
    for art in arts:
        assert isinstance(art, CallArtifacts)
        rec = art.recording
        if rec.failure is not None:
            failures += 1
            print(f"  call {rec.call_id} failed: {rec.failure.kind}: {rec.failure.reason}")
        clips = [c for c in rec.caller_info.get("clips", []) if isinstance(c, dict)]  # type: ignore[union-attr]
        delays = [float(c["sent_minus_scheduled_ms"]) for c in clips if c.get("sent_minus_scheduled_ms") is not None]  # type: ignore[arg-type]
        late += sum(1 for c in clips if float(c.get("late_schedule_ms") or 0) > 0)  # type: ignore[arg-type]
        if delays:
            median = statistics.median(delays)
            paths.append(median)
            errors.extend(d - median for d in delays)
        if rec.send_timing is not None:
            send_p99.append(rec.send_timing.error_p99_ms)
    abs_err = np.abs(np.asarray(errors)) if errors else np.zeros(1)
    return {
        "calls": n, "failed": failures, "wall_s": wall, "clips": len(errors), "late_clips": late,
        "inject_p50_ms": float(np.percentile(abs_err, 50)), "inject_p99_ms": float(np.percentile(abs_err, 99)),
        "inject_max_ms": float(abs_err.max()), "path_ms": statistics.median(paths) if paths else float("nan"),
        "send_p99_ms": max(send_p99) if send_p99 else float("nan"),
        "chromium_mb": peak / 2**20, "per_call_mb": peak / 2**20 / n,
    }


def main() -> None:
    levels = [int(a) for a in sys.argv[1:]] or [1, 2, 4]
    print(f"load average before: {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores")
    rows = []
    agents = [AgentProcess(["--delay", "200"]).start() for _ in range(max(levels))]
    try:
        for n in levels:
            rows.append(asyncio.run(run_level(n, [a.url for a in agents])))
            print(f"  {n} concurrent: done, load average {os.getloadavg()[0]:.2f}")
    finally:
        for agent in agents:
            agent.stop()
    print("\nconcurrent  failed  clips  late  inject p50/p99/max ms  path ms  send p99 ms  chromium MB  per call MB")
    for r in rows:
        print(f"{r['calls']:>10}  {r['failed']:>6}  {r['clips']:>5}  {r['late_clips']:>4}  "
              f"{r['inject_p50_ms']:6.2f} {r['inject_p99_ms']:6.2f} {r['inject_max_ms']:6.2f}  "
              f"{r['path_ms']:7.1f}  {r['send_p99_ms']:11.1f}  {r['chromium_mb']:11.0f}  {r['per_call_mb']:11.0f}")
    if len(rows) > 1:
        growth = np.polyfit([r["calls"] for r in rows], [r["chromium_mb"] for r in rows], 1)[0]
        print(f"\nChromium memory grows by {growth:.0f} MB per concurrent call (least squares over the levels)")
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"harness process peak RSS: {rss:.0f} MB; target: injection p99 <= 10 ms")


if __name__ == "__main__":
    main()

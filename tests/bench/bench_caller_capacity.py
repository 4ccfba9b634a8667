"""Benchmark: how many concurrent calls one aiortc caller process sustains.

Sustained means every call finished, every frame was handed to the transport on time
(send-time error p99 <= 5 ms over all frames) and no received packet was lost. The
reference agents run in other processes. Prints one line per concurrency step, the
largest sustained count and the caller's CPU per call.

    .venv/bin/python tests/bench/bench_caller_capacity.py [--max 16] [--agents 2]

The machine is noisy (2 cores shared with the agents): figures are medians of the
calls in one step, and the agents' CPU competes with the caller's by design.
"""

from __future__ import annotations

import argparse
import asyncio
import resource
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from support import local_endpoint, say_scenario

from harness.agent.process import AgentProcess
from harness.callers.aiortc_caller import AiortcCaller
from harness.callers.base import CallArtifacts
from harness.corpus.defaults import default_corpus
from harness.records import CallerKind, CallSpec

P99_LIMIT_MS = 5.0


def _cpu_s() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


async def _step(caller: AiortcCaller, urls: list[str], k: int) -> tuple[list[CallArtifacts], float, float]:
    scenario = say_scenario("capacity", ["q_time", "q_name", "cmd_play_music"])
    specs = [
        CallSpec(call_id=f"cap{k}-{i}", scenario=scenario, endpoint=local_endpoint(urls[i % len(urls)]),
                 caller=CallerKind.AIORTC)
        for i in range(k)
    ]
    cpu0, t0 = _cpu_s(), time.monotonic()
    artifacts = await asyncio.gather(*(caller.run(s) for s in specs))
    return list(artifacts), _cpu_s() - cpu0, time.monotonic() - t0


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--max", type=int, default=16)
    parser.add_argument("--agents", type=int, default=2)
    parser.add_argument("--keep-going", action="store_true", help="Go on past the first miss.")
    args = parser.parse_args()
    corpus = default_corpus(build=True)
    caller = AiortcCaller(corpus)
    agents = [AgentProcess(["--delay", "200"]).start() for _ in range(args.agents)]
    best = 0
    try:
        print(f"{'calls':>5} {'p99 send ms':>11} {'late frames':>11} {'lost pkts':>9} "
              f"{'failed':>6} {'cpu/call':>8}")
        k = 1
        while k <= args.max:
            arts, cpu, wall = asyncio.run(_step(caller, [a.url for a in agents], k))
            timings = [a.recording.send_timing for a in arts if a.recording.send_timing]
            p99 = max((t.error_p99_ms for t in timings), default=float("inf"))
            late = sum(t.late_frames for t in timings)
            lost = sum(a.recording.transport[-1].packets_lost for a in arts if a.recording.transport)
            failed = sum(1 for a in arts if a.recording.failure)
            call_s = statistics.median(a.recording.duration_ns / 1e9 for a in arts) or wall
            cpu_per_call = cpu / (k * call_s)
            ok = failed == 0 and lost == 0 and p99 <= P99_LIMIT_MS
            print(f"{k:>5} {p99:>11.1f} {late:>11} {lost:>9} {failed:>6} {cpu_per_call:>7.1%}"
                  + ("" if ok else "   <- not sustained"), flush=True)
            if not ok and not args.keep_going:
                break
            if ok:
                best = max(best, k)
            k = k + 1 if k < 4 else k + 2
    finally:
        for agent in agents:
            agent.stop()
    print(f"\nlargest sustained concurrent call count in one caller process: {best}")


if __name__ == "__main__":
    main()

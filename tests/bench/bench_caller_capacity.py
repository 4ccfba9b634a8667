"""Benchmark (not a test): how many concurrent calls one caller core sustains, and its CPU per call.

    .venv/bin/python tests/bench/bench_caller_capacity.py [--steps 4,8,16,24,30] \\
        [--caller aiortc|browser] [--caller-cpu 0] [--agent-cpus 1] [--agent-workers 2]

The caller runs as one caller worker process (``LocalExecutor``, workers=1) pinned with
this driver to ``--caller-cpu``; the reference agent (``agent serve --workers N``) is
pinned to ``--agent-cpus`` with ``taskset``, so the figures are the caller's own. The
agent runs in ``--mode playback`` by default: it sends a loop of pre-encoded speech and
silence to every call and ignores the caller, so one agent core is not the limit of the
benchmark (``--agent-mode echo`` answers each turn instead, at several times the cost).
For each concurrency K, K calls run at once (started one at a time, as admission
control does; its lag limits are off here, so K is what the step asks for); each call
says five questions 2.5 s apart without waiting for replies (echo mode: waits for them),
receiving the agent's audio all along.

Per step it prints the send-timing figures of the validity guard (median and worst
call), the number of calls the guard marked disturbed, and the caller's CPU per call:
the worker process's own CPU time (``/proc/PID/stat``; for the browser caller plus
its Chromium processes) divided by the summed duration of the calls, in % of one core.
Sustained = every call finished, none disturbed (so send p99 <= 5 ms for each).
The load average before each step is printed: other work on the machine disturbs calls.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from support import local_endpoint, say_scenario

from harness.agent.process import AgentProcess
from harness.corpus.defaults import default_corpus
from harness.executors.admission import AdmissionSettings
from harness.executors.base import FinishedCall
from harness.executors.local import LocalExecutor
from harness.executors.worker import WorkerConfig
from harness.records import CallerKind, CallRecording, CallSpec, Scenario, Step, StepKind

TURNS = ("q_time", "q_name", "cmd_play_music", "q_order_status", "cmd_call_mother")
TICK = os.sysconf("SC_CLK_TCK")


def _tree(pid: int) -> list[int]:
    """``pid`` and every live descendant (Chromium's processes for the browser caller)."""
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        try:
            for task in Path(f"/proc/{p}/task").iterdir():
                todo.extend(int(c) for c in (task / "children").read_text().split())
        except OSError:
            continue
    return out


def cpu_seconds(pid: int, tree: bool) -> float:
    """User + system CPU of ``pid`` (and its live descendants with ``tree``), with that of
    its waited-for children."""
    total = 0.0
    for p in _tree(pid) if tree else [pid]:
        try:
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        # fields[11..14] = utime stime cutime cstime (stat fields 14-17)
        total += sum(int(x) for x in fields[11:15]) / TICK
    return total


def scenario(answered: bool) -> Scenario:
    if answered:
        return say_scenario("capacity", list(TURNS))
    steps: list[Step] = []
    for item in TURNS:
        steps.append(Step(index=len(steps), kind=StepKind.SAY, utterance=item, await_reply=False))
        steps.append(Step(index=len(steps), kind=StepKind.SILENCE, duration_ms=2500))
    return Scenario(id="capacity", steps=tuple(steps))


async def step(config: WorkerConfig, kind: CallerKind, url: str, k: int,
               answered: bool) -> tuple[list[CallRecording], float, int]:
    admission = AdmissionSettings(lag_p99_ms=math.inf, lag_max_ms=math.inf, max_starting=1, starting_s=0.3)
    executor = LocalExecutor(config, workers=1, concurrency=k, admission=admission)
    plan = scenario(answered)
    specs = [CallSpec(call_id=f"cap{k}-{i}", scenario=plan, endpoint=local_endpoint(url), caller=kind)
             for i in range(k)]
    recordings: list[CallRecording] = []
    live = peak = 0

    async def started(spec: CallSpec, worker: object) -> None:
        nonlocal live, peak
        live += 1
        peak = max(peak, live)

    async def finished(call: FinishedCall) -> None:
        nonlocal live
        live -= 1
        recordings.append(call.recording)

    try:
        await executor.start()
        (info,) = executor.workers
        tree = kind is CallerKind.BROWSER
        cpu0 = cpu_seconds(info.pid, tree)
        await executor.run(specs, finished, started)
        cpu = cpu_seconds(info.pid, tree) - cpu0
    finally:
        await executor.aclose()
    return recordings, cpu, peak


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", default="2,4,8,12,16,20,24,30")
    parser.add_argument("--caller", default="aiortc", choices=["aiortc", "browser"])
    parser.add_argument("--caller-cpu", type=int, default=0)
    parser.add_argument("--agent-cpus", default="1")
    parser.add_argument("--agent-workers", type=int, default=2)
    parser.add_argument("--agent-mode", default="playback", choices=["playback", "echo"])
    parser.add_argument("--keep-going", action="store_true", help="Go on past the first step not sustained.")
    args = parser.parse_args()
    kind = CallerKind(args.caller)
    os.sched_setaffinity(0, {args.caller_cpu})  # the worker (forked from here) inherits it
    corpus = default_corpus(build=True)
    config = WorkerConfig(corpus_dir=corpus.root, caller_kinds=(kind,))
    agent = AgentProcess(["--delay", "200", "--workers", str(args.agent_workers), "--mode", args.agent_mode],
                         prefix=["taskset", "-c", args.agent_cpus]).start()
    best = 0
    print(f"caller {kind} on cpu {args.caller_cpu}; agent ({args.agent_mode}, {args.agent_workers} workers) "
          f"on cpus {args.agent_cpus}")
    print(f"{'calls':>5} {'peak':>4} {'load':>5} {'send p99 med/worst ms':>22} {'gap worst ms':>12} "
          f"{'lag max worst':>13} {'disturbed':>9} {'failed':>6} {'cpu/call':>8}")
    try:
        for k in (int(x) for x in args.steps.split(",")):
            load = os.getloadavg()[0]
            recs, cpu, peak = asyncio.run(step(config, kind, agent.url, k, args.agent_mode == "echo"))
            vals = [r.validity for r in recs if r.validity is not None]
            p99 = [v.send_error_p99_ms for v in vals if v.send_error_p99_ms is not None]
            gaps = [v.max_frame_gap_ms for v in vals if v.max_frame_gap_ms is not None]
            lags = [v.loop_lag_max_ms for v in vals if v.loop_lag_max_ms is not None]
            disturbed = sum(1 for v in vals if v.disturbed)
            failed = sum(1 for r in recs if r.failure is not None)
            call_s = sum(r.duration_ns for r in recs) / 1e9
            ok = failed == 0 and disturbed == 0 and len(recs) == k
            print(f"{k:>5} {peak:>4} {load:>5.2f} {statistics.median(p99) if p99 else math.nan:>10.1f} / "
                  f"{max(p99, default=math.nan):>9.1f} {max(gaps, default=math.nan):>12.1f} "
                  f"{max(lags, default=math.nan):>13.1f} {disturbed:>9} {failed:>6} "
                  f"{100 * cpu / call_s if call_s else math.nan:>7.2f}%" + ("" if ok else "   <- not sustained"),
                  flush=True)
            for r in recs:
                if r.failure is not None:
                    print(f"      {r.call_id}: {r.failure.kind}: {r.failure.reason}")
            if ok:
                best = max(best, k)
            elif not args.keep_going:
                break
            time.sleep(2.0)
    finally:
        agent.stop()
    print(f"\nlargest sustained concurrency on one caller core: {best}")


if __name__ == "__main__":
    main()

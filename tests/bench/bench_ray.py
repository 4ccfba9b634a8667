"""Benchmark: calls on a real multi-node Ray cluster on this machine.

Starts ``--nodes`` Ray nodes (``ray.cluster_utils.Cluster``, loopback only, one CPU
each, regions r0, r1, ...), one caller actor per node playing ``--calls-per-worker``
calls at once, and ``--agents`` reference agents; plays ``--calls`` short calls (one ``say``
step) through ``RayExecutor`` while a driver loop scores and writes each call into one
run folder as it returns. Prints the cluster's and the actors' start time, calls per
second end to end, send timing, turn latency per region and its error against the
agent's ground truth.

    .venv/bin/python tests/bench/bench_ray.py [--nodes 2] [--calls 40] [--calls-per-worker 2]

All nodes share this machine's two cores with the agents and the driver, so calls/s
is bounded by the machine, not by Ray: it says what the Ray path costs, not how far a
real cluster goes.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from executors.ray_driver import describe, driver_run, latency_errors, plan, use_loopback_ray

use_loopback_ray()  # before Ray is imported

import ray  # noqa: E402
from ray.cluster_utils import Cluster  # noqa: E402

from harness.agent.process import AgentProcess  # noqa: E402
from harness.corpus.defaults import default_corpus  # noqa: E402
from harness.executors.ray import RayExecutor  # noqa: E402
from harness.executors.worker import WorkerConfig  # noqa: E402
from harness.report.context import read_context  # noqa: E402
from harness.report.regions import region_latency  # noqa: E402


async def _run(executor: RayExecutor, specs: list, root: Path):  # type: ignore[no-untyped-def, type-arg]
    t0 = time.monotonic()
    try:
        await executor.start()
        print(f"{len(executor.actors)} caller actors started in {time.monotonic() - t0:.1f} s")
        return await driver_run(root).drive(executor, specs)
    finally:
        await executor.aclose()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--nodes", type=int, default=2)
    parser.add_argument("--calls", type=int, default=40)
    parser.add_argument("--calls-per-worker", type=int, default=2)
    parser.add_argument("--delay", type=int, default=200, help="the agent's answer delay, ms")
    parser.add_argument("--agents", type=int, default=2, help="reference agent processes (calls alternate)")
    args = parser.parse_args()
    corpus = default_corpus(build=True)
    t0 = time.monotonic()
    cluster = Cluster(initialize_head=True, head_node_args={
        "num_cpus": 1, "labels": {"region": "r0"}, "include_dashboard": False})
    agents: list[AgentProcess] = []
    try:
        for i in range(1, args.nodes):
            cluster.add_node(num_cpus=1, labels={"region": f"r{i}"})
        print(f"{args.nodes}-node Ray cluster started in {time.monotonic() - t0:.1f} s")
        with tempfile.TemporaryDirectory() as tmp:
            agents = [AgentProcess(["--delay", str(args.delay)], truth_log=Path(tmp) / f"truth-{i}.jsonl").start()
                      for i in range(args.agents)]
            executor = RayExecutor(cluster.address, WorkerConfig(corpus_dir=corpus.root), workers=1,
                                   calls_per_worker=args.calls_per_worker)
            run = asyncio.run(_run(executor, plan([a.url for a in agents], args.calls), Path(tmp)))
            failed = sum(1 for r in run.recordings.values() if r.failure)
            print(f"{args.calls} calls ({failed} failed) in {run.seconds:.1f} s: "
                  f"{args.calls / run.seconds:.2f} calls/s, first back after {run.arrivals[0][0]:.1f} s")
            p99s = [r.send_timing.error_p99_ms for r in run.recordings.values() if r.send_timing]
            print(f"send timing p99 per call: median {statistics.median(p99s):.1f} ms, worst {max(p99s):.1f} ms")
            for row in region_latency(read_context(run.folder.path).calls):
                s = row.summary
                print(f"region {row.region}: {row.calls} calls, turn latency p50 {s.p50:.0f} ms, "
                      f"p95 {s.p95:.0f} ms")
            run.recordings = {c: r for c, r in run.recordings.items() if r.failure is None}
            errors = latency_errors(run, [Path(tmp) / f"truth-{i}.jsonl" for i in range(args.agents)],
                                    strict=False)
            print(f"turn latency vs agent truth: {describe(errors)} "
                  f"({len(run.recordings) - len(errors)} turns unanswered or unmeasured)")
    finally:
        for agent in agents:
            agent.stop()
        ray.shutdown()
        cluster.shutdown()


if __name__ == "__main__":
    main()

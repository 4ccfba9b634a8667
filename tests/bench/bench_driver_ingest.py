"""Benchmark (not a test): how many finished calls per second the driver scores and writes.

    .venv/bin/python tests/bench/bench_driver_ingest.py [--calls 120] [--senders 2] \\
        [--scoring-workers N] [--asr] [--from RUN_DIR]

No media: ``--senders`` worker processes hand the driver recorded ``FinishedCall``s
(compressed audio included, as caller workers do) as fast as it takes them, through the
same kind of pipe, and the driver runs the real lifecycle on them: write each call's
folder (WAVs, recording.json, scenario.json), score it in the niced pool, append its
results. Printed: calls per second from the first call received to the last one scored
and written, against the ~17 calls/s that 1,000 concurrent 60-second calls finish at.

The calls are 60-second echo calls (twelve turns of corpus speech, each echoed back
0.6 s later) built from the corpus, or every call of ``--from RUN_DIR`` replayed. By
default their scenario has timing expectations only (segmentation, latency, barge-in,
cutoffs, transport); ``--asr`` adds an ``exact`` expectation to every turn, so each
reply also goes through Whisper (WER), the heaviest scoring there is.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import multiprocessing
import os
import pickle
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from multiprocessing.connection import Connection
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from metrics.echo_synth import synth_call, voiced

from harness.callers.base import CallArtifacts
from harness.corpus.defaults import default_corpus
from harness.executors.base import FinishedCall, OnFinished, OnStarted
from harness.executors.scoring import PoolScorer
from harness.lifecycle import RunLifecycle
from harness.plan import RunPlan
from harness.records import CallerKind, CallSpec, Dialect, EndpointSpec, Expectation, Scenario
from harness.store.run_folder import RunFolder, iter_call_dirs, load_recording, load_scenario

TARGET_PER_S = 1000 / 60
TURNS = ("q_time", "q_name", "cmd_play_music", "q_order_status", "cmd_call_mother", "q_weather")
ENDPOINT = EndpointSpec(name="replay", dialect=Dialect.OPENAI_REALTIME, url="http://127.0.0.1:1")


def synthetic(asr: bool) -> list[tuple[Scenario, FinishedCall]]:
    corpus = default_corpus(build=True)
    items = [TURNS[i % len(TURNS)] for i in range(12)]
    turns = [(item, voiced(corpus, item),
              Expectation(exact=corpus.get(item).text, max_wer=1.0) if asr else Expectation(within_ms=3000))
             for item in items]
    call = synth_call(corpus, turns, tags=("echo",), call_id="replay")
    finished = FinishedCall.from_artifacts(CallArtifacts(recording=call.recording, caller_audio=call.caller,
                                                         received_audio=call.received))
    return [(call.scenario, finished)]


def recorded(run_dir: Path) -> list[tuple[Scenario, FinishedCall]]:
    out = []
    for call_dir in iter_call_dirs(run_dir):
        rec, caller, received = load_recording(call_dir, dtype="float32")
        out.append((load_scenario(call_dir), FinishedCall.from_artifacts(CallArtifacts(
            recording=rec, caller_audio=caller, received_audio=received))))  # type: ignore[arg-type]
    return out


def _sender(conn: Connection, path: str, ids: Sequence[str]) -> None:
    """A stand-in caller worker: sends its share of finished calls as fast as they are read."""
    calls: list[FinishedCall] = pickle.loads(Path(path).read_bytes())
    for i, call_id in enumerate(ids):
        base = calls[i % len(calls)]
        conn.send(dataclasses.replace(base, recording=dataclasses.replace(base.recording, call_id=call_id)))
    conn.close()


class ReplayExecutor:
    """Fits the ``Executor`` protocol; its calls come from ``senders`` processes."""

    def __init__(self, pickled: Path, senders: int) -> None:
        self.pickled = pickled
        self.senders = senders
        self.first_received: float | None = None

    async def run(self, specs: Sequence[CallSpec], on_finished: OnFinished,
                  on_started: OnStarted | None = None) -> None:
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[FinishedCall | None] = asyncio.Queue(maxsize=64)
        ctx = multiprocessing.get_context("forkserver")
        procs, threads = [], []
        for s in range(self.senders):
            ids = [spec.call_id for spec in specs[s::self.senders]]
            parent, child = ctx.Pipe(duplex=False)
            proc = ctx.Process(target=_sender, args=(child, str(self.pickled), ids), daemon=True)
            proc.start()
            child.close()
            procs.append(proc)

            def read(conn: Connection = parent) -> None:
                while True:
                    try:
                        message = conn.recv()
                    except EOFError:
                        break
                    asyncio.run_coroutine_threadsafe(queue.put(message), loop).result()
                asyncio.run_coroutine_threadsafe(queue.put(None), loop).result()

            threads.append(threading.Thread(target=read, daemon=True))
            threads[-1].start()
        done = 0
        while done < self.senders:
            message = await queue.get()
            if message is None:
                done += 1
                continue
            if self.first_received is None:
                self.first_received = time.monotonic()
            await on_finished(message)
        for proc in procs:
            proc.join()

    async def aclose(self) -> None:
        return None


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--calls", type=int, default=120)
    parser.add_argument("--senders", type=int, default=2)
    parser.add_argument("--scoring-workers", type=int, default=None)
    parser.add_argument("--asr", action="store_true")
    parser.add_argument("--from", dest="source", type=Path, default=None)
    args = parser.parse_args()
    sources = recorded(args.source) if args.source else synthetic(args.asr)
    scenarios = {i: scenario for i, (scenario, _) in enumerate(sources)}
    seconds = sum(f.recording.duration_ns for _, f in sources) / len(sources) / 1e9
    with tempfile.TemporaryDirectory() as tmp:
        pickled = Path(tmp) / "calls.pkl"
        pickled.write_bytes(pickle.dumps([f for _, f in sources]))
        specs = tuple(CallSpec(call_id=f"replay-{i:05d}", scenario=scenarios[i % len(sources)], endpoint=ENDPOINT,
                               caller=CallerKind.AIORTC) for i in range(args.calls))
        folder = RunFolder.create(Path(tmp) / "runs", "ingest")
        executor = ReplayExecutor(pickled, args.senders)
        scorer = PoolScorer(args.scoring_workers)
        lifecycle = RunLifecycle(folder, executor, scorer, corpus=default_corpus(build=False))

        async def go() -> float:
            try:
                await lifecycle.execute(RunPlan(specs=specs))
            finally:
                await lifecycle.aclose()
            return time.monotonic()

        end = asyncio.run(go())
        assert executor.first_received is not None
        elapsed = end - executor.first_received
        failed = sum(1 for r in lifecycle.results if r.failure is not None)
        size = sum(p.stat().st_size for p in folder.path.rglob("*") if p.is_file()) / 1e6
    rate = args.calls / elapsed
    print(f"{args.calls} calls of {seconds:.0f} s ({'with' if args.asr else 'no'} ASR), {args.senders} senders, "
          f"{scorer.workers} scoring processes on {os.cpu_count()} cores; load before {os.getloadavg()[0]:.2f}")
    print(f"  {rate:.2f} calls/s scored and written ({elapsed:.1f} s; {failed} scoring failures; "
          f"{size / args.calls:.1f} MB written per call)")
    verdict = "keeps up with" if rate >= TARGET_PER_S else "does NOT keep up with"
    print(f"  {verdict} {TARGET_PER_S:.1f} calls/s (1,000 concurrent 60-s calls): "
          f"{rate / TARGET_PER_S:.0%} of that rate")


if __name__ == "__main__":
    main()

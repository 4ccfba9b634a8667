"""What the Ray tests and the Ray benchmark share: a plan, a driver loop, a local run, truth.

Import as ``from executors.ray_driver import ...`` (``tests`` is on the pythonpath).

The driver loop is what the run lifecycle does with each ``FinishedCall``: write the
recording and audio into one run folder, score the call, append its measurements.
``InProcessExecutor`` is the local reference: the same ``CallWorker`` in this process.
"""

from __future__ import annotations

import asyncio
import os
import statistics
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from support import CODEC_TERM_MS, calls_in_this_thread, local_endpoint

from harness.agent.truth import truth_turns
from harness.corpus.model import Corpus
from harness.executors.base import Executor, FinishedCall, OnFinished, OnStarted
from harness.executors.worker import CallWorker, WorkerConfig, start_paced_worker
from harness.records import (
    CallerKind,
    CallRecording,
    CallSpec,
    Expectation,
    Measurement,
    Scenario,
    Step,
    StepKind,
    WorkerInfo,
)
from harness.scoring import score_call
from harness.store.run_folder import RunFolder

QUESTIONS = ("q_time", "q_name", "cmd_play_music", "q_order_status", "cmd_call_mother")
WITHIN_MS = 2500.0

LOOPBACK_ENV = {"RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0", "RAY_USAGE_STATS_ENABLED": "0"}
"""Set before Ray is imported: with the first, Ray resolves this host as 127.0.0.1, so a
cluster on one machine talks over loopback only (the machine's tests must not use its
interface address); the second keeps Ray from reporting usage."""


def use_loopback_ray() -> None:
    for key, value in LOOPBACK_ENV.items():
        os.environ.setdefault(key, value)


def plan(agent_urls: Sequence[str], n: int, prefix: str = "call") -> list[CallSpec]:
    """``n`` short calls, one ``say`` step each (a question, cycled), with a latency expectation.

    Calls alternate over the agents (one endpoint behind several processes), so the
    reference agent is not what limits the calls: one agent process answering four
    calls at once on a busy 2-core machine decides turns seconds late.
    """
    endpoints = [local_endpoint(url, "reference-agent") for url in agent_urls]
    specs = []
    for i in range(n):
        endpoint = endpoints[i % len(endpoints)]
        question = QUESTIONS[i % len(QUESTIONS)]
        step = Step(index=0, kind=StepKind.SAY, utterance=question, expect=Expectation(within_ms=WITHIN_MS))
        scenario = Scenario(id=f"ask_{question}", steps=(step,))
        specs.append(CallSpec(call_id=f"{prefix}-{i:02d}", scenario=scenario, endpoint=endpoint,
                              caller=CallerKind.AIORTC))
    return specs


@dataclass
class DriverRun:
    """What the driver saw: one entry per finished call, in arrival order."""

    folder: RunFolder
    started: float = field(default_factory=time.monotonic)
    arrivals: list[tuple[float, str]] = field(default_factory=list)
    """(seconds since the run started, call id) as each call came back."""
    recordings: dict[str, CallRecording] = field(default_factory=dict)
    measurements: dict[str, tuple[Measurement, ...]] = field(default_factory=dict)
    started_on: dict[str, WorkerInfo | None] = field(default_factory=dict)
    """call id -> the worker the executor said it handed the call to (``on_started``)."""
    seconds: float = 0.0

    async def on_started(self, spec: CallSpec, worker: WorkerInfo | None) -> None:
        self.started_on[spec.call_id] = worker

    async def on_finished(self, finished: FinishedCall) -> None:
        self.arrivals.append((time.monotonic() - self.started, finished.recording.call_id))
        artifacts = finished.artifacts()
        rec = artifacts.recording
        self.folder.write_recording(rec, artifacts.caller_audio, artifacts.received_audio)
        self.recordings[rec.call_id] = rec
        self.measurements[rec.call_id] = score_call(rec, self._scenarios[rec.call_id],
                                                    artifacts.received_audio).measurements
        self.folder.append_results(self.measurements[rec.call_id])

    async def drive(self, executor: Executor, specs: Sequence[CallSpec]) -> DriverRun:
        self._scenarios = {s.call_id: s.scenario for s in specs}
        for spec in specs:
            self.folder.write_scenario(spec.call_id, spec.scenario)
        self.started = time.monotonic()
        try:
            await executor.run(specs, self.on_finished, self.on_started)
        finally:
            self.seconds = time.monotonic() - self.started
        return self


def driver_run(root: Path) -> DriverRun:
    """A driver writing a new run folder under ``root``."""
    root.mkdir(parents=True, exist_ok=True)
    return DriverRun(folder=RunFolder.create(root, "run"))


class InProcessExecutor:
    """The local reference: one ``CallWorker`` in this process, ``concurrency`` calls at once.

    It hands the calls back only after all of them ended, so the driver's scoring never
    runs in the event loop that paces live calls (the disturbance issue 10 is about).
    While the calls play, this thread has what a caller worker gives its loop
    (``start_paced_worker``: real-time scheduling, the start-up heap frozen out of full
    collections; a test process that had loaded Ray paused 229 ms for one); restored
    after, for the driver's own work.
    """

    def __init__(self, corpus: Corpus, concurrency: int) -> None:
        self._config = WorkerConfig(corpus_dir=corpus.root)
        self._worker: CallWorker | None = None
        self._concurrency = concurrency

    async def run(self, specs: Sequence[CallSpec], on_finished: OnFinished,
                  on_started: OnStarted | None = None) -> None:
        with calls_in_this_thread():
            worker = self._worker = await start_paced_worker(self._config)
            gate = asyncio.Semaphore(self._concurrency)

            async def one(spec: CallSpec) -> FinishedCall:
                async with gate:
                    if on_started is not None:
                        await on_started(spec, worker.info)
                    return await worker.run_call(spec)

            finished_calls = await asyncio.gather(*(one(s) for s in specs))
        for finished in finished_calls:
            await on_finished(finished)

    async def aclose(self) -> None:
        if self._worker is not None:
            await self._worker.aclose()


def agent_call_id(rec: CallRecording) -> str:
    return str(rec.dialect_info["location"]).rsplit("/", 1)[-1]


MATCH_WINDOW_NS = 100_000_000
"""A measured turn and an agent turn are the same turn when their speech ends are this close."""


def latency_errors(run: DriverRun, truth_logs: Sequence[Path], *, strict: bool = True) -> list[float]:
    """Measured turn latency minus the agents' truth, one per answered turn (as in
    tests/callers/test_latency_truth.py: both on this host's CLOCK_MONOTONIC).

    ``strict``: every turn must be measured and answered; otherwise such turns are skipped
    (the benchmark counts them instead)."""
    all_truth = [t for log in truth_logs for t in truth_turns(log)]
    errors = []
    for call_id, rec in sorted(run.recordings.items()):
        assert rec.failure is None and rec.origin_monotonic_ns is not None, (call_id, rec.failure)
        measured = {m.turn: m.value for m in run.measurements[call_id] if m.metric == "turn_latency_ms"}
        truth = [t for t in all_truth if t.call_id == agent_call_id(rec)]
        for sent in rec.sent:
            end_ns = rec.origin_monotonic_ns + sent.speech_end_ns
            match = [t for t in truth if abs(t.speech_end_ns - end_ns) < MATCH_WINDOW_NS]
            value = measured.get(sent.step_index)
            expected = match[0].latency_ms if len(match) == 1 else None
            if not strict and (value is None or expected is None):
                continue
            assert len(match) == 1, f"{call_id} turn {sent.step_index}: {len(match)} agent turns match"
            assert value is not None and expected is not None, (call_id, sent.step_index)
            errors.append(value - expected - CODEC_TERM_MS)
    return errors


def describe(errors: Sequence[float]) -> str:
    abs_errors = [abs(e) for e in errors]
    return (f"n={len(errors)} median |err| {statistics.median(abs_errors):.1f} ms, "
            f"max {max(abs_errors):.1f} ms")

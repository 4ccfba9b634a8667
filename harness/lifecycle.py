"""One run lifecycle: plan -> execute on an executor -> score -> write -> gate.

``voice-harness run`` and ``demo`` go through it (``harness.session``), and so can the
pytest plugin and ``rescore``: whoever drives a run supplies the plan, an executor
(local worker processes, Ray actors, or calls in this loop for one-at-a-time use) and
a scorer, and listens to typed hooks instead of copying the start/finish code:

- ``call_started`` (``CallStarted``): a worker began a call;
- ``call_finished`` (``CallFinished``): a call is written and scored (its ``CallResult``);
- ``run_finished`` (``RunFinished``): every call is in and the gate has decided.

as pytest-benchmark's hookspecs and Locust's ``events`` do. The driver is the only
writer of the run folder: each call's recording is written as it arrives, its results
lines once it is scored, so a run killed mid-way keeps every finished call.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Generic, TypeVar

from rich.console import Console

from harness.corpus.model import Corpus
from harness.executors.base import Executor, FinishedCall
from harness.executors.scoring import Scorer, corpus_texts
from harness.exit_codes import EXIT_FAILURES, EXIT_OK
from harness.gate import finish_run
from harness.plan import RunPlan, scenario_error_result
from harness.records import (
    CallerKind,
    CallRecording,
    CallResult,
    CallSpec,
    EndpointSpec,
    MetricSummary,
    Scenario,
    SegmentationParams,
    WorkerInfo,
)
from harness.slo.rules import SloFile
from harness.stats.percentiles import summarize
from harness.store.run_folder import RunFolder
from harness.store.run_info import build_run_info, utc_now_iso
from harness.validity import ValiditySettings

log = logging.getLogger(__name__)

SUMMARY_GROUPS = ("metric", "endpoint", "caller")
MAX_PENDING = 64
"""Finished calls being written or scored at once (their audio is held in memory)."""

E = TypeVar("E")


class Hook(Generic[E]):
    """The listeners of one event, called in the order they were added.

    A listener that raises is logged and skipped: a progress bar's bug must not lose
    a run's results.
    """

    def __init__(self, name: str) -> None:
        self.name = name
        self._listeners: list[Callable[[E], None]] = []

    def add(self, listener: Callable[[E], None]) -> Callable[[E], None]:
        """Register ``listener`` (usable as a decorator)."""
        self._listeners.append(listener)
        return listener

    def remove(self, listener: Callable[[E], None]) -> None:
        self._listeners.remove(listener)

    def fire(self, event: E) -> None:
        for listener in list(self._listeners):
            try:
                listener(event)
            except Exception:
                log.exception("%s listener %r failed", self.name, listener)


@dataclass(frozen=True, slots=True, kw_only=True)
class CallStarted:
    spec: CallSpec
    worker: WorkerInfo | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class CallFinished:
    result: CallResult
    recording: CallRecording | None = None
    """``None`` for a scenario file that never became a call."""
    spec: CallSpec | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class RunFinished:
    run_dir: Path
    results: tuple[CallResult, ...]
    exit_code: int
    failed: int
    disturbed: int


@dataclass(frozen=True, slots=True)
class RunHooks:
    call_started: Hook[CallStarted] = field(default_factory=lambda: Hook("call_started"))
    call_finished: Hook[CallFinished] = field(default_factory=lambda: Hook("call_finished"))
    run_finished: Hook[RunFinished] = field(default_factory=lambda: Hook("run_finished"))


@dataclass(frozen=True, slots=True, kw_only=True)
class RunDescription:
    """What run.json says about a run besides its results."""

    argv: tuple[str, ...] = ()
    endpoints: tuple[EndpointSpec, ...] = ()
    callers: tuple[CallerKind, ...] = ()
    scenarios: tuple[Scenario, ...] = ()
    repeats: int = 1
    segmentation: SegmentationParams = field(default_factory=SegmentationParams)
    validity: ValiditySettings = field(default_factory=ValiditySettings)


def exit_code_of(results: Sequence[CallResult]) -> int:
    """1 when any call failed, missed an expectation or was disturbed by the harness."""
    return EXIT_OK if all(r.ok and not r.disturbed for r in results) else EXIT_FAILURES


def counted(results: Sequence[CallResult], include_disturbed: bool = False) -> list[CallResult]:
    """The results whose numbers count (summaries, SLOs): disturbed calls only if asked."""
    return [r for r in results if include_disturbed or not r.disturbed]


def _takes_on_started(executor: Executor) -> bool:
    try:
        return "on_started" in inspect.signature(executor.run).parameters
    except (TypeError, ValueError):
        return False


class RunLifecycle:
    """Drives one run folder through execute -> score -> write -> gate."""

    def __init__(self, folder: RunFolder, executor: Executor, scorer: Scorer, *,
                 corpus: Corpus | None = None, hooks: RunHooks | None = None,
                 description: RunDescription | None = None, include_disturbed: bool = False) -> None:
        self.folder = folder
        self.executor = executor
        self.scorer = scorer
        self.corpus = corpus
        self.hooks = hooks or RunHooks()
        self.description = description or RunDescription()
        self.include_disturbed = include_disturbed
        self.started_at = utc_now_iso()
        self.max_pending = MAX_PENDING
        self.results: list[CallResult] = []
        self._planned = 0
        self._scenario_errors = 0
        self._summary: tuple[int, tuple[MetricSummary, ...]] | None = None

    # --------------------------------------------------------------- execute + score

    async def execute(self, run_plan: RunPlan, *, write_info: bool = True) -> list[CallResult]:
        """Every planned call, written and scored; results in the order calls finished.

        ``write_info``: write run.json first (off when the caller owns run.json, as the
        pytest plugin's shared run folder does).
        """
        self._planned = len(run_plan.specs)
        self._scenario_errors = len(run_plan.scenario_errors)
        if write_info:
            self.write_info(finished=False)  # a killed run still leaves a readable run.json
        for error in run_plan.scenario_errors:
            self._record(scenario_error_result(error), None, None)
        specs = {s.call_id: s for s in run_plan.specs}
        pending: set[asyncio.Task[None]] = set()
        deferred: list[FinishedCall] = []
        slots = asyncio.Semaphore(self.max_pending)

        async def on_started(spec: CallSpec, worker: WorkerInfo | None) -> None:
            self.hooks.call_started.fire(CallStarted(spec=spec, worker=worker))

        async def process(finished: FinishedCall, spec: CallSpec) -> None:
            try:
                await asyncio.to_thread(self._write_call, finished, spec)
                if self.scorer.in_loop:
                    deferred.append(finished)  # scored once no call shares this loop
                else:
                    await self._score(finished, spec)
            finally:
                slots.release()

        async def on_finished(finished: FinishedCall) -> None:
            spec = specs.get(finished.recording.call_id)
            if spec is None:
                log.warning("executor returned an unplanned call %s", finished.recording.call_id)
                return
            # Calls are written and scored side by side (writing waits on the disk, scoring
            # on the pool); past ``max_pending`` the executor waits here: back-pressure.
            await slots.acquire()
            task = asyncio.create_task(process(finished, spec))
            pending.add(task)
            task.add_done_callback(pending.discard)

        try:
            if _takes_on_started(self.executor):
                await self.executor.run(run_plan.specs, on_finished, on_started)
            else:  # an executor written before ``on_started`` existed: no call_started events
                await self.executor.run(run_plan.specs, on_finished)
        finally:
            if pending:  # what has arrived is written and scored, even if the run is cut short
                await asyncio.gather(*pending)
        for finished in deferred:
            await self._score(finished, specs[finished.recording.call_id])
        return list(self.results)

    def _write_call(self, finished: FinishedCall, spec: CallSpec) -> None:
        artifacts = finished.artifacts()
        self.folder.write_scenario(spec.call_id, spec.scenario)
        # the corpus texts the call said, so ``rescore`` reproduces input_wer rows
        self.folder.write_texts(spec.call_id, corpus_texts(self.corpus, finished.recording))
        self.folder.write_recording(artifacts.recording, artifacts.caller_audio, artifacts.received_audio,
                                    artifacts.heard_audio)

    async def _score(self, finished: FinishedCall, spec: CallSpec) -> None:
        if finished.result is not None:  # scored on the worker's host
            result = finished.result
        else:
            result = await self.scorer.score(finished, spec.scenario, corpus_texts(self.corpus, finished.recording))
        await asyncio.to_thread(self.folder.append_results, result.measurements)
        self._record(result, finished.recording, spec)

    def _record(self, result: CallResult, recording: CallRecording | None, spec: CallSpec | None) -> None:
        if recording is None:  # a bad scenario file: its result line is all there is
            self.folder.append_results(result.measurements)
        self.results.append(result)
        self.hooks.call_finished.fire(CallFinished(result=result, recording=recording, spec=spec))

    # ------------------------------------------------------------------ write + gate

    def summary(self) -> tuple[MetricSummary, ...]:
        """Percentiles over the counted calls (disturbed ones only if asked for); computed
        once per set of results (bootstrap CIs take a moment on a big run)."""
        if self._summary is None or self._summary[0] != len(self.results):
            kept = counted(self.results, self.include_disturbed)
            self._summary = (len(self.results), summarize([m for r in kept for m in r.measurements],
                                                          by=SUMMARY_GROUPS))
        return self._summary[1]

    def write_info(self, *, finished: bool) -> None:
        d = self.description
        summary = self.summary() if finished else ()
        self.folder.write_run_json(build_run_info(
            run_id=self.folder.run_id, started_at=self.started_at,
            finished_at=utc_now_iso() if finished else None, argv=d.argv, endpoints=d.endpoints,
            callers=d.callers, scenarios=d.scenarios, repeats=d.repeats, planned=self._planned,
            results=self.results, summary=summary, segmentation=d.segmentation,
            scenario_errors=self._scenario_errors, validity=d.validity,
            summary_includes_disturbed=self.include_disturbed,
        ))

    def finish(self, console: Console, *, slo: SloFile | Path | None = None,
               baseline: Path | None = None) -> int:
        """run.json, the gate and every report; fires ``run_finished``; the exit code."""
        self.write_info(finished=True)
        code = finish_run(self.folder.path, exit_code_of(self.results), console, slo=slo,
                          baseline=baseline, include_disturbed=self.include_disturbed)
        self.hooks.run_finished.fire(RunFinished(
            run_dir=self.folder.path, results=tuple(self.results), exit_code=code,
            failed=sum(1 for r in self.results if not r.ok),
            disturbed=sum(1 for r in self.results if r.disturbed)))
        return code

    async def aclose(self) -> None:
        try:
            await self.executor.aclose()
        finally:
            await self.scorer.aclose()


__all__ = [
    "CallFinished",
    "CallStarted",
    "Hook",
    "RunDescription",
    "RunFinished",
    "RunHooks",
    "RunLifecycle",
    "counted",
    "exit_code_of",
]

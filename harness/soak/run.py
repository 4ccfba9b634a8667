"""One soak, from the first call to the last window: load -> play -> score -> write -> windows.

``SoakRun`` drives the load model and, for each call, has it played (``play``: caller
worker processes, or this loop for tests), scored (``score``: a niced process pool),
written (its audio only if the retention policy keeps it) and counted into the
windows. Nothing it holds grows with the number of calls: results stream to
``results.jsonl``, statistics live in fixed-size histograms, and only the window rows
(one a minute) and at most ``MAX_LISTED_FAILURES`` failures are kept for run.json.

Every window is on disk (``windows.jsonl``, then run.json with its drift) the moment it
closes, so a soak killed at any point leaves everything up to its last window.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import os
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from harness.executors.base import FinishedCall
from harness.records import CallerKind, CallRecording, CallResult, CallSpec, EndpointSpec
from harness.slo.baseline import drift_tolerance
from harness.soak.load import LoadDriver, LoadSettings, ScenarioMix
from harness.soak.process import LoopLagProbe, ProcessReader
from harness.soak.windows import WindowAccumulator
from harness.stats.drift import DEFAULT_ALPHA, DriftEntry, window_drift
from harness.stats.windows import ProcessFigures, WindowRow
from harness.store.retention import AudioRetention
from harness.store.run_folder import RESULTS_JSONL, RUN_JSON, RunFolder
from harness.store.run_info import RunCounts, RunFailure, RunInfo, utc_now_iso
from harness.store.windows import WINDOWS_JSONL, append_window

__all__ = ["MAX_LISTED_FAILURES", "SoakRun", "SoakSettings"]

log = logging.getLogger(__name__)

MAX_LISTED_FAILURES = 200
"""run.json lists the first failures with their reasons; the windows count all of them."""

OUTLIER_QUANTILE = 95.0
OUTLIER_MIN_VALUES = 20
"""A call is an outlier when a turn latency is above the soak's running p95, once the
soak has this many latency values (before that, no call is)."""

PlayCall = Callable[[CallSpec], Awaitable[FinishedCall]]
ScoreCall = Callable[[FinishedCall, CallSpec], Awaitable[CallResult]]
Offload = Callable[..., Awaitable[Any]]


async def _in_thread(fn: Callable[..., Any], *args: Any) -> Any:
    return await asyncio.to_thread(fn, *args)


@dataclass(frozen=True, slots=True, kw_only=True)
class SoakSettings:
    load: LoadSettings
    window_s: float = 60.0
    warmup_s: float | None = None
    """Windows that start before this are left out of drift (default: the first window)."""
    retention: AudioRetention = field(default_factory=AudioRetention)
    alpha: float = DEFAULT_ALPHA
    lag_probe_s: float = 0.1
    """Period of the driver loop's lag probe."""
    max_backlog: int = 16
    """Ended calls waiting to be scored and written, at most (their audio is in memory)."""

    @property
    def drift_from_s(self) -> float:
        return self.window_s if self.warmup_s is None else self.warmup_s


def call_id(spec_scenario: str, caller: CallerKind, index: int) -> str:
    return f"{spec_scenario}-{caller}-{index:06d}"


class SoakRun:
    """A soak in a run folder; ``await run(stop)`` returns when it is over."""

    def __init__(self, folder: RunFolder, settings: SoakSettings, mix: ScenarioMix,
                 targets: Sequence[tuple[EndpointSpec, CallerKind]], play: PlayCall, score: ScoreCall,
                 info: RunInfo, *,
                 on_finished: Callable[[CallResult, CallRecording, CallSpec], None] | None = None,
                 offload: Offload | None = None) -> None:
        """``offload`` runs the disk writes (default: a thread, off the event loop)."""
        if not targets:
            raise ValueError("a soak needs at least one endpoint and caller")
        self.folder = folder
        self.settings = settings
        self.mix = mix
        self.targets = tuple(targets)
        self.play = play
        self.score = score
        self.info = info
        self.on_finished = on_finished
        self.offload: Offload = offload or _in_thread
        self.driver = LoadDriver(settings.load, self._call, on_started=self._started,
                                 on_skipped=self._skipped)
        self.windows = WindowAccumulator(self.driver.now, settings.window_s,
                                         self.driver.origin_monotonic_ns)
        self.rows: list[WindowRow] = []
        self.drift: list[DriftEntry] = []
        self.any_not_ok = False
        self.failures: list[RunFailure] = []
        self._process = ProcessReader()
        self._lag = LoopLagProbe(settings.lag_probe_s)
        self._calls_bytes = 0
        self._backlog = asyncio.Semaphore(settings.max_backlog)
        self._after_tasks: set[asyncio.Task[None]] = set()

    # ------------------------------------------------------------------ calls

    def spec(self, index: int) -> CallSpec:
        scenario = self.mix.pick(index)
        endpoint, caller = self.targets[index % len(self.targets)]
        return CallSpec(call_id=call_id(scenario.id, caller, index), scenario=scenario,
                        endpoint=endpoint, caller=caller, repeat=0)

    def _started(self, index: int) -> None:
        self.windows.started()

    def _skipped(self) -> None:
        self.windows.skipped()

    async def _call(self, index: int) -> None:
        """Play one call; its slot is free once the call has ended. Scoring and writing go
        on behind it, at most ``max_backlog`` calls at a time (a slot waits for room, so
        a scorer slower than the calls cannot pile up calls in memory)."""
        spec = self.spec(index)
        await self._backlog.acquire()
        try:
            finished = await self.play(spec)
        except BaseException:
            self._backlog.release()
            raise
        task = asyncio.ensure_future(self._after(index, spec, finished))
        self._after_tasks.add(task)
        task.add_done_callback(self._after_done)

    def _after_done(self, task: asyncio.Task[None]) -> None:
        self._after_tasks.discard(task)
        self._backlog.release()
        if not task.cancelled() and task.exception() is not None:
            log.error("scoring or writing a call failed", exc_info=task.exception())

    async def _after(self, index: int, spec: CallSpec, finished: FinishedCall) -> None:
        result = await self.score(finished, spec)
        validity = finished.recording.validity
        failed = not result.ok or (validity is not None and validity.disturbed)
        keep = self.settings.retention.keeps(index, failed=failed, outlier=self._outlier(result))
        self._calls_bytes += await self.offload(self._write, finished, spec, result, keep)
        self.windows.ended(result, validity)
        self.any_not_ok |= failed  # as `run`: a disturbed call's numbers do not count (exit 1)
        if result.failure is not None and len(self.failures) < MAX_LISTED_FAILURES:
            self.failures.append(RunFailure(failure=result.failure, call_id=spec.call_id,
                                            scenario=spec.scenario.id, endpoint=spec.endpoint.name,
                                            caller=spec.caller, repeat=0))
        if self.on_finished is not None:
            self.on_finished(result, finished.recording, spec)

    def _outlier(self, result: CallResult) -> bool:
        if not self.settings.retention.needs_outliers:
            return False
        threshold = self.windows.percentile("turn_latency_ms", OUTLIER_QUANTILE, OUTLIER_MIN_VALUES)
        return threshold is not None and any(
            m.metric == "turn_latency_ms" and m.value is not None and m.value > threshold
            for m in result.measurements)

    def _write(self, finished: FinishedCall, spec: CallSpec, result: CallResult, keep: bool) -> int:
        """Scenario, recording (audio if kept) and results lines; the call folder's bytes."""
        artifacts = finished.artifacts() if keep else None
        folder = self.folder
        folder.write_scenario(spec.call_id, spec.scenario)
        if artifacts is not None:
            call_dir = folder.write_recording(artifacts.recording, artifacts.caller_audio,
                                              artifacts.received_audio, artifacts.heard_audio)
        else:
            nothing = np.zeros(0, dtype=np.float32)
            call_dir = folder.write_recording(finished.recording, nothing, nothing, keep_audio=False)
        folder.append_results(result.measurements)
        return _folder_bytes(call_dir)

    # ---------------------------------------------------------------- windows

    def _figures(self) -> tuple[ProcessFigures, int]:
        extra = sum(_size(self.folder.path / name) for name in (RESULTS_JSONL, WINDOWS_JSONL, RUN_JSON))
        return self._process.read(self._lag.take_max()), self._calls_bytes + extra

    async def _close_windows(self) -> None:
        while True:
            await asyncio.sleep(max(0.0, self.windows.window_end - self.driver.now()) + 0.001)
            rows = self.windows.close_due(self._figures)
            if rows:
                await self.offload(self._store, rows)

    def _store(self, rows: Sequence[WindowRow]) -> None:
        for row in rows:
            append_window(self.folder.path, row)
        self.rows.extend(rows)
        self.drift = self.compute_drift()
        self.folder.write_run_json(self.run_info(finished=False))

    def compute_drift(self) -> list[DriftEntry]:
        """Drift over the windows after the warm-up (a partial last window left out)."""
        after_warmup = [r for r in self.rows if r.start_s >= self.settings.drift_from_s - 1e-9]
        return window_drift(after_warmup, self.settings.alpha, tolerance=drift_tolerance)

    def run_info(self, *, finished: bool) -> RunInfo:
        totals = self.windows.totals()
        return dataclasses.replace(
            self.info, finished_at=utc_now_iso() if finished else None,
            counts=RunCounts(calls_planned=totals["started"],
                             calls_finished=totals["completed"] + totals["failed"],
                             calls_failed=totals["failed"]),
            summary=tuple(self.windows.summary()), failures=tuple(self.failures),
            drift=tuple(self.drift))

    # -------------------------------------------------------------------- run

    async def run(self, stop: asyncio.Event | None = None) -> None:
        """The whole soak; on return every call has ended and the last window is stored."""
        self.folder.write_run_json(self.run_info(finished=False))
        self._lag.start()
        self.driver.start_clock()
        closer = asyncio.ensure_future(self._close_windows())
        try:
            await self.driver.run(stop)
            while self._after_tasks:  # the last calls' scoring and writing
                await asyncio.gather(*list(self._after_tasks), return_exceptions=True)
        finally:
            closer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await closer
            await self._lag.stop()
            rows = self.windows.close_due(self._figures)
            last = self.windows.finish(*self._figures())
            await self.offload(self._store, [*rows, *([last] if last is not None else [])])
            self.folder.write_run_json(self.run_info(finished=True))


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0


def _folder_bytes(path: Path) -> int:
    with contextlib.suppress(OSError), os.scandir(path) as entries:
        return sum(e.stat().st_size for e in entries if e.is_file())
    return 0

"""Scoring off the real-time path: finished calls scored in a pool of niced processes.

Scoring is segmentation, metric families, and for some scenarios Whisper ASR, PESQ,
STOI, DNSMOS: hundreds of milliseconds to seconds of CPU per call. It must never run
in a loop that paces audio, nor compete with one at equal priority: the pool's
processes lower their own priority (``nice``), so on a busy machine the caller workers
get the CPU first and scoring soaks up what is left. Each process keeps its loaded
models (Whisper) for the run.

A call whose scoring fails (a metric bug, a pool process killed) becomes a recorded
failure with the reason; the pool is rebuilt for the rest of the run.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import multiprocessing
import os
import threading
import time
from collections.abc import Mapping
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Protocol

from harness.corpus.model import Corpus
from harness.executors.base import FinishedCall
from harness.priority import children_at_normal_priority
from harness.records import (
    CallRecording,
    CallResult,
    Failure,
    FailureKind,
    Scenario,
    SegmentationParams,
)
from harness.scoring import failure_measurement, score_call

log = logging.getLogger(__name__)

SCORING_NICENESS = 10
"""Added to the pool processes' niceness: at 10 a process gets ~1/10 of a core that a
nice-0 caller worker also wants (CFS weights 110 vs 1024)."""


def score_finished(finished: FinishedCall, scenario: Scenario, texts: Mapping[str, str],
                   params: SegmentationParams | None = None) -> CallResult:
    """One finished call's measurements (runs in a pool process, or inline)."""
    artifacts = finished.artifacts()
    return score_call(artifacts.recording, scenario, artifacts.received_audio, params,
                      caller_audio=artifacts.caller_audio, texts=texts)


def corpus_texts(corpus: Corpus | None, recording: CallRecording) -> dict[str, str]:
    """The script of what the caller said (utterance id -> text), where the corpus has it."""
    if corpus is None:
        return {}
    return {u.utterance_id: corpus.get(u.utterance_id).text for u in recording.sent if u.utterance_id in corpus}


def scoring_failed(finished: FinishedCall, reason: str) -> CallResult:
    """A call that could not be scored: a failed result that says why (never dropped)."""
    rec = finished.recording
    failure = rec.failure or Failure(kind=FailureKind.SCORING_ERROR, reason=reason)
    measurement = failure_measurement(rec, Failure(kind=FailureKind.SCORING_ERROR, reason=reason))
    return CallResult(spec_call_id=rec.call_id, scenario=rec.scenario_id, endpoint=rec.endpoint,
                      caller=rec.caller, repeat=rec.repeat, measurements=(measurement,), failure=failure,
                      validity=rec.validity)


class Scorer(Protocol):
    in_loop: bool
    """True when scoring runs in the calling loop: the lifecycle then scores only after
    every call has ended, so no live call shares the loop with it."""

    async def score(self, finished: FinishedCall, scenario: Scenario, texts: Mapping[str, str]) -> CallResult: ...

    async def aclose(self) -> None: ...


def _start_pool_process(niceness: int, driver_pid: int) -> None:
    """Initializer of each pool process: lower its priority, and leave with the driver.

    A pool process blocks on its task queue, whose writing end it holds itself, so it
    would outlive a driver that was killed; a thread checks the driver once a second.
    """
    with contextlib.suppress(OSError):
        os.nice(niceness)
    threading.Thread(target=_exit_with, args=(driver_pid,), name="driver-watch", daemon=True).start()


def _exit_with(pid: int, every_s: float = 1.0) -> None:
    while True:
        time.sleep(every_s)
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            os._exit(1)
        except PermissionError:  # a process of another user took the pid: ours is gone
            os._exit(1)


class PoolScorer:
    """Scores in ``workers`` niced processes (default: one per core)."""

    in_loop = False

    def __init__(self, workers: int | None = None, *, niceness: int = SCORING_NICENESS,
                 params: SegmentationParams | None = None) -> None:
        self.workers = max(1, workers or os.cpu_count() or 1)
        self.niceness = niceness
        self.params = params
        self._pool: ProcessPoolExecutor | None = None

    def _executor(self) -> ProcessPoolExecutor:
        if self._pool is None:
            # forkserver/spawn: the driver has threads, which fork must not copy.
            method = "forkserver" if "forkserver" in multiprocessing.get_all_start_methods() else "spawn"
            self._pool = ProcessPoolExecutor(
                max_workers=self.workers, mp_context=multiprocessing.get_context(method),
                initializer=_start_pool_process, initargs=(self.niceness, os.getpid()))
        return self._pool

    async def start(self) -> None:
        """Start the pool's processes now, beside the loop. Left to the first ``score``,
        the start (the forkserver, then a fork) runs inside the loop: in a caller worker
        that loop paces live calls, and it lagged 86-134 ms when the first call was scored."""
        await asyncio.to_thread(self._warm)

    def _warm(self) -> None:
        pool = self._executor()
        for future in [pool.submit(os.getpid) for _ in range(self.workers)]:
            future.result(timeout=120)

    async def score(self, finished: FinishedCall, scenario: Scenario, texts: Mapping[str, str]) -> CallResult:
        loop = asyncio.get_running_loop()
        try:
            with children_at_normal_priority():  # a replacement pool process, if one is started here
                scored = loop.run_in_executor(self._executor(), score_finished, finished, scenario,
                                              dict(texts), self.params)
            return await scored
        except BrokenProcessPool as exc:
            log.warning("scoring pool broke (%s); starting a new one", exc)
            broken, self._pool = self._pool, None
            if broken is not None:
                broken.shutdown(wait=False, cancel_futures=True)
            return scoring_failed(finished, f"scoring process died: {exc}")
        except Exception as exc:  # a metric bug must leave a result, not stop the run
            log.exception("scoring %s", finished.recording.call_id)
            return scoring_failed(finished, f"scoring failed: {type(exc).__name__}: {exc}")

    async def aclose(self) -> None:
        pool, self._pool = self._pool, None
        if pool is not None:
            await asyncio.to_thread(pool.shutdown, wait=True, cancel_futures=True)


class InlineScorer:
    """Scores in the calling thread; only for when no call is live (see ``Scorer.in_loop``)."""

    in_loop = True

    def __init__(self, params: SegmentationParams | None = None) -> None:
        self.params = params

    async def score(self, finished: FinishedCall, scenario: Scenario, texts: Mapping[str, str]) -> CallResult:
        try:
            return score_finished(finished, scenario, texts, self.params)
        except Exception as exc:
            log.exception("scoring %s", finished.recording.call_id)
            return scoring_failed(finished, f"scoring failed: {type(exc).__name__}: {exc}")

    async def aclose(self) -> None:
        return None


__all__ = ["InlineScorer", "PoolScorer", "Scorer", "corpus_texts", "score_finished", "scoring_failed"]

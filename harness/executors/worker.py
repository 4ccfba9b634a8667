"""``CallWorker``: runs calls in a process whose event loop does nothing but media.

It owns the callers (aiortc; the browser caller's Chromium pool when asked for), plays
each planned call, stamps where it ran, judges whether the call was disturbed by the
harness itself (validity guard: its send timing and the loop-lag probe's readings
while its audio ran) and returns a ``FinishedCall``. Scoring, ASR, PESQ and report
writing never happen here: the driver does them on what comes back. The audio is
compressed in a thread, off the loop. Local worker processes and Ray actors both wrap
one of these.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import logging
import os
import socket
import time
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from harness.callers.aiortc_caller import AiortcCaller
from harness.callers.base import Caller, CallerSettings, failed_artifacts
from harness.callers.websocket import WebSocketCaller
from harness.corpus.defaults import default_corpus
from harness.corpus.model import Corpus, load_corpus
from harness.endpoints.transport import caller_for
from harness.executors.base import FinishedCall
from harness.executors.loop_lag import LoopLagProbe
from harness.executors.scoring import PoolScorer, corpus_texts
from harness.priority import (
    children_at_normal_priority,
    describe_scheduling,
    follow_worker_priority,
    freeze_startup_heap,
    promote_helper_threads,
    raise_priority,
)
from harness.records import (
    CallerKind,
    CallRecording,
    CallSpec,
    Failure,
    FailureKind,
    SegmentationParams,
    WorkerInfo,
)
from harness.validity import ValiditySettings, judge

if TYPE_CHECKING:
    from harness.callers.browser.caller import BrowserCaller

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True, kw_only=True)
class WorkerConfig:
    """What a worker needs to start: picklable, so it can be sent to another process."""

    corpus_dir: Path | None = None
    """A built corpus folder; ``None``: the built-in corpus (built on first use)."""
    caller_kinds: tuple[CallerKind, ...] = (CallerKind.AIORTC,)
    caller_settings: CallerSettings = field(default_factory=CallerSettings)
    node: str = "local"
    region: str = ""
    validity: ValiditySettings = field(default_factory=ValiditySettings)
    """The guard's thresholds; the same in every worker of a run (recorded in run.json)."""
    debug_stall: LoopStall | None = None
    """Test-only: block this worker's loop once, to show the guard catches it."""
    realtime: bool = True
    """Ask the kernel for real-time scheduling of the worker's loop (``priority.py``)."""
    scoring_workers: int = 0
    """Score each finished call on this worker's host, in a niced pool of this many
    processes, and send the result with it (for drivers that cannot score every call of
    a cluster themselves); 0: the driver scores."""
    segmentation: SegmentationParams = field(default_factory=SegmentationParams)
    """What that scoring uses (the run's detector settings and caller-end definition)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class LoopStall:
    """A deliberate stall of a worker's event loop (tests of the validity guard).

    ``after_s`` after the worker's first call starts, the loop is blocked (a plain
    ``time.sleep`` in a callback, as a blocking library call would) for ``duration_ms``;
    when and where is written as one JSON object to ``record`` so a test can tell which
    calls it overlapped. With a ``record``, only the first worker of a run to claim the
    file (created exclusively) stalls: one stall in one worker, whatever their number.
    """

    after_s: float
    duration_ms: float = 200.0
    record: Path | None = None


class CallWorker:
    """Plays calls one after another or side by side, in the loop it is started in."""

    def __init__(self, config: WorkerConfig, *, callers: Mapping[CallerKind, Caller] | None = None) -> None:
        """``callers``: ready-made callers to use instead of opening its own (in-process use)."""
        self.config = config
        self._given = dict(callers or {})
        self.info = WorkerInfo(host=socket.gethostname(), pid=os.getpid(), node=config.node,
                               region=config.region, scheduling=describe_scheduling())
        self._corpus: Corpus | None = None
        self._callers: dict[CallerKind, Caller] = {}
        self._browser: BrowserCaller | None = None
        self.probe = LoopLagProbe()
        self._scorer = (PoolScorer(config.scoring_workers, params=config.segmentation)
                        if config.scoring_workers > 0 else None)
        self.began: dict[str, int] = {}
        """Calls running now -> CLOCK_MONOTONIC when each began (admission control)."""
        self._stall_armed = config.debug_stall is not None

    async def start(self) -> None:
        """Load the corpus and open the callers (a browser pool if one is asked for)."""
        cfg = self.config
        self.probe.start()
        if self._scorer is not None:
            await self._scorer.start()  # before any call: its start would stall their loop
        if self._given:
            self._callers.update(self._given)
            return
        self._corpus = load_corpus(cfg.corpus_dir) if cfg.corpus_dir else default_corpus(build=True)
        self._callers[CallerKind.AIORTC] = AiortcCaller(self._corpus, cfg.caller_settings)
        self._callers[CallerKind.WEBSOCKET] = WebSocketCaller(self._corpus, cfg.caller_settings)
        if CallerKind.BROWSER in cfg.caller_kinds:
            try:
                from harness.callers.browser.caller import BrowserCaller, BrowserSettings

                settings = cfg.caller_settings
                browser = BrowserCaller(self._corpus, BrowserSettings(
                    player=settings.player, signalling_timeout_s=settings.signalling_timeout_s,
                    connect_timeout_s=settings.connect_timeout_s, network=settings.network))
            except ImportError as exc:
                log.warning("browser caller unavailable: %s", exc)
            else:
                self._callers[CallerKind.BROWSER] = browser
                self._browser = browser
                try:
                    await browser.prepare()
                except Exception as exc:  # each browser call reports it as its failure
                    log.warning("browser caller not ready: %s", exc)

    async def run_call(self, spec: CallSpec) -> FinishedCall:
        """One call, never raising: an unavailable caller is a recorded failure too."""
        kind = caller_for(spec.endpoint.dialect, spec.caller)  # WebSocket dialects: the WebSocket caller
        caller = self._callers.get(kind)
        began = time.monotonic_ns()
        self.began[spec.call_id] = began
        self._arm_stall()
        try:
            if caller is None:
                artifacts = failed_artifacts(spec, kind, "", Failure(
                    kind=FailureKind.CALLER_ERROR, reason=f"caller {kind} is not available"))
            else:
                artifacts = await caller.run(spec)
        finally:
            self.began.pop(spec.call_id, None)
        recording = artifacts.recording
        start, end = _audio_window(recording, began, time.monotonic_ns())
        validity = judge(recording, self.probe.lags_between(start, end), self.config.validity)
        recording = dataclasses.replace(recording, worker=self.info, validity=validity)
        # FLAC encoding of a long call takes tens of ms: never in the loop that paces others.
        finished = await asyncio.to_thread(
            FinishedCall.from_artifacts, dataclasses.replace(artifacts, recording=recording))
        if self._scorer is None:
            return finished
        texts = corpus_texts(self._corpus, recording)
        return dataclasses.replace(finished, result=await self._scorer.score(finished, spec.scenario, texts))

    @property
    def active(self) -> int:
        return len(self.began)

    def starting(self, within_ns: int) -> int:
        """Calls begun in the last ``within_ns`` (still connecting, most likely)."""
        now = time.monotonic_ns()
        return sum(1 for t in self.began.values() if now - t < within_ns)

    async def aclose(self) -> None:
        await self.probe.aclose()
        if self._scorer is not None:
            await self._scorer.aclose()
        browser = self._browser
        self._browser = None
        if browser is not None:
            await browser.aclose()

    def _arm_stall(self) -> None:
        stall = self.config.debug_stall
        if stall is None or not self._stall_armed:
            return
        self._stall_armed = False
        if stall.record is not None:
            try:
                os.close(os.open(stall.record, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644))
            except FileExistsError:
                return  # another worker of this run has the stall
        asyncio.get_running_loop().call_later(stall.after_s, _block_loop, stall, self.info)


def _audio_window(recording: CallRecording, began_ns: int, ended_ns: int) -> tuple[int, int]:
    """The span of the call whose timing matters: from its first frame to its end.

    Connection set-up (ICE, DTLS) before t=0 paces nothing; a call that never reached
    t=0 is judged over its whole life.
    """
    origin = recording.origin_monotonic_ns
    if origin is None:
        return began_ns, ended_ns
    return origin, origin + recording.duration_ns


def _block_loop(stall: LoopStall, info: WorkerInfo) -> None:
    start = time.monotonic_ns()
    time.sleep(stall.duration_ms / 1000.0)  # the point: hold the loop as a blocking call would
    end = time.monotonic_ns()
    log.warning("debug stall: blocked worker %s loop for %.0f ms", info.pid, (end - start) / 1e6)
    if stall.record is not None:
        stall.record.write_text(json.dumps({"pid": info.pid, "start_ns": start, "end_ns": end}))


async def start_paced_worker(config: WorkerConfig) -> CallWorker:
    """Make the running loop's thread a caller worker's, then start a ``CallWorker`` on it.

    Wherever the loop runs (a worker process, a Ray actor), it gets the same protection
    (``harness.priority``): real-time scheduling that the threads it starts during calls
    inherit (``Thread.start`` waits for the new thread's first time slice), executor
    threads one level below it (they hold the GIL encoding FLAC and summing send
    timing: a Ray actor's executor threads left at normal priority held its loop 21-33
    ms), processes at normal priority, and the start-up heap out of full collections.
    Raises what ``CallWorker.start`` raises.
    """
    raise_priority(config.realtime, threads_inherit=True)
    asyncio.get_running_loop().set_default_executor(ThreadPoolExecutor(
        max_workers=4, thread_name_prefix="worker-io", initializer=follow_worker_priority))
    worker = CallWorker(config)
    with children_at_normal_priority():  # a scoring pool, Chromium's driver, a corpus build
        await worker.start()
    freeze_startup_heap()  # a full collection must not walk it while frames are due
    promote_helper_threads()  # the threads start-up made at normal priority (a pool's feeders)
    return worker

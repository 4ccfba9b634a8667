"""``LocalExecutor``: calls spread over caller worker processes on this machine.

Each worker process runs one ``CallWorker`` in its own event loop (its own GIL), so
one call's work never delays another worker's frames, and the driver's work (writing,
scoring, reports) never delays any. Processes start with ``forkserver``: the driver
has threads (pipe readers, aiortc's, a scoring pool's), which ``fork`` must not copy.
Each worker gets the built corpus folder's path and loads it itself.

Dispatch: a call goes to the least-loaded worker that admits one (see
``admission``): a worker that is not keeping time, is connecting a call, or holds its
share of ``--concurrency`` takes none, and the call waits in the driver's queue. A
worker that dies or stops answering turns its calls into recorded failures; the other
workers take the rest.
"""

from __future__ import annotations

import asyncio
import atexit
import collections
import contextlib
import logging
import math
import multiprocessing
import os
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from multiprocessing.context import ForkServerContext, SpawnContext
from multiprocessing.process import BaseProcess

from harness.callers.base import failed_artifacts
from harness.executors.admission import AdmissionSettings
from harness.executors.base import FinishedCall, OnFinished, OnStarted, SpecFeed
from harness.executors.messages import (
    CallBegan,
    CallDone,
    FromWorker,
    Health,
    RunCall,
    Stop,
    WorkerFailed,
    WorkerReady,
)
from harness.executors.process import worker_main
from harness.executors.worker import WorkerConfig
from harness.records import CallerKind, CallSpec, Failure, FailureKind, WorkerInfo

log = logging.getLogger(__name__)

START_TIMEOUT_S = 120.0
"""A worker imports aiortc and loads the corpus; on a loaded 2-core machine that can take a while."""
SILENCE_TIMEOUT_S = 30.0
"""A worker holding calls that sends nothing (not even its heartbeat) for this long is hung."""
STOP_TIMEOUT_S = 15.0


def default_workers() -> int:
    """One worker per core this process may run on."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


def _context() -> ForkServerContext | SpawnContext:
    if "forkserver" in multiprocessing.get_all_start_methods():
        ctx = multiprocessing.get_context("forkserver")
        # The server imports the worker's modules once; each worker forks from it ready.
        ctx.set_forkserver_preload(["harness.executors.process"])
        return ctx
    return multiprocessing.get_context("spawn")


_WAKE = -1
"""Not a worker's index: the event a ``SpecFeed`` puts in to wake the dispatch loop."""


@dataclass(frozen=True, slots=True, kw_only=True)
class _Lost:
    reason: str


@dataclass(slots=True)
class _Worker:
    index: int
    process: BaseProcess
    conn: Connection
    info: WorkerInfo | None = None
    ready: bool = False
    alive: bool = True
    admitting: bool = False
    sent: int = 0
    last_heard: float = field(default_factory=time.monotonic)
    calls: dict[str, CallSpec] = field(default_factory=dict)
    reason: str = ""

    def label(self) -> str:
        pid = self.info.pid if self.info else self.process.pid
        return f"caller worker {self.index} (pid {pid})"


class LocalExecutor:
    """Runs calls in ``workers`` local processes, at most ``concurrency`` at a time."""

    def __init__(self, config: WorkerConfig, *, workers: int | None = None, concurrency: int = 1,
                 admission: AdmissionSettings | None = None, start_timeout_s: float = START_TIMEOUT_S,
                 silence_timeout_s: float = SILENCE_TIMEOUT_S,
                 caller_limits: Mapping[CallerKind, int] | None = None) -> None:
        """``caller_limits``: at most this many calls of a caller at once, machine-wide (a
        Chromium call costs far more CPU than an aiortc one); later calls of other callers
        go first meanwhile."""
        self.config = config
        self.caller_limits = dict(caller_limits or {})
        self.concurrency = max(1, concurrency)
        self.n_workers = max(1, min(workers or default_workers(), self.concurrency))
        per_worker = math.ceil(self.concurrency / self.n_workers)
        base = admission or AdmissionSettings()
        self.admission = AdmissionSettings(
            max_calls=per_worker if base.max_calls is None else min(base.max_calls, per_worker),
            lag_p99_ms=base.lag_p99_ms, lag_max_ms=base.lag_max_ms, window_s=base.window_s,
            max_starting=base.max_starting, starting_s=base.starting_s)
        self.start_timeout_s = start_timeout_s
        self.silence_timeout_s = silence_timeout_s
        self._workers: list[_Worker] = []
        self._events: asyncio.Queue[tuple[int, FromWorker | _Lost]] | None = None
        self._readers: list[threading.Thread] = []

    @property
    def workers(self) -> tuple[WorkerInfo, ...]:
        return tuple(w.info for w in self._workers if w.info is not None)

    # ------------------------------------------------------------------ start/stop

    async def start(self) -> None:
        """Start the worker processes and wait until each is ready or has failed."""
        if self._workers:
            return
        loop = asyncio.get_running_loop()
        events: asyncio.Queue[tuple[int, FromWorker | _Lost]] = asyncio.Queue()
        self._events = events
        ctx = _context()
        level = logging.getLogger("harness").getEffectiveLevel()
        for i in range(self.n_workers):
            parent, child = ctx.Pipe(duplex=True)
            # Not daemonic: a worker may start its own scoring pool (scoring_workers). The
            # atexit hook below still ends every worker if the driver exits without aclose.
            proc = ctx.Process(target=worker_main, args=(child, self.config, self.admission, level),
                               name=f"vh-caller-{i}", daemon=False)
            await asyncio.to_thread(proc.start)
            child.close()
            worker = _Worker(index=i, process=proc, conn=parent)
            self._workers.append(worker)
            reader = threading.Thread(target=_read, args=(i, parent, loop, events),
                                      name=f"vh-caller-{i}-reader", daemon=True)
            reader.start()
            self._readers.append(reader)
        atexit.register(self._kill_all)
        deadline = time.monotonic() + self.start_timeout_s
        while any(w.alive and not w.ready for w in self._workers):
            try:
                index, message = await asyncio.wait_for(events.get(), max(0.0, deadline - time.monotonic()))
            except TimeoutError:
                for w in self._workers:
                    if w.alive and not w.ready:
                        self._kill(w, f"{w.label()} did not start within {self.start_timeout_s:g} s")
                break
            await self._handle(index, message, None, None)

    async def aclose(self) -> None:
        for w in self._workers:
            if w.alive:
                with contextlib.suppress(OSError, ValueError):
                    w.conn.send(Stop())
        for w in self._workers:
            await asyncio.to_thread(w.process.join, STOP_TIMEOUT_S)
            if w.process.is_alive():
                w.process.terminate()
                await asyncio.to_thread(w.process.join, 5.0)
            with contextlib.suppress(OSError):
                w.conn.close()
        for reader in self._readers:
            await asyncio.to_thread(reader.join, 5.0)
        self._workers.clear()
        self._readers.clear()
        atexit.unregister(self._kill_all)

    def _kill_all(self) -> None:
        """At interpreter exit without ``aclose``: end the workers, so nothing waits on them."""
        for w in self._workers:
            if w.process.is_alive():
                w.process.kill()

    # --------------------------------------------------------------------- running

    async def run(self, specs: Sequence[CallSpec] | SpecFeed, on_finished: OnFinished,
                  on_started: OnStarted | None = None) -> None:
        """Every spec; with a ``SpecFeed`` (a soak), the specs put into it until it closes."""
        await self.start()
        events = self._events
        assert events is not None
        feed: SpecFeed | None = None
        if isinstance(specs, SpecFeed):
            feed, pending = specs, specs.pending
            feed.wake = lambda: events.put_nowait((_WAKE, _Lost(reason="new spec")))
        else:
            pending = collections.deque(specs)
        while pending or any(w.calls for w in self._workers) or (feed is not None and not feed.closed):
            self._dispatch(pending)
            if not any(w.alive for w in self._workers):
                reasons = "; ".join(sorted({w.reason for w in self._workers if w.reason})) or "none started"
                while pending:
                    await on_finished(_failed(pending.popleft(), f"no caller worker left: {reasons}"))
                if feed is not None and not feed.closed:
                    await events.get()  # wait for the feed's next spec (to fail it) or its close
                continue
            try:
                index, message = await asyncio.wait_for(events.get(), 1.0)
            except TimeoutError:
                self._check_silent()
                continue
            if index == _WAKE:  # a feed got a spec or closed: dispatch again
                continue
            await self._handle(index, message, on_finished, on_started)
            self._check_silent()

    def _dispatch(self, pending: collections.deque[CallSpec]) -> None:
        cap = self.admission.max_calls or self.concurrency
        while pending and sum(len(w.calls) for w in self._workers) < self.concurrency:
            open_ = [w for w in self._workers
                     if w.alive and w.ready and w.admitting and len(w.calls) < cap]
            if not open_:
                return
            worker = min(open_, key=lambda w: (len(w.calls), w.index))
            spec = self._next_within_limits(pending)
            if spec is None:
                return
            try:
                worker.conn.send(RunCall(spec=spec))
            except (OSError, ValueError):
                pending.appendleft(spec)
                self._kill(worker, f"{worker.label()} cannot be reached")
                continue
            worker.sent += 1
            worker.calls[spec.call_id] = spec
            worker.admitting = False  # until a Health that counts this call says otherwise

    def _next_within_limits(self, pending: collections.deque[CallSpec]) -> CallSpec | None:
        """The first pending call whose caller is under its limit, taken out of the queue."""
        if not self.caller_limits:
            return pending.popleft()
        live = collections.Counter(spec.caller for w in self._workers for spec in w.calls.values())
        for i, spec in enumerate(pending):
            limit = self.caller_limits.get(spec.caller)
            if limit is None or live[spec.caller] < limit:
                del pending[i]
                return spec
        return None

    async def _handle(self, index: int, message: FromWorker | _Lost,
                      on_finished: OnFinished | None, on_started: OnStarted | None) -> None:
        w = self._workers[index]
        w.last_heard = time.monotonic()
        if isinstance(message, WorkerReady):
            w.info, w.ready = message.info, True
        elif isinstance(message, Health):
            if message.received >= w.sent:
                w.admitting = message.admission.admitting
        elif isinstance(message, CallBegan):
            spec = w.calls.get(message.call_id)
            if spec is not None and on_started is not None:
                await on_started(spec, w.info)
        elif isinstance(message, CallDone):
            w.calls.pop(message.finished.recording.call_id, None)
            if on_finished is not None:
                await on_finished(message.finished)
        elif isinstance(message, WorkerFailed):
            self._kill(w, message.reason)
        elif isinstance(message, _Lost) and w.alive:
            await asyncio.to_thread(w.process.join, 2.0)
            code = w.process.exitcode
            self._kill(w, f"{w.label()} exited" + ("" if code is None else f" with code {code}")
                       + f" ({message.reason})")
        if not w.alive and w.calls and on_finished is not None:
            lost, w.calls = list(w.calls.values()), {}
            for spec in lost:
                await on_finished(_failed(spec, f"{w.reason} during the call"))

    def _check_silent(self) -> None:
        now = time.monotonic()
        for w in self._workers:
            if w.alive and w.calls and now - w.last_heard > self.silence_timeout_s:
                self._kill(w, f"{w.label()} sent nothing for {self.silence_timeout_s:g} s (hung)")
                # The reader sees the pipe close and reports it; the calls fail there.
                self._put_lost(w.index, "killed")

    def _put_lost(self, index: int, reason: str) -> None:
        if self._events is not None:
            self._events.put_nowait((index, _Lost(reason=reason)))

    def _kill(self, w: _Worker, reason: str) -> None:
        if not w.alive:
            return
        log.warning("%s", reason)
        w.alive, w.admitting, w.reason = False, False, reason
        if w.process.is_alive():
            w.process.kill()


def _read(index: int, conn: Connection, loop: asyncio.AbstractEventLoop,
          events: asyncio.Queue[tuple[int, FromWorker | _Lost]]) -> None:
    """A worker's messages into the driver's loop, until its pipe closes."""
    reason = "pipe closed"
    while True:
        try:
            message = conn.recv()
        except (EOFError, OSError) as exc:
            reason = type(exc).__name__ if not str(exc) else str(exc)
            break
        try:
            loop.call_soon_threadsafe(events.put_nowait, (index, message))
        except RuntimeError:  # the driver's loop is closed
            return
    with contextlib.suppress(RuntimeError):
        loop.call_soon_threadsafe(events.put_nowait, (index, _Lost(reason=reason)))


def _failed(spec: CallSpec, reason: str) -> FinishedCall:
    return FinishedCall.from_artifacts(failed_artifacts(
        spec, spec.caller, "", Failure(kind=FailureKind.CALLER_ERROR, reason=reason)))


__all__ = ["LocalExecutor", "default_workers"]

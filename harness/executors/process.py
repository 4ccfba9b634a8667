"""The child side of a local caller worker process: a ``CallWorker`` behind a pipe.

Its event loop does media and nothing else: messages from the driver are read when
the pipe is readable (small, already whole), and everything sent back, finished calls
with their compressed audio included, leaves through a thread so a slow reader on the
driver's side never holds the loop. Admission decisions are made here from the loop's
own lag probe and sent to the driver when they change (and once a second as a
heartbeat).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import queue
import signal
import threading
import time
from multiprocessing.connection import Connection

from harness.callers.base import failed_artifacts
from harness.executors.admission import AdmissionSettings, decide
from harness.executors.base import FinishedCall
from harness.executors.messages import (
    CallBegan,
    CallDone,
    FromWorker,
    Health,
    RunCall,
    Stop,
    ToWorker,
    WorkerFailed,
    WorkerReady,
)
from harness.executors.worker import CallWorker, WorkerConfig, start_paced_worker
from harness.priority import follow_worker_priority
from harness.records import CallSpec, Failure, FailureKind
from harness.redact import install_log_redaction

log = logging.getLogger(__name__)

HEALTH_CHECK_S = 0.1
HEARTBEAT_S = 1.0


class _Outbox:
    """Sends in order from a thread; the loop only enqueues."""

    def __init__(self, conn: Connection) -> None:
        self._conn = conn
        self._queue: queue.SimpleQueue[FromWorker | None] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._run, name="worker-outbox", daemon=True)
        self._thread.start()

    def send(self, message: FromWorker) -> None:
        self._queue.put(message)

    def close(self, timeout_s: float = 30.0) -> None:
        self._queue.put(None)
        self._thread.join(timeout_s)

    def _run(self) -> None:
        follow_worker_priority()  # holds the GIL while pickling: must not be preempted then
        while (message := self._queue.get()) is not None:
            try:
                self._conn.send(message)
            except (OSError, ValueError):  # the driver is gone: nothing left to tell
                return


def worker_main(conn: Connection, config: WorkerConfig, admission: AdmissionSettings,
                log_level: int = logging.WARNING) -> None:
    """Entry point of a spawned worker process."""
    # Ctrl-C reaches the whole process group; the driver decides how calls end.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    logging.basicConfig(level=log_level, format="worker %(process)d: %(levelname)s %(name)s: %(message)s")
    install_log_redaction()  # a spawned process does not inherit the driver's
    try:  # this thread runs the loop that paces every call's audio (start_paced_worker)
        asyncio.run(_serve(conn, config, admission))
    finally:
        with contextlib.suppress(OSError):
            conn.close()


class _Serve:
    def __init__(self, conn: Connection, worker: CallWorker, admission: AdmissionSettings,
                 out: _Outbox) -> None:
        self.conn = conn
        self.worker = worker
        self.admission = admission
        self.out = out
        self.inbox: asyncio.Queue[ToWorker | None] = asyncio.Queue()
        self.calls: set[asyncio.Task[None]] = set()
        self._admitting: bool | None = None
        self._last_sent = 0.0
        self.received = 0

    def on_readable(self) -> None:
        try:
            while self.conn.poll():
                self.inbox.put_nowait(self.conn.recv())
        except (EOFError, OSError):
            asyncio.get_running_loop().remove_reader(self.conn.fileno())
            self.inbox.put_nowait(None)  # the driver is gone

    def health(self, force: bool = False) -> None:
        """Send the admission state if it changed (or ``force``, or a heartbeat is due)."""
        s = self.admission
        decision = decide(self.worker.active, self.worker.starting(int(s.starting_s * 1e9)),
                          self.worker.probe.recent(int(s.window_s * 1e9)), s)
        now = time.monotonic()
        if force or decision.admitting != self._admitting or now - self._last_sent >= HEARTBEAT_S:
            self._admitting = decision.admitting
            self._last_sent = now
            self.out.send(Health(admission=decision, active=self.worker.active, received=self.received))

    async def watch_health(self) -> None:
        while True:
            await asyncio.sleep(HEALTH_CHECK_S)
            self.health()

    async def run_one(self, spec: CallSpec) -> None:
        task = asyncio.current_task()
        try:
            running = asyncio.ensure_future(self.worker.run_call(spec))
            await asyncio.sleep(0)  # its first step registers the call with the worker
            self.received += 1  # only now: a Health that counts it also sees it running
            self.out.send(CallBegan(call_id=spec.call_id, t_ns=time.monotonic_ns()))
            self.health(force=True)
            finished = await running
        except Exception as exc:  # a worker bug still ends as a recorded result
            log.exception("call %s", spec.call_id)
            finished = FinishedCall.from_artifacts(failed_artifacts(spec, spec.caller, "", Failure(
                kind=FailureKind.CALLER_ERROR, reason=f"caller worker error: {type(exc).__name__}: {exc}")))
        finally:
            if task is not None:
                self.calls.discard(task)
        self.out.send(CallDone(finished=finished))
        self.health(force=True)


async def _serve(conn: Connection, config: WorkerConfig, admission: AdmissionSettings) -> None:
    loop = asyncio.get_running_loop()
    out = _Outbox(conn)
    try:
        worker = await start_paced_worker(config)
    except Exception as exc:
        out.send(WorkerFailed(reason=f"caller worker could not start: {type(exc).__name__}: {exc}"))
        out.close()
        return
    out.send(WorkerReady(info=worker.info))
    serve = _Serve(conn, worker, admission, out)
    loop.add_reader(conn.fileno(), serve.on_readable)
    watcher = loop.create_task(serve.watch_health())
    driver_gone = False
    try:
        serve.health(force=True)
        while True:
            message = await serve.inbox.get()
            if message is None:
                driver_gone = True
                break
            if isinstance(message, Stop):
                break
            if isinstance(message, RunCall):
                task = loop.create_task(serve.run_one(message.spec))
                serve.calls.add(task)
        if driver_gone:
            for task in list(serve.calls):
                task.cancel()
        if serve.calls:
            await asyncio.gather(*serve.calls, return_exceptions=True)
    finally:
        watcher.cancel()
        with contextlib.suppress(OSError, ValueError):
            loop.remove_reader(conn.fileno())
        await worker.aclose()
        out.close()


__all__ = ["worker_main"]

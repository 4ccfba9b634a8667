"""Where a soak's calls are played: on an executor's caller workers, one call at a time.

A soak cannot hand its executor a plan up front: calls start as slots free up (closed
model) or as arrivals come (open model). ``ExecutorPlayer`` keeps one executor run open
on a ``SpecFeed`` for the whole soak and gives each call back to whoever asked for it,
so the media stays in the caller worker processes exactly as in ``voice-harness run``
(docs/validity.md), and the lifecycle's ``call_started`` hook fires as workers begin.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Protocol

from harness.executors.base import FinishedCall, SpecFeed
from harness.executors.local import LocalExecutor
from harness.lifecycle import CallStarted, RunHooks
from harness.records import CallSpec, WorkerInfo

__all__ = ["CallPlayer", "ExecutorPlayer"]

log = logging.getLogger(__name__)

CLOSE_TIMEOUT_S = 60.0
"""How long ``aclose`` waits for the executor's run to end after the feed closes."""


class CallPlayer(Protocol):
    async def start(self) -> None: ...

    async def play(self, spec: CallSpec) -> FinishedCall:
        """Play one call to its end; never raises for the call's own failure."""
        ...

    async def aclose(self) -> None: ...


class ExecutorPlayer:
    """Plays calls on a ``LocalExecutor``'s workers as the load model asks for them."""

    def __init__(self, executor: LocalExecutor, hooks: RunHooks | None = None) -> None:
        self.executor = executor
        self.hooks = hooks or RunHooks()
        self.feed = SpecFeed()
        self._waiting: dict[str, asyncio.Future[FinishedCall]] = {}
        self._run: asyncio.Task[None] | None = None

    async def start(self) -> None:
        await self.executor.start()
        self._run = asyncio.ensure_future(self.executor.run(self.feed, self._finished, self._started))

    async def play(self, spec: CallSpec) -> FinishedCall:
        if self._run is not None and self._run.done():
            self._run.result()  # the executor's run ended: raise what ended it
            raise RuntimeError("the executor stopped taking calls")
        future: asyncio.Future[FinishedCall] = asyncio.get_running_loop().create_future()
        self._waiting[spec.call_id] = future
        self.feed.put(spec)
        try:
            return await future
        finally:
            self._waiting.pop(spec.call_id, None)

    async def _started(self, spec: CallSpec, worker: WorkerInfo | None) -> None:
        self.hooks.call_started.fire(CallStarted(spec=spec, worker=worker))

    async def _finished(self, finished: FinishedCall) -> None:
        future = self._waiting.get(finished.recording.call_id)
        if future is None or future.done():  # abandoned (a second Ctrl-C): nobody waits
            return
        future.set_result(finished)

    async def aclose(self, wait_s: float = CLOSE_TIMEOUT_S) -> None:
        """End the run (calls in flight end first, within ``wait_s``), then the workers."""
        self.feed.close()
        run, self._run = self._run, None
        if run is not None:
            try:
                await asyncio.wait_for(run, wait_s)
            except TimeoutError:
                log.warning("caller workers still busy %g s after the soak; stopping them", wait_s)
            except Exception:
                log.exception("the executor's run failed")
            finally:
                if not run.done():
                    run.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await run
        await self.executor.aclose()

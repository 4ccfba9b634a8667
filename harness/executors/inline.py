"""``InlineExecutor``: calls played in the driver's own event loop, for one-at-a-time use.

The pytest plugin runs one call per test item; starting worker processes for it would
cost more than the call. Calls here share the loop with whatever else the driver does,
so this executor is for sequential use: the lifecycle scores its calls only after
they have all ended (``Scorer.in_loop``), and the validity guard still judges each one.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence

from harness.callers.base import Caller
from harness.executors.base import OnFinished, OnStarted
from harness.executors.worker import CallWorker, WorkerConfig
from harness.records import CallerKind, CallSpec


class InlineExecutor:
    def __init__(self, config: WorkerConfig, *, concurrency: int = 1,
                 callers: Mapping[CallerKind, Caller] | None = None) -> None:
        self.worker = CallWorker(config, callers=callers)
        self.concurrency = max(1, concurrency)
        self._started = False

    async def run(self, specs: Sequence[CallSpec], on_finished: OnFinished,
                  on_started: OnStarted | None = None) -> None:
        if not self._started:
            await self.worker.start()
            self._started = True
        gate = asyncio.Semaphore(self.concurrency)

        async def one(spec: CallSpec) -> None:
            async with gate:
                if on_started is not None:
                    await on_started(spec, self.worker.info)
                await on_finished(await self.worker.run_call(spec))

        await asyncio.gather(*(one(spec) for spec in specs))

    async def aclose(self) -> None:
        await self.worker.aclose()


__all__ = ["InlineExecutor"]

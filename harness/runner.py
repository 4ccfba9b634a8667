"""Plans and in-process execution, for code that drives single calls itself.

``voice-harness run`` goes through the run lifecycle (``harness.lifecycle``) with
caller worker processes. ``execute`` is the same lifecycle with the calls played in
this event loop (``InlineExecutor``) and scored only after they have all ended, for
callers that run one call at a time (the pytest plugin): scoring never shares a loop
with a live call either way.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator, Callable, Sequence

from harness.callers.aiortc_caller import AiortcCaller
from harness.callers.base import Caller, CallerSettings
from harness.callers.websocket import WebSocketCaller
from harness.corpus.model import Corpus
from harness.executors.inline import InlineExecutor
from harness.executors.scoring import InlineScorer
from harness.executors.worker import WorkerConfig
from harness.lifecycle import RunLifecycle
from harness.plan import RunPlan, plan, scenario_error_result
from harness.records import CallerKind, CallResult
from harness.store.run_folder import RunFolder

log = logging.getLogger(__name__)

__all__ = ["RunPlan", "default_callers", "execute", "open_callers", "plan", "scenario_error_result"]


def default_callers(corpus: Corpus, settings: CallerSettings | None = None) -> dict[CallerKind, Caller]:
    return {CallerKind.AIORTC: AiortcCaller(corpus, settings), CallerKind.WEBSOCKET: WebSocketCaller(corpus, settings)}


@contextlib.asynccontextmanager
async def open_callers(
    kinds: Sequence[CallerKind], corpus: Corpus, settings: CallerSettings | None = None
) -> AsyncIterator[dict[CallerKind, Caller]]:
    """The callers a run needs; the browser caller's Chromium pool is closed on exit.

    A browser caller that cannot be built (no Playwright) is left out: its calls become
    recorded failures instead of stopping the run.
    """
    callers = default_callers(corpus, settings)
    browser = None
    if CallerKind.BROWSER in kinds:
        try:
            from harness.callers.browser.caller import BrowserSettings, make_browser_caller

            browser = make_browser_caller(corpus, BrowserSettings(network=settings.network if settings else None))
            callers[CallerKind.BROWSER] = browser
        except ImportError as exc:
            log.warning("browser caller unavailable: %s", exc)
    try:
        yield callers
    finally:
        if browser is not None:
            await browser.aclose()


async def execute(
    run_plan: RunPlan,
    corpus: Corpus,
    folder: RunFolder,
    *,
    concurrency: int = 1,
    callers: dict[CallerKind, Caller] | None = None,
    on_result: Callable[[CallResult], None] | None = None,
) -> list[CallResult]:
    """Run every planned call in this loop; results are on disk as soon as each is scored."""
    executor = InlineExecutor(WorkerConfig(corpus_dir=corpus.root), concurrency=concurrency,
                              callers=callers or default_callers(corpus))
    lifecycle = RunLifecycle(folder, executor, InlineScorer(), corpus=corpus)
    if on_result is not None:
        callback = on_result
        lifecycle.hooks.call_finished.add(lambda event: callback(event.result))
    try:
        return await lifecycle.execute(run_plan, write_info=False)
    finally:
        await executor.aclose()

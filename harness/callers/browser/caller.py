"""The browser caller: the same scenarios through a real headless Chromium.

Each call is one page (in its own context) on a pooled Chromium. Python keeps what must
not enter the page or must be exact: signalling through the endpoint's dialect adapter
(API keys stay here), the call clock and the assembly of the recording. The page keeps
what must be live: WebAudio injection, the step logic with its live triggers, the
encoded-frame taps at the network edge, the recording of what it hears and getStats.

Where the times come from (docs/timing.md), all on CLOCK_MONOTONIC via a ping
calibration of ``performance.now()`` (``clock_sync``):

- **sent**: each Opus frame the page encodes is tapped (RTCRtpScriptTransform) with its
  RTP timestamp and send time; the clips are found in those frames (``align``),
  so a caller's last voiced sample is timed when it actually left, whatever WebAudio's
  render and capture path did to it.
- **received, network edge**: each incoming frame is tapped at packet arrival
  (``receiveTime``), before Chromium's jitter buffer, and decoded in Python exactly as
  the aiortc caller decodes its RTP: ``received.wav`` + ``received_anchors``, so every
  metric (``turn_latency_ms`` included) means the same for both callers.
- **received, as heard**: when Chromium played each packet out of its adaptive jitter
  buffer (``getSynchronizationSources``) anchors the same samples in
  ``heard_anchors``: ``harness.metrics.heard`` turns that into
  ``turn_latency_heard_ms``. getStats' ``jitterBufferDelay`` is recorded beside it
  (``transport[].jitter_buffer_ms``) and is, measured independently, most of the gap.

The design first had network edge = as heard − jitterBufferDelay; both are measured
here instead, so that relation is a test (tests/callers/test_browser_calls.py) rather
than a definition.

Nothing raises out of ``run``: a missing Chromium is ``BROWSER_UNAVAILABLE``, a browser
that dies mid-call is ``DROPPED``, and everything captured until then is kept.
"""

from __future__ import annotations

import asyncio
import dataclasses
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import Any

from harness.callers.base import CallArtifacts, failed_artifacts, network_of, resolve_steps
from harness.callers.browser.call import BrowserCall
from harness.callers.browser.gum import GumUnsupported, plan_capture
from harness.callers.browser.pool import BrowserPool
from harness.callers.browser.recording import HEARD_WAV
from harness.callers.browser.server import PageServer
from harness.callers.browser.settings import BrowserSettings, call_time_bound_s
from harness.corpus.errors import CorpusError
from harness.corpus.model import Corpus
from harness.endpoints.registry import open_endpoint
from harness.records import CallerKind, CallSpec, Failure, FailureKind


class BrowserCaller:
    """``async run(spec) -> CallArtifacts``, like ``AiortcCaller``.

    Owns a page server and (unless given one) a browser pool; both belong to the event
    loop of the first call, so use one caller per loop and ``await aclose()`` (or
    ``async with``) before that loop ends. Calls may run concurrently; the pool bounds
    how many browsers they use.
    """

    kind = CallerKind.BROWSER

    def __init__(self, corpus: Corpus, settings: BrowserSettings | None = None,
                 pool: BrowserPool | None = None) -> None:
        self.corpus = corpus
        self.settings = settings or BrowserSettings()
        self.pool = pool or BrowserPool(self.settings.pool)
        self._owns_pool = pool is None
        self.server = PageServer()
        self._server_lock: asyncio.Lock | None = None

    async def __aenter__(self) -> BrowserCaller:
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        await self.aclose()

    async def prepare(self) -> None:
        """Start the page server and Playwright before the first call (a caller worker
        does this at start-up, while no call's audio depends on its loop). A failure is
        left for the calls to report: each becomes a failed result with the reason."""
        await self._ensure_server()
        if self._owns_pool:
            await self.pool.prepare()

    async def aclose(self) -> None:
        """Close the page server and (if this caller made it) the browser pool."""
        await self.server.close()
        if self._owns_pool:
            await self.pool.close()

    async def run(self, spec: CallSpec) -> CallArtifacts:
        started_at = datetime.now(UTC).isoformat(timespec="milliseconds")
        try:
            steps = await asyncio.to_thread(resolve_steps, spec, self.corpus)  # reads audio files: off the loop
        except (CorpusError, OSError) as exc:
            reason = exc.args[0] if exc.args else str(exc)
            return failed_artifacts(spec, CallerKind.BROWSER, started_at, Failure(kind=FailureKind.MISSING_CORPUS_ITEM, reason=str(reason)))
        try:
            endpoint = open_endpoint(spec.endpoint, timeout_s=self.settings.signalling_timeout_s,
                                     network=network_of(spec, self.settings.network), seed_key=spec.call_id)
        except NotImplementedError as exc:
            return failed_artifacts(spec, CallerKind.BROWSER, started_at, Failure(kind=FailureKind.CALLER_ERROR, reason=str(exc)))
        try:
            await self._ensure_server()
        except OSError as exc:
            return failed_artifacts(spec, CallerKind.BROWSER, started_at, Failure(kind=FailureKind.CALLER_ERROR,
                                                     reason=f"cannot start the page server: {exc}"))
        with tempfile.TemporaryDirectory(prefix="voice-harness-gum-") as tmp:
            plan = None
            if self.settings.use_get_user_media:
                try:
                    plan = plan_capture(steps, self.settings.gum, Path(tmp) / "capture.wav")
                except GumUnsupported as exc:
                    return failed_artifacts(spec, CallerKind.BROWSER, started_at, Failure(kind=FailureKind.BAD_SCENARIO, reason=str(exc)))
            call = BrowserCall(spec, steps, self.settings, endpoint, self.pool, self.server, plan)
            return await call.run(started_at)

    async def _ensure_server(self) -> None:
        if self._server_lock is None:
            self._server_lock = asyncio.Lock()
        async with self._server_lock:
            if not self.server.started:
                await self.server.start()


def make_browser_caller(corpus: Corpus, settings: BrowserSettings | None = None, *,
                        max_browsers: int | None = None, calls_per_browser: int | None = None,
                        chromium: str | None = None) -> BrowserCaller:
    """The runner's factory; ``await caller.aclose()`` when the run ends."""
    settings = settings or BrowserSettings()
    changes: dict[str, Any] = {}
    if max_browsers is not None:
        changes["max_browsers"] = max_browsers
    if calls_per_browser is not None:
        changes["calls_per_browser"] = calls_per_browser
    if chromium is not None:
        changes["chromium"] = chromium
    if changes:
        settings = dataclasses.replace(settings, pool=dataclasses.replace(settings.pool, **changes))
    return BrowserCaller(corpus, settings)


__all__ = [
    "HEARD_WAV",
    "BrowserCaller",
    "BrowserSettings",
    "call_time_bound_s",
    "make_browser_caller",
]

"""One browser call from page load to recording: the state machine.

Drives the page through its life (load, clock pings, config, offer -> adapter ->
answer, connected -> play, done; the messages are ``protocol``'s) while watching for
the browser dying, the page erroring and every wait's deadline, then hands the page's
evidence to ``recording.assemble``. Nothing raises out of ``run``: each way a call can go wrong is a
``Failure`` with a reason, and what was captured before it is kept.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable
from typing import TypeVar, assert_never

from harness.callers.base import CallArtifacts, failed_artifacts
from harness.callers.browser.gum import GumPlan
from harness.callers.browser.pool import BrowserPool, BrowserUnavailable, Lease
from harness.callers.browser.protocol import (
    AnswerMessage,
    CandidatePair,
    ConnectedMessage,
    DoneMessage,
    ErrorMessage,
    OfferMessage,
    PlayMessage,
    StateMessage,
    StopMessage,
)
from harness.callers.browser.recording import CallContext, assemble
from harness.callers.browser.server import PageServer
from harness.callers.browser.session import PageClosed, PageSession
from harness.callers.browser.settings import BrowserSettings, call_time_bound_s, config_message
from harness.callers.script import ResolvedStep
from harness.endpoints.base import EndpointError, WebRTCEndpoint
from harness.records import CallerKind, CallSpec, Failure, FailureKind, JSONValue
from harness.webrtc.ice import is_loopback_url
from harness.webrtc.path import pair_info

log = logging.getLogger(__name__)
T = TypeVar("T")

_DEAD_STATES = ("failed", "closed")


class _Broken(Exception):
    def __init__(self, kind: FailureKind, reason: str) -> None:
        super().__init__(reason)
        self.kind = kind
        self.reason = reason


class BrowserCall:
    """The state of one browser call while it runs."""

    def __init__(self, spec: CallSpec, steps: list[ResolvedStep], settings: BrowserSettings,
                 endpoint: WebRTCEndpoint, pool: BrowserPool, server: PageServer,
                 gum_plan: GumPlan | None = None) -> None:
        self.spec = spec
        self.gum_plan = gum_plan
        self.steps = steps
        self.settings = settings
        self.endpoint = endpoint
        self.pool = pool
        self.server = server
        clips = {s.utterance.id: s.audio for s in steps if s.utterance is not None and s.audio is not None}
        self.session = PageSession(clips)
        self.lease: Lease | None = None
        self.connected = False
        self.answer_sent = False
        self.info: dict[str, JSONValue] = {}

    async def run(self, started_at: str) -> CallArtifacts:
        failure: Failure | None = None
        try:
            extra = self.gum_plan.launch_args() if self.gum_plan else ()
            async with self.pool.lease(extra, grant_microphone=self.gum_plan is not None) as lease:
                self.lease = lease
                self.info["browser"] = {
                    "version": lease.browser_version, "executable": lease.chromium.path,
                    "found_by": lease.chromium.source,
                }
                try:
                    await self._drive(lease)
                except _Broken as exc:
                    failure = Failure(kind=exc.kind, reason=exc.reason, step_index=self._step())
                except EndpointError as exc:
                    failure = Failure(kind=exc.kind, reason=exc.reason, step_index=self._step())
                finally:
                    await self._wrap_up(lease)
        except BrowserUnavailable as exc:
            failure = Failure(kind=FailureKind.BROWSER_UNAVAILABLE, reason=str(exc))
        except Exception as exc:  # a caller bug must still leave a result behind
            log.exception("browser caller error in %s", self.spec.call_id)
            failure = Failure(kind=FailureKind.CALLER_ERROR, reason=f"{type(exc).__name__}: {exc}",
                              step_index=self._step())
        finally:
            self.server.unregister(self.session)
        try:
            # Decoding, clock fitting and clip search take 100+ ms of CPU: in a thread, never
            # in the loop that paces the other calls of this worker (an aiortc call's frames).
            return await asyncio.to_thread(self._assemble, started_at, failure)
        except Exception as exc:
            log.exception("cannot assemble browser call %s", self.spec.call_id)
            return failed_artifacts(self.spec, CallerKind.BROWSER, started_at, failure or Failure(
                kind=FailureKind.CALLER_ERROR, reason=f"cannot assemble the recording: {type(exc).__name__}: {exc}"))

    def _step(self) -> int | None:
        steps = self.session.evidence.steps
        if self.connected and len(steps) < len(self.steps):
            return self.steps[len(steps)].index
        return None

    # ------------------------------------------------------------------ driving

    async def _guard(self, aw: Awaitable[T], timeout_s: float, on_timeout: _Broken) -> T:
        """Await ``aw`` unless the browser dies or the time runs out first."""
        assert self.lease is not None
        task = asyncio.ensure_future(aw)
        lost = asyncio.ensure_future(self.lease.lost.wait())
        try:
            done, _ = await asyncio.wait({task, lost}, timeout=timeout_s, return_when=asyncio.FIRST_COMPLETED)
        finally:
            lost.cancel()
        if task in done:
            return task.result()
        task.cancel()
        with contextlib.suppress(BaseException):
            await task
        if lost in done:
            raise self._lost_error()
        raise on_timeout

    def _lost_error(self) -> _Broken:
        when = "mid-call" if self.connected else "before the call connected"
        kind = FailureKind.DROPPED if self.connected else FailureKind.BROWSER_UNAVAILABLE
        return _Broken(kind, f"Chromium crashed or exited {when}")

    async def _drive(self, lease: Lease) -> None:
        s = self.settings
        url = self.server.register(self.session)
        hung = _Broken(FailureKind.BROWSER_UNAVAILABLE, f"the caller page did not load within {s.page_timeout_s:g} s")
        try:
            await self._guard(lease.page.goto(url, wait_until="load", timeout=s.page_timeout_s * 1000),
                              s.page_timeout_s + 1, hung)
        except _Broken:
            raise
        except Exception as exc:  # Playwright's navigation errors
            raise _Broken(FailureKind.BROWSER_UNAVAILABLE,
                          f"cannot load the caller page: {str(exc).strip().splitlines()[0][:200]}") from exc
        await self._guard(self.session.attached.wait(), s.page_timeout_s, hung)
        await self.session.ping(s.pings)
        await self.session.send(config_message(
            self.steps, s, clip_ids=sorted(self.session.clips),
            datachannel_label=self.endpoint.datachannel_label,
            opening_messages=self.endpoint.opening_messages(),
            loopback_only=is_loopback_url(self.spec.endpoint.url), gum_plan=self.gum_plan,
        ))
        deadline = time.monotonic() + s.page_timeout_s
        while True:
            left = deadline - time.monotonic()
            msg = await self._guard(self.session.control.get(), max(0.0, left), self._timeout_error())
            match msg:
                case OfferMessage():
                    answer = await self._guard(self.endpoint.exchange(msg.sdp), s.signalling_timeout_s + 5.0,
                                               _Broken(FailureKind.ENDPOINT_HUNG, "no answer to the offer"))
                    await self.session.send(AnswerMessage(sdp=answer))
                    self.answer_sent = True
                    deadline = time.monotonic() + s.connect_timeout_s + 1.0
                case ConnectedMessage():
                    self.connected = True
                    self._record_pair(msg.pair)
                    await self.session.send(PlayMessage())
                    deadline = time.monotonic() + call_time_bound_s(self.steps, s.player)
                case StateMessage():
                    if self.connected and msg.value in _DEAD_STATES:
                        what = {"dtls": "DTLS transport", "ice": "ICE connection"}.get(msg.what, "connection")
                        why = "the far end hung up" if msg.value == "closed" else "media stopped flowing"
                        raise _Broken(FailureKind.DROPPED, f"Chromium's {what} {msg.value} mid-call ({why})")
                case ErrorMessage():
                    raise self._page_error(msg)
                case PageClosed():
                    # The socket usually notices a dead browser before Playwright does.
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(lease.lost.wait(), 1.0)
                    if lease.lost.is_set() or lease.page.is_closed():
                        raise self._lost_error()
                    raise _Broken(FailureKind.DROPPED if self.connected else FailureKind.CALLER_ERROR,
                                  "the caller page went away")
                case DoneMessage():
                    return
                case _:
                    assert_never(msg)

    def _timeout_error(self) -> _Broken:
        if self.connected:
            return _Broken(FailureKind.CALLER_ERROR, "the call did not end within its time bound")
        if self.answer_sent:
            return _Broken(FailureKind.ICE_FAILED,
                           f"media not connected within {self.settings.connect_timeout_s:g} s")
        return _Broken(FailureKind.CALLER_ERROR,
                       f"the caller page made no offer within {self.settings.page_timeout_s:g} s")

    def _page_error(self, msg: ErrorMessage) -> _Broken:
        text = f"{msg.where}: {msg.message}"[:400]
        if not self.connected and "media connection" in text:
            return _Broken(FailureKind.ICE_FAILED, text)
        return _Broken(FailureKind.CALLER_ERROR, f"caller page error: {text}")

    def _record_pair(self, pair: CandidatePair | None) -> None:
        """Record the ICE pair and where it took the media; never fails the call.

        A loopback endpoint whose media address is another interface (a plain aiortc
        server offers no 127.0.0.1 candidate) is reached there: that is the endpoint's
        path, said in ``network_path``, not a broken call.
        """
        if pair is None:
            return
        self.info.update(pair_info(pair.local, pair.local_type, pair.remote, pair.remote_type,
                                   endpoint_url=self.spec.endpoint.url))

    async def _wrap_up(self, lease: Lease) -> None:
        """Let the page flush, re-check the clock, hang up; never raises, never hangs."""
        alive = not lease.lost.is_set() and not self.session.closed.is_set()
        if alive and self.session.evidence.done is None:
            await self.session.send(StopMessage())
            with contextlib.suppress(Exception):
                await self._wait_done(self.settings.stop_grace_s)
        if alive and not self.session.closed.is_set():
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self.session.ping(self.settings.pings), 5.0)
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self.endpoint.close(), 5.0)
        await self.session.close()

    async def _wait_done(self, timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        while self.session.evidence.done is None and not self.session.closed.is_set():
            left = deadline - time.monotonic()
            if left <= 0:
                return
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.session.control.get(), left)

    # ---------------------------------------------------------------- assembly

    def _assemble(self, started_at: str, failure: Failure | None) -> CallArtifacts:
        ev = self.session.evidence
        if not ev.pings:
            return failed_artifacts(self.spec, CallerKind.BROWSER, started_at, failure or Failure(
                kind=FailureKind.BROWSER_UNAVAILABLE, reason="the caller page never answered"))
        context = CallContext(spec=self.spec, steps=self.steps, endpoint=self.endpoint, started_at=started_at,
                              record_heard=self.settings.record_heard, get_user_media=self.gum_plan is not None)
        return assemble(ev, context, failure, self.info)


__all__ = ["BrowserCall"]

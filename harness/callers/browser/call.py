"""One browser call from page load to recording: the state machine and its settings.

Drives the page through its life (load, clock pings, config, offer -> adapter ->
answer, connected -> play, done) while watching for the browser dying, the page
erroring and every wait's deadline, then hands the page's evidence to
``browser_assembly``. Nothing raises out of ``run``: each way a call can go wrong is a
``Failure`` with a reason, and what was captured before it is kept.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import statistics
import time
from collections.abc import Awaitable
from dataclasses import dataclass
from typing import Any, TypeVar

import numpy as np

from harness.callers.base import CallArtifacts, failed_artifacts
from harness.callers.browser.align import MIN_QUALITY
from harness.callers.browser.assembly import (
    FIRST_CLIP_WINDOW_MS,
    Clocks,
    caller_audio,
    clip_report,
    decode_frames,
    endpoint_events,
    heard_anchors,
    heard_on_clock,
    mean_jitter_buffer_ms,
    place_clips,
    send_timing,
    step_logs,
    transport_samples,
)
from harness.callers.browser.clock_sync import ClockMapping, calibrate, fit_context_clock
from harness.callers.browser.gum import GumPlan, GumSettings
from harness.callers.browser.pool import BrowserPool, BrowserUnavailable, Lease, PoolSettings
from harness.callers.browser.server import PageServer
from harness.callers.browser.session import PageSession
from harness.callers.script import PlayerSettings, ResolvedStep
from harness.endpoints.base import EndpointError, WebRTCEndpoint
from harness.records import (
    CallerKind,
    CallRecording,
    CallSpec,
    Failure,
    FailureKind,
    JSONValue,
    SegmentationParams,
    StepKind,
)
from harness.webrtc.audio import SAMPLE_RATE
from harness.webrtc.ice import is_loopback_url
from harness.webrtc.received import place_on_call_clock

log = logging.getLogger(__name__)
T = TypeVar("T")

HEARD_WAV = "heard.wav"
GUM_SEARCH_WINDOW_MS = 1500.0
"""getUserMedia mode: how far from plan a clip is searched (capture start is not exact)."""
GUM_MIN_MATCH = 0.35
"""getUserMedia mode: noise suppression and gain control leave a clip less like itself
(0.55-0.75 seen where WebAudio clips match at 0.95); clips are seconds apart, so a
lower bar still finds the right one."""

@dataclass(frozen=True, slots=True, kw_only=True)
class BrowserSettings:
    pool: PoolSettings = dataclasses.field(default_factory=PoolSettings)
    player: PlayerSettings = dataclasses.field(default_factory=PlayerSettings)
    detector: SegmentationParams = dataclasses.field(default_factory=SegmentationParams)
    """The page's live onset detector (steers the call only; numbers come from the analysis)."""
    page_timeout_s: float = 20.0
    """Page load, AudioContext start, clip loading and ICE gathering, up to the offer."""
    signalling_timeout_s: float = 10.0
    connect_timeout_s: float = 15.0
    stats_interval_s: float = 0.25
    pings: int = 12
    """Clock-calibration round trips before and again after the call (best one wins)."""
    schedule_lead_ms: float = 40.0
    """How far ahead of the AudioContext's render position a "say" clip is scheduled."""
    trigger_wake_ms: float = 25.0
    """A live-triggered clip is scheduled this long before its trigger time."""
    record_heard: bool = True
    """Also record what the page's audio graph got (heard.wav, for listening/quality)."""
    heard_block_ms: float = 100.0
    playout_poll_ms: float = 10.0
    """How often the page reads getSynchronizationSources: each packet's entry stands for
    its 20 ms of playout, so polling at half that sees every packet."""
    stop_grace_s: float = 5.0
    """After a failure, how long the page may take to flush its evidence."""
    use_get_user_media: bool = False
    """Send through getUserMedia with Chromium's AEC/NS/AGC; fixed schedule, one browser
    per call, no live triggers (see ``browser_gum`` for the limits)."""
    gum: GumSettings = dataclasses.field(default_factory=GumSettings)


class _Broken(Exception):
    def __init__(self, kind: FailureKind, reason: str) -> None:
        super().__init__(reason)
        self.kind = kind
        self.reason = reason


def call_time_bound_s(steps: list[ResolvedStep], player: PlayerSettings) -> float:
    """The longest a well-behaved call can take; past it the call is declared hung."""
    total = player.post_roll_ms / 1000.0 + 10.0
    for s in steps:
        clip = (s.audio.size / SAMPLE_RATE) if s.audio is not None else 0.0
        reply = s.timeout_ms / 1000.0 + player.max_reply_s
        if s.kind is StepKind.SILENCE:
            total += (s.duration_ms or 0) / 1000.0
        elif s.kind is StepKind.LISTEN:
            total += reply
        elif s.kind is StepKind.BACKCHANNEL:
            total += s.timeout_ms / 1000.0 + clip
        else:
            waits_onset = s.timeout_ms / 1000.0 if s.kind is StepKind.BARGE_IN else 0.0
            total += waits_onset + clip + (reply if s.await_reply else 0.0)
    return total


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
            return self._assemble(started_at, failure)
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
        await self.session.send(self._config())
        deadline = time.monotonic() + s.page_timeout_s
        while True:
            left = deadline - time.monotonic()
            msg = await self._guard(self.session.control.get(), max(0.0, left), self._timeout_error())
            kind = msg.get("type")
            if kind == "offer":
                answer = await self._guard(self.endpoint.exchange(str(msg.get("sdp", ""))),
                                           s.signalling_timeout_s + 5.0,
                                           _Broken(FailureKind.ENDPOINT_HUNG, "no answer to the offer"))
                await self.session.send({"type": "answer", "sdp": answer})
                self.answer_sent = True
                deadline = time.monotonic() + s.connect_timeout_s + 1.0
            elif kind == "connected":
                self.connected = True
                self._check_pair(msg.get("pair"))
                await self.session.send({"type": "play"})
                deadline = time.monotonic() + call_time_bound_s(self.steps, s.player)
            elif kind == "state" and self.connected and msg.get("value") in ("failed", "closed"):
                what = {"dtls": "DTLS transport", "ice": "ICE connection"}.get(str(msg.get("what")), "connection")
                why = "the far end hung up" if msg.get("value") == "closed" else "media stopped flowing"
                raise _Broken(FailureKind.DROPPED, f"Chromium's {what} {msg.get('value')} mid-call ({why})")
            elif kind == "error":
                raise self._page_error(msg)
            elif kind == "closed":
                # The socket usually notices a dead browser before Playwright does.
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(lease.lost.wait(), 1.0)
                if lease.lost.is_set() or lease.page.is_closed():
                    raise self._lost_error()
                raise _Broken(FailureKind.DROPPED if self.connected else FailureKind.CALLER_ERROR,
                              "the caller page went away")
            elif kind == "done":
                return

    def _timeout_error(self) -> _Broken:
        if self.connected:
            return _Broken(FailureKind.CALLER_ERROR, "the call did not end within its time bound")
        if self.answer_sent:
            return _Broken(FailureKind.ICE_FAILED,
                           f"media not connected within {self.settings.connect_timeout_s:g} s")
        return _Broken(FailureKind.CALLER_ERROR,
                       f"the caller page made no offer within {self.settings.page_timeout_s:g} s")

    def _page_error(self, msg: dict[str, Any]) -> _Broken:
        text = f"{msg.get('where', 'page')}: {msg.get('message', '')}"[:400]
        if not self.connected and "media connection" in text:
            return _Broken(FailureKind.ICE_FAILED, text)
        return _Broken(FailureKind.CALLER_ERROR, f"caller page error: {text}")

    def _check_pair(self, pair: object) -> None:
        """Record the ICE pair; a loopback endpoint must be reached over loopback."""
        if not isinstance(pair, dict):
            return
        self.info["ice_pair"] = {k: v for k, v in pair.items() if isinstance(v, (str, type(None)))}
        remote = str(pair.get("remote") or "")
        host = remote.rsplit(":", 1)[0].strip("[]")
        url = f"http://[{host}]/" if ":" in host else f"http://{host}/"
        if is_loopback_url(self.spec.endpoint.url) and not is_loopback_url(url):
            raise _Broken(FailureKind.ICE_FAILED,
                          f"a loopback endpoint was reached at {remote!r}, not over loopback")

    def _config(self) -> dict[str, Any]:
        s = self.settings
        steps = []
        for st in self.steps:
            utt = st.utterance
            steps.append({
                "index": st.index, "kind": str(st.kind), "utterance": utt.id if utt else None,
                "duration_ms": st.duration_ms, "timeout_ms": st.timeout_ms, "await_reply": st.await_reply,
                "after_onset_ms": st.after_onset_ms, "reply_quiet_ms": st.reply_quiet_ms,
                "speech_start": utt.speech_start if utt else 0, "speech_end": utt.speech_end if utt else 0,
            })
        d = s.detector
        return {
            "type": "config",
            "sample_rate": SAMPLE_RATE,
            "clip_ids": sorted(self.session.clips),
            "steps": steps,
            "player": {
                "reply_quiet_ms": s.player.reply_quiet_ms, "max_reply_s": s.player.max_reply_s,
                "post_roll_ms": s.player.post_roll_ms, "schedule_lead_ms": s.schedule_lead_ms,
                "trigger_wake_ms": s.trigger_wake_ms,
            },
            "detector": {
                "frame_ms": d.frame_ms, "threshold_db": d.threshold_db, "release_db": d.release_db,
                "absolute_floor_dbfs": d.absolute_floor_dbfs, "min_speech_ms": d.min_speech_ms,
                "hangover_ms": d.hangover_ms, "floor_rise_db_per_s": d.floor_rise_db_per_s,
            },
            "heard_block_samples": round(s.heard_block_ms * SAMPLE_RATE / 1000),
            "record_heard": s.record_heard,
            "stats_interval_ms": s.stats_interval_s * 1000,
            "playout_poll_ms": s.playout_poll_ms,
            "connect_timeout_ms": s.connect_timeout_s * 1000,
            "ice_gathering_timeout_ms": 3000,
            "datachannel_label": self.endpoint.datachannel_label,
            "opening_messages": self.endpoint.opening_messages(),
            "loopback_only": is_loopback_url(self.spec.endpoint.url),
            "use_get_user_media": self.gum_plan is not None,
            "gum_plan": self.gum_plan.page_plan() if self.gum_plan else None,
        }

    async def _wrap_up(self, lease: Lease) -> None:
        """Let the page flush, re-check the clock, hang up; never raises, never hangs."""
        alive = not lease.lost.is_set() and not self.session.closed.is_set()
        if alive and self.session.evidence.done is None:
            await self.session.send({"type": "stop"})
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
        page = calibrate(ev.pings)
        pairs = [(float(s["ots_ctx"]), float(s["ots_perf"])) for s in ev.stats
                 if isinstance(s.get("ots_ctx"), (int, float)) and isinstance(s.get("ots_perf"), (int, float))]
        context = fit_context_clock(pairs) if any(p[0] > 0 for p in pairs) else None
        latencies = [float(s["output_latency"]) for s in ev.stats if isinstance(s.get("output_latency"), (int, float))]
        clocks = Clocks(page=page, context=context,
                        output_latency_ns=round(statistics.median(latencies) * 1e9) if latencies else 0)
        sent_stream = decode_frames(ev.sent, clocks, codec_delay=True)
        if ev.sent:
            origin = clocks.page_ns(ev.sent[0].t_ms)
        elif ev.connected is not None and isinstance(ev.connected.get("perf"), (int, float)):
            origin = clocks.page_ns(float(ev.connected["perf"]))
        else:
            origin = time.monotonic_ns()
        recv_stream = decode_frames(ev.received, clocks, codec_delay=True)
        received, anchors = place_on_call_clock(recv_stream, origin)
        heard = heard_on_clock(ev.heard, clocks, origin) if self.settings.record_heard else np.zeros(0, np.float32)
        played_out = heard_anchors(ev.playout, recv_stream, ev.received[0].rtp_ts, clocks, origin) if ev.received else ()
        placed = place_clips(ev.played, self.steps, sent_stream, clocks, origin,
                             first_window_ms=GUM_SEARCH_WINDOW_MS if self.gum_plan else FIRST_CLIP_WINDOW_MS,
                             min_quality=GUM_MIN_MATCH if self.gum_plan else MIN_QUALITY)
        sent_audio = caller_audio(placed, self.steps, sent_stream.length)
        if failure is None and not ev.received:
            failure = Failure(kind=FailureKind.NO_AUDIO, reason="the endpoint never sent audio")
        if failure is None and len(placed) < len(ev.played):
            missing = sorted({int(p.get("step", -1)) for p in ev.played} - {p.sent.step_index for p in placed})
            failure = Failure(kind=FailureKind.CALLER_ERROR,
                              reason=f"clips of steps {missing} were not found in the audio sent",
                              step_index=missing[0] if missing else None)
        connected_ns = None
        if ev.connected is not None and isinstance(ev.connected.get("perf"), (int, float)):
            connected_ns = clocks.page_ns(float(ev.connected["perf"])) - origin
        self.info.update(self._clock_info(page, clocks))
        self.info["jitter_buffer_ms"] = mean_jitter_buffer_ms(ev.stats)
        self.info["clips"] = clip_report(placed)
        self.info["heard"] = {"recorded_samples": int(heard.size), "played_packets": len(played_out),
                              "received_packets": len(ev.received)}
        self.info["get_user_media"] = self.gum_plan is not None
        if ev.capture is not None:
            self.info["capture"] = {k: v for k, v in ev.capture.items() if k in ("settings", "label")}
        if ev.connected is not None:
            self.info["user_agent"] = str(ev.connected.get("user_agent", ""))
        if ev.errors:
            self.info["page_errors"] = [f"{e.get('where')}: {e.get('message')}"[:300] for e in ev.errors[:10]]
        recording = CallRecording(
            call_id=self.spec.call_id,
            scenario_id=self.spec.scenario.id,
            endpoint=self.spec.endpoint.name,
            caller=CallerKind.BROWSER,
            repeat=self.spec.repeat,
            started_at=started_at,
            origin_monotonic_ns=origin if ev.sent else None,
            connected_ns=connected_ns,
            duration_ns=max(sent_audio.size, received.size) * 1_000_000_000 // SAMPLE_RATE,
            received_anchors=anchors,
            arrival_source="chromium",
            sent=tuple(p.sent for p in placed),
            steps=step_logs(ev.steps, clocks, origin),
            events=endpoint_events(ev.datachannel, self.endpoint, clocks, origin),
            transport=transport_samples(ev.stats, clocks, origin),
            send_timing=send_timing(ev.sent, clocks),
            failure=failure,
            dialect_info=dict(self.endpoint.info),
            heard_wav=HEARD_WAV if heard.size else "",
            heard_anchors=played_out,
            caller_info=self.info,
        )
        return CallArtifacts(recording=recording, caller_audio=sent_audio, received_audio=received,
                                    heard_audio=heard)

    def _clock_info(self, page: ClockMapping, clocks: Clocks) -> dict[str, JSONValue]:
        ctx = clocks.context
        out: dict[str, JSONValue] = {
            "clock_error_us": round(page.error_ns / 1000, 1),
            "clock_rtt_us": round(page.rtt_ns / 1000, 1),
            "clock_spread_us": round(page.spread_ns / 1000, 1),
            "clock_pings": page.samples,
        }
        if ctx is not None:
            out["context_clock"] = {"slope": ctx.slope, "residual_ms": round(ctx.residual_ms, 3),
                                    "samples": ctx.samples}
        latencies = [s for s in self.session.evidence.stats if isinstance(s.get("output_latency"), (int, float))]
        if latencies:
            out["output_latency_ms"] = round(float(latencies[-1]["output_latency"]) * 1000, 3)
            out["base_latency_ms"] = round(float(latencies[-1].get("base_latency", 0.0)) * 1000, 3)
        return out


__all__ = [
    "HEARD_WAV",
    "BrowserCall",
    "BrowserSettings",
    "call_time_bound_s",
]

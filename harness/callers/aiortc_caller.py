"""The Python WebRTC caller: one aiortc peer connection per call.

It connects through the endpoint's dialect adapter, paces the scenario's audio on the
call clock, timestamps received audio at RTP arrival, keeps the endpoint's events and
the transport statistics, and returns everything as a ``CallRecording``. Every failure
(refused offer, ICE, dropped call, ...) ends the call with a recorded ``Failure`` and
whatever was captured up to then; nothing here raises to the runner.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import time
from datetime import UTC, datetime
from typing import Any

from aiortc import RTCPeerConnection, RTCSessionDescription
from aiortc.mediastreams import MediaStreamError

from harness.callers.activity import AgentActivity
from harness.callers.base import (
    CallArtifacts,
    CallerSettings,
    failed_artifacts,
    network_of,
    resolve_steps,
)
from harness.callers.script import PlayedClip, ResolvedStep, ScenarioPlayer, sent_utterance
from harness.clock import SystemClock
from harness.corpus.errors import CorpusError
from harness.corpus.model import Corpus
from harness.endpoints.base import EndpointError, WebRTCEndpoint
from harness.endpoints.impaired import network_applied
from harness.endpoints.registry import open_endpoint
from harness.records import (
    CallerKind,
    CallRecording,
    CallSpec,
    EndpointEvent,
    Failure,
    FailureKind,
    JSONValue,
    SentUtterance,
    TransportSample,
)
from harness.validity import send_timing
from harness.webrtc.arrivals import KernelArrivals
from harness.webrtc.audio import SAMPLE_RATE, samples_to_ns
from harness.webrtc.ice import is_loopback_url, loopback_only, rtc_configuration
from harness.webrtc.peer import new_peer_connection
from harness.webrtc.playout import PacedAudioTrack, Playout
from harness.webrtc.received import ReceivedStream, place_on_call_clock
from harness.webrtc.selected import selected_pair_info
from harness.webrtc.taps import ReceiveTap, SendTap

log = logging.getLogger(__name__)


class AiortcCaller:
    kind = CallerKind.AIORTC

    def __init__(self, corpus: Corpus, settings: CallerSettings | None = None) -> None:
        self.corpus = corpus
        self.settings = settings or CallerSettings()

    async def run(self, spec: CallSpec) -> CallArtifacts:
        started_at = datetime.now(UTC).isoformat(timespec="milliseconds")
        try:
            steps = await asyncio.to_thread(resolve_steps, spec, self.corpus)  # reads audio files: off the loop
        except (CorpusError, OSError) as exc:
            return failed_artifacts(spec, CallerKind.AIORTC, started_at,
                                   Failure(kind=FailureKind.MISSING_CORPUS_ITEM, reason=str(exc)))
        endpoint = open_endpoint(spec.endpoint, timeout_s=self.settings.signalling_timeout_s,
                                 network=network_of(spec, self.settings.network), seed_key=spec.call_id)
        # Key, certificate and DTLS context take 25 ms and more of CPU on a busy machine:
        # off the loop that paces the other calls' audio (measured as loop lag).
        pc = await asyncio.to_thread(new_peer_connection, rtc_configuration())
        call = _Call(spec, steps, self.settings, endpoint, pc)
        return await call.run(started_at)


class _Call:
    """The state of one call while it runs."""

    def __init__(self, spec: CallSpec, steps: list[ResolvedStep], settings: CallerSettings,
                 endpoint: WebRTCEndpoint, pc: RTCPeerConnection) -> None:
        self.spec = spec
        self.steps = steps
        self.settings = settings
        self.endpoint = endpoint
        self.clock = SystemClock()
        self.pc = pc
        self.playout = Playout()
        self.origin = asyncio.get_running_loop().create_future()
        self.track = PacedAudioTrack(self.playout, self.clock, on_start=self._on_start)
        self.activity = AgentActivity()
        self.stream = ReceivedStream(on_audio=self.activity.on_audio)
        self.arrivals = KernelArrivals()
        self.events: list[EndpointEvent] = []
        self.transport: list[TransportSample] = []
        self.connected_abs: int | None = None
        self.connected = asyncio.Event()
        self.broken = asyncio.Event()
        self.broken_reason = ""
        self.player: ScenarioPlayer | None = None
        self.send_tap: SendTap | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self.info: dict[str, JSONValue] = {}
        """``caller_info``: the selected ICE pair and where it took the media."""

    def _on_start(self, origin_ns: int) -> None:
        if not self.origin.done():
            self.origin.set_result(origin_ns)

    async def run(self, started_at: str) -> CallArtifacts:
        failure: Failure | None = None
        try:
            await self._connect()
            await self._play()
        except EndpointError as exc:
            failure = Failure(kind=exc.kind, reason=exc.reason, step_index=self._step())
        except _CallBroken as exc:
            failure = Failure(kind=exc.kind, reason=exc.reason, step_index=self._step())
        except Exception as exc:  # a caller bug must still leave a result behind
            log.exception("caller error in %s", self.spec.call_id)
            failure = Failure(kind=FailureKind.CALLER_ERROR, reason=f"{type(exc).__name__}: {exc}",
                              step_index=self._step())
        finally:
            await self._hang_up()
        if failure is None and self.stream.stats().packets == 0:
            failure = Failure(kind=FailureKind.NO_AUDIO, reason="the endpoint never sent audio")
        # Assembly (placing the received audio, send-timing percentiles) is tens of ms of
        # numpy on a long call; the call is over, so it runs beside the loop, not in it.
        return await asyncio.to_thread(self._artifacts, started_at, failure)

    def _step(self) -> int | None:
        return self.player.current_step if self.player else None

    async def _connect(self) -> None:
        pc = self.pc
        pc.on("connectionstatechange", self._on_state)
        transceiver = pc.addTransceiver(self.track, direction="sendrecv")
        ReceiveTap(transceiver.receiver, self.stream.add, arrivals=self.arrivals)
        if self.endpoint.datachannel_label:
            channel = pc.createDataChannel(self.endpoint.datachannel_label)
            channel.on("message", self._on_message)
            channel.on("open", lambda: self._send_opening(channel))
        with loopback_only(is_loopback_url(self.spec.endpoint.url)):
            await pc.setLocalDescription(await pc.createOffer())
        self.arrivals.install(transceiver.receiver.transport.transport)
        answer = await self.endpoint.exchange(pc.localDescription.sdp)
        try:
            await pc.setRemoteDescription(RTCSessionDescription(sdp=answer, type="answer"))
        except Exception as exc:
            raise EndpointError(FailureKind.SIGNALLING_ERROR, f"cannot apply the answer SDP: {exc}") from exc
        sender = transceiver.sender
        self.send_tap = SendTap(sender.transport, sender._ssrc)
        self._spawn(self._drain(transceiver.receiver.track))
        try:
            await asyncio.wait_for(self.connected.wait(), self.settings.connect_timeout_s)
            origin = await asyncio.wait_for(asyncio.shield(self.origin), self.settings.connect_timeout_s)
        except TimeoutError:
            raise _CallBroken(
                FailureKind.ICE_FAILED,
                f"media not connected within {self.settings.connect_timeout_s:g} s "
                f"(ICE state {pc.iceConnectionState})",
            ) from None
        if self.broken.is_set():
            raise _CallBroken(FailureKind.ICE_FAILED, self.broken_reason)
        self.info.update(selected_pair_info(transceiver.receiver.transport.transport,
                                            endpoint_url=self.spec.endpoint.url) or {})
        self.player = ScenarioPlayer(self.steps, self.playout, self.activity, self.clock, origin,
                                     self.settings.player)
        self._spawn(self._sample_stats())

    async def _play(self) -> None:
        assert self.player is not None
        play = asyncio.ensure_future(self.player.run())
        broken = asyncio.ensure_future(self.broken.wait())
        try:
            await asyncio.wait({play, broken}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            broken.cancel()
        if not play.done():
            play.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await play
            raise _CallBroken(FailureKind.DROPPED, self.broken_reason)
        play.result()

    def _on_state(self) -> None:
        state = self.pc.connectionState
        if state == "connected" and self.connected_abs is None:
            self.connected_abs = time.monotonic_ns()
            self.connected.set()
        elif state in ("failed", "closed") and not self.broken.is_set():
            self.broken_reason = f"connection {state} by the endpoint"
            self.broken.set()
            self.connected.set()

    def _send_opening(self, channel: Any) -> None:
        for message in self.endpoint.opening_messages():
            channel.send(message)

    def _on_message(self, message: str | bytes) -> None:
        self.events.extend(self.endpoint.map_message(message, time.monotonic_ns()))

    async def _drain(self, track: Any) -> None:
        with contextlib.suppress(MediaStreamError):
            while True:
                await track.recv()

    async def _sample_stats(self) -> None:
        while True:
            await asyncio.sleep(self.settings.stats_interval_s)
            rtt = await self._rtt_ms()
            s = self.stream.stats()
            self.transport.append(
                TransportSample(t_ns=time.monotonic_ns(), packets_received=s.packets,
                                packets_lost=s.lost, jitter_ms=s.jitter_ms, rtt_ms=rtt)
            )

    async def _rtt_ms(self) -> float | None:
        with contextlib.suppress(Exception):
            report = await self.pc.getStats()
            for stat in report.values():
                if getattr(stat, "type", "") == "remote-inbound-rtp" and stat.roundTripTime is not None:
                    return float(stat.roundTripTime) * 1000.0
        return None

    async def _hang_up(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        # The hang-up of a broken endpoint must not hang the harness.
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self.endpoint.close(), 5.0)
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self.pc.close(), 5.0)

    def _spawn(self, coro: Any) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # ------------------------------------------------------------------ assembly

    def _artifacts(self, started_at: str, failure: Failure | None) -> CallArtifacts:
        origin = self.origin.result() if self.origin.done() else time.monotonic_ns()
        caller_audio = self.playout.sent_audio()
        received, anchors = place_on_call_clock(self.stream, origin)
        sent = tuple(self._sent(clip, origin) for clip in (self.player.played if self.player else []))
        final = self.stream.stats()
        transport = (*self.transport, TransportSample(
            t_ns=time.monotonic_ns(), packets_received=final.packets, packets_lost=final.lost,
            jitter_ms=final.jitter_ms, rtt_ms=self.transport[-1].rtt_ms if self.transport else None,
        ))
        recording = CallRecording(
            call_id=self.spec.call_id,
            scenario_id=self.spec.scenario.id,
            endpoint=self.spec.endpoint.name,
            caller=CallerKind.AIORTC,
            repeat=self.spec.repeat,
            started_at=started_at,
            origin_monotonic_ns=origin if self.origin.done() else None,
            connected_ns=None if self.connected_abs is None else self.connected_abs - origin,
            duration_ns=max(caller_audio.size, received.size) * 1_000_000_000 // SAMPLE_RATE,
            received_anchors=anchors,
            arrival_source="kernel" if self.arrivals.enabled else "loop",
            sent=sent,
            steps=tuple(self.player.logs) if self.player else (),
            events=tuple(dataclasses.replace(e, t_ns=e.t_ns - origin) for e in self.events),
            transport=tuple(dataclasses.replace(t, t_ns=t.t_ns - origin) for t in transport),
            send_timing=send_timing(self.track.handoff_errors_ns),
            failure=failure,
            dialect_info=dict(self.endpoint.info),
            caller_info=dict(self.info),
            network=network_applied(self.endpoint, origin),
        )
        return CallArtifacts(recording=recording, caller_audio=caller_audio, received_audio=received)

    def _sent(self, clip: PlayedClip, origin: int) -> SentUtterance:
        utt = clip.utterance

        def at(sample: int) -> int:
            absolute = clip.start_sample + sample
            wire = self.send_tap.wire_ns_of_sample(absolute) if self.send_tap else None
            return (wire if wire is not None else origin + samples_to_ns(absolute)) - origin

        return sent_utterance(
            step_index=clip.step_index,
            kind=clip.kind,
            utterance=utt,
            start_sample=clip.start_sample,
            at=at,
            trigger_ns=None if clip.trigger_ns is None else clip.trigger_ns - origin,
            agent_onset_ns=None if clip.agent_onset_ns is None else clip.agent_onset_ns - origin,
        )


class _CallBroken(Exception):
    def __init__(self, kind: FailureKind, reason: str) -> None:
        super().__init__(reason)
        self.kind = kind
        self.reason = reason


__all__ = ["AiortcCaller"]

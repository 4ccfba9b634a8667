"""One WebRTC call of the reference agent: aiortc media and the ``oai-events`` channel.

The conversation (turns, replies, interruptions, ground truth) is ``core.AgentCallCore``;
this module carries it over WebRTC: received RTP is decoded at its (kernel) arrival (a
lost packet is heard as its silence, so the turn detector's positions stay the stream's),
the reply timeline is paced out in 20 ms Opus frames, and the wire time of the packet
carrying each sample is what the truth log records as the moment that sample left.
"""

from __future__ import annotations

import contextlib
import json
import logging
import time
from typing import Any

import numpy as np
from aiortc import RTCPeerConnection, RTCSessionDescription
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack

from harness.agent.core import CUT_FADE_SAMPLES, AgentCallCore, PendingReply, Responder
from harness.agent.knobs import AgentKnobs, AgentMode
from harness.agent.playback import LoopedPacketTrack
from harness.agent.truth import TruthLog
from harness.webrtc.arrivals import KernelArrivals
from harness.webrtc.audio import OPUS_DELAY_NS, Float32Audio
from harness.webrtc.ice import loopback_only, rtc_configuration
from harness.webrtc.playout import PacedAudioTrack, Playout
from harness.webrtc.received import ReceivedStream
from harness.webrtc.taps import ArrivedPacket, ReceiveTap, SendTap, SentPacket, carried_at

log = logging.getLogger(__name__)

__all__ = ["CUT_FADE_SAMPLES", "AgentCall", "PendingReply", "Responder"]


class AgentCall(AgentCallCore):
    """State of one WebRTC call; created per offer by the server."""

    def __init__(self, call_id: str, index: int, knobs: AgentKnobs, truth: TruthLog,
                 brain: Responder | None = None) -> None:
        super().__init__(call_id, index, knobs, truth, Playout(record=False), brain=brain)
        self.pc = RTCPeerConnection(rtc_configuration())
        self.track = PacedAudioTrack(self.playout)
        self._sent_track: MediaStreamTrack = (
            LoopedPacketTrack() if knobs.mode is AgentMode.PLAYBACK else self.track)
        # The caller's speech in its own input positions (the send tap's convention,
        # ``carried_at``): the truth log's times are all in that one convention.
        self.stream = ReceivedStream(on_audio=self._on_received_audio, codec_delay_ns=OPUS_DELAY_NS)
        self.arrivals = KernelArrivals()
        self._send_tap: SendTap | None = None
        self._channel: Any = None
        self._outbox: list[str] = []

    async def answer(self, offer_sdp: str) -> str:
        pc = self.pc
        pc.on("datachannel", self._on_datachannel)
        pc.on("connectionstatechange", self._on_state)
        # Exactly 127.0.0.1 unless the knob asks for a plain aiortc server's candidates.
        with loopback_only(not self.knobs.ice_interfaces):
            await pc.setRemoteDescription(RTCSessionDescription(sdp=offer_sdp, type="offer"))
            transceiver = next(t for t in pc.getTransceivers() if t.kind == "audio")
            listen = self._on_packet if self.knobs.mode is not AgentMode.PLAYBACK else _ignore
            ReceiveTap(transceiver.receiver, listen, arrivals=self.arrivals)
            pc.addTrack(self._sent_track)
            await pc.setLocalDescription(await pc.createAnswer())
        self.arrivals.install(transceiver.receiver.transport.transport)
        sender = transceiver.sender
        self._send_tap = SendTap(
            sender.transport, sender._ssrc, self.knobs.impairment(self._index), self._on_sent
        )
        self.spawn(self._drain(transceiver.receiver.track))
        if self.knobs.drop_after_s is not None:
            self.spawn(self.drop_later(self.knobs.drop_after_s))
        self.write_call_start()
        return str(pc.localDescription.sdp)

    async def close(self, reason: str = "hangup") -> None:
        if self.closed.is_set():
            return
        self.closed.set()
        if self._send_tap is not None:
            self._send_tap.close()
        self.cancel_tasks()
        await self.pc.close()
        if self.closed_callback is not None:
            self.closed_callback()
        received = self.stream.stats()
        self.truth.write("receive", call_id=self.call_id, packets=received.packets, lost=received.lost,
                         late=received.late, duplicates=received.duplicates, jitter_ms=received.jitter_ms)
        self.write_call_end(reason)

    # ------------------------------------------------------------ transport hooks

    def anchors(self) -> list[tuple[int, int]]:
        return self.stream.anchors

    def origin_ns(self) -> int | None:
        return self.track.origin_ns

    # ------------------------------------------------------------------ media

    async def _drain(self, track: Any) -> None:
        """Keep aiortc's own decoded frames from piling up; the harness decodes itself."""
        with contextlib.suppress(MediaStreamError):
            while True:
                await track.recv()

    def _on_packet(self, packet: ArrivedPacket) -> None:
        self.stream.add(packet)

    def _on_received_audio(self, samples: Float32Audio, index: int, arrival_ns: int) -> None:
        gap = index - self.turns.position
        if gap > 0:  # lost packets: their silence, so the detector's positions stay stream positions
            self.on_audio(np.zeros(gap, dtype=np.float32), index - gap, arrival_ns)
        self.on_audio(samples, index, arrival_ns)

    def _on_sent(self, packet: SentPacket) -> None:
        self.on_carried(lambda sample: carried_at(packet, sample), packet.timestamp + 960, lost=packet.lost)

    # -------------------------------------------------------------------- events

    def _on_datachannel(self, channel: Any) -> None:
        self._channel = channel
        channel.on("open", self._flush_outbox)
        if channel.readyState == "open":
            self._flush_outbox()
        self.send_event("session.created", session={"id": f"sess_{self.call_id}", "object": "realtime.session"})
        if self.knobs.malformed_events:
            self._send_raw("this is not json {")
            self._send_raw(json.dumps({"no_type": True}))

    def send_event(self, event_type: str, **fields: Any) -> None:
        self._send_raw(json.dumps({"type": event_type, "event_id": f"evt_{time.monotonic_ns()}", **fields}))

    def _send_raw(self, message: str) -> None:
        channel = self._channel
        if channel is not None and channel.readyState == "open":
            with contextlib.suppress(Exception):
                channel.send(message)
        else:
            self._outbox.append(message)

    def _flush_outbox(self) -> None:
        outbox, self._outbox = self._outbox, []
        for message in outbox:
            self._send_raw(message)

    def _on_state(self) -> None:
        if self.pc.connectionState in ("failed", "closed"):
            self.spawn(self.close(reason=self.pc.connectionState))


def _ignore(packet: ArrivedPacket) -> None:
    """playback mode: what the caller says is not listened to (aiortc still counts it)."""

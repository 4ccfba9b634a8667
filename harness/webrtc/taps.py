"""Taps on aiortc's RTP path: wire times out, arrival times in, an emulated network.

Latency is measured between audio leaving one peer and arriving at the other, so both
ends need packet-level times that aiortc does not expose: when each RTP packet was
handed to the socket (``SendTap``) and when each one arrived (``ReceiveTap``). The send
tap is also where the reference agent's faulty network lives (loss, jitter,
duplication), so that its ground-truth log records when a packet really left.
"""

from __future__ import annotations

import asyncio
import random
import struct
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from aiortc.rtcrtpreceiver import StreamStatistics
from aiortc.rtp import RtpPacket, is_rtcp

from harness.webrtc.arrivals import KernelArrivals
from harness.webrtc.audio import FRAME_SAMPLES, OPUS_DELAY_SAMPLES, SAMPLE_RATE


@dataclass(frozen=True, slots=True, kw_only=True)
class Impairment:
    """Faults applied to outgoing media packets, as a bad network would."""

    loss: float = 0.0
    """Probability that a packet is dropped."""
    jitter_ms: float = 0.0
    """Each packet is held for a uniform random 0..jitter_ms, order preserved."""
    duplicate: float = 0.0
    """Probability that a packet is sent twice."""
    seed: int = 0

    @property
    def active(self) -> bool:
        return self.loss > 0 or self.jitter_ms > 0 or self.duplicate > 0


@dataclass(frozen=True, slots=True, kw_only=True)
class SentPacket:
    seq: int
    timestamp: int
    """RTP timestamp minus the stream's first one: the sample index of the packet's frame."""
    wire_ns: int
    """CLOCK_MONOTONIC when it was handed to the socket (or would have been, if lost):
    stamped as the send returns, and only then reported (``on_packet``), so what the
    listener does with it (the reference agent's truth log, its events) happens after
    the packet left, never between its stamp and its send. Stamped before the send and
    reported first, a turn of the lossy latency-truth case left 6.5 ms after its stamp
    (another 3.0 ms; the rest 0.2-0.7 ms on loopback)."""
    lost: bool = False


class SendTap:
    """Records (and optionally impairs) the RTP packets of one outgoing SSRC."""

    def __init__(
        self,
        dtls_transport: Any,
        ssrc: int,
        impairment: Impairment | None = None,
        on_packet: Callable[[SentPacket], None] | None = None,
    ) -> None:
        self._transport = dtls_transport
        self._ssrc = ssrc
        self._impairment = impairment or Impairment()
        self._rng = random.Random(self._impairment.seed)
        self._on_packet = on_packet
        self._original: Callable[[bytes], Awaitable[None]] = dtls_transport._send_rtp
        self._ts0: int | None = None
        self._queue: asyncio.Queue[tuple[int, bytes, int, int]] | None = None
        self._drain_task: asyncio.Task[None] | None = None
        self._last_release_ns = 0
        self.packets: list[SentPacket] = []
        """Every packet of the stream in send order (lost ones included, marked)."""
        self._by_frame: dict[int, SentPacket] = {}
        dtls_transport._send_rtp = self._send_rtp

    def wire_ns_of_sample(self, sample: int) -> int | None:
        """When ``sample`` left: see ``carried_at``; None if its packet was never sent."""
        packet = self._by_frame.get((sample + OPUS_DELAY_SAMPLES) // FRAME_SAMPLES)
        return None if packet is None else carried_at(packet, sample)

    def close(self) -> None:
        if self._drain_task is not None:
            self._drain_task.cancel()

    async def _send_rtp(self, data: bytes) -> None:
        if is_rtcp(data) or len(data) < 12 or struct.unpack_from("!I", data, 8)[0] != self._ssrc:
            await self._original(data)
            return
        seq, ts = struct.unpack_from("!HI", data, 2)
        if self._ts0 is None:
            self._ts0 = ts
        rel_ts = (ts - self._ts0) & 0xFFFFFFFF
        imp = self._impairment
        if not imp.active:
            await self._original(data)
            self._record(SentPacket(seq=seq, timestamp=rel_ts, wire_ns=time.monotonic_ns()))
            return
        now = time.monotonic_ns()
        release = max(now + int(self._rng.uniform(0, imp.jitter_ms) * 1e6), self._last_release_ns)
        self._last_release_ns = release
        if self._rng.random() < imp.loss:
            self._record(SentPacket(seq=seq, timestamp=rel_ts, wire_ns=release, lost=True))
            return
        copies = 2 if self._rng.random() < imp.duplicate else 1
        if self._queue is None:
            self._queue = asyncio.Queue()
            self._drain_task = asyncio.get_running_loop().create_task(self._drain())
        for _ in range(copies):
            self._queue.put_nowait((release, data, seq, rel_ts))

    async def _drain(self) -> None:
        assert self._queue is not None
        recorded_seq: int | None = None
        while True:
            release, data, seq, rel_ts = await self._queue.get()
            delay = (release - time.monotonic_ns()) / 1e9
            if delay > 0:
                await asyncio.sleep(delay)
            try:
                await self._original(data)
            except ConnectionError:
                return
            if seq != recorded_seq:
                self._record(SentPacket(seq=seq, timestamp=rel_ts, wire_ns=time.monotonic_ns()))
                recorded_seq = seq

    def _record(self, packet: SentPacket) -> None:
        self.packets.append(packet)
        self._by_frame.setdefault(packet.timestamp // FRAME_SAMPLES, packet)
        if self._on_packet is not None:
            self._on_packet(packet)


def carried_at(packet: SentPacket, sample: int) -> int | None:
    """The wire time of ``sample`` if ``packet`` carries it, else None.

    libopus delays its output by 312 samples, so a sample's sound travels in the packet
    whose *decoded* span holds sample + 312, not always the packet of its own frame. The
    time is that packet's wire time plus the decoded offset, less the codec delay: the
    rule every receiver here applies, so both ends agree even when the sender stalled
    between two packets.
    """
    offset = sample + OPUS_DELAY_SAMPLES - packet.timestamp
    if not 0 <= offset < FRAME_SAMPLES:
        return None
    return packet.wire_ns + (offset - OPUS_DELAY_SAMPLES) * 1_000_000_000 // SAMPLE_RATE


@dataclass(frozen=True, slots=True, kw_only=True)
class ArrivedPacket:
    seq: int
    timestamp: int
    payload: bytes
    arrival_ns: int
    """CLOCK_MONOTONIC when the packet reached the receiver (after SRTP, before buffering)."""


class ReceiveTap:
    """Hands every RTP packet of a receiver to ``on_packet`` at arrival.

    aiortc would also jitter-buffer and decode every packet in a thread of its own,
    work the harness never uses and which, at a few calls per process, starves the
    event loop of the GIL. So aiortc only gets the packet's statistics (which feed its
    RTCP receiver reports and ``getStats``), unless ``forward`` asks for the full path.
    """

    def __init__(
        self,
        receiver: Any,
        on_packet: Callable[[ArrivedPacket], None],
        *,
        forward: bool = False,
        arrivals: KernelArrivals | None = None,
    ) -> None:
        self.receiver = receiver
        self.on_packet = on_packet
        self.arrivals = arrivals
        """Kernel receive times, once installed on the ICE transport (see ``arrivals``)."""
        self._original: Callable[..., Awaitable[None]] = receiver._handle_rtp_packet
        self._streams: dict[int, Any] | None = getattr(receiver, "_RTCRtpReceiver__remote_streams", None)
        self._forward = forward or self._streams is None
        receiver._handle_rtp_packet = self._handle_rtp_packet

    async def _handle_rtp_packet(self, packet: RtpPacket, arrival_time_ms: int) -> None:
        kernel_ns = self.arrivals.current_ns if self.arrivals is not None else None
        self.on_packet(
            ArrivedPacket(
                seq=packet.sequence_number,
                timestamp=packet.timestamp,
                payload=packet.payload,
                arrival_ns=kernel_ns if kernel_ns is not None else time.monotonic_ns(),
            )
        )
        if self._forward:
            await self._original(packet, arrival_time_ms)
            return
        assert self._streams is not None
        stream = self._streams.get(packet.ssrc)
        if stream is None:
            stream = self._streams[packet.ssrc] = StreamStatistics(SAMPLE_RATE)
        stream.add(packet)

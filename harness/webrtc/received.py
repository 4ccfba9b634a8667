"""Received audio placed on the clock at RTP arrival, decoded in arrival order.

aiortc's jitter buffer would add ~80 ms to every onset (and ~280 ms after one loss), so
the harness decodes the packets itself as they arrive. RTP timestamps give the audio its
continuity; the packet arrival times say when each piece of decoded sound came to exist
at this peer.

A lost packet is concealed as every Opus receiver conceals it: libopus's own packet loss
concealment fills its span (up to ``MAX_CONCEALED_SAMPLES``; the rest of a longer gap is
silence), and the next packet decodes after it. PyAV has no call for it, but libopus
treats a packet of its TOC byte alone as a lost frame of the TOC's duration (RFC 6716
3.2.1), so one is fed in for every missing frame. Decoding a lost packet as digital
silence instead split a reply's first 50 ms whenever a packet in it was lost: the part
before the gap was too short to open a segment, and the onset read 20-70 ms late
(``tests/webrtc/test_received.py``). The concealed span has no anchor of its own: it is
the previous packet's sound carried on, placed where the stream continues from that
packet.

A caller's stream is anchored at arrival itself: the decoded sound of a packet exists
only once the packet is here, and libopus's 312-sample delay (the decoded output lags
the far end's input) is part of what the caller waits for, so a reply's onset is never
stamped before the packet that carries it arrived. The reference agent anchors its own
stream ``OPUS_DELAY_NS`` earlier, at the far end's input position, the convention of its
send tap (``harness.webrtc.taps.carried_at``), so its ground-truth log is in one
convention: the caller's turn latency reads the agent's truth plus this codec term
(docs/timing.md).
"""

from __future__ import annotations

import bisect
from collections.abc import Callable
from dataclasses import dataclass

import av
import numpy as np

from harness.webrtc.audio import (
    FRAME_SAMPLES,
    SAMPLE_RATE,
    Float32Audio,
    samples_to_ns,
    to_float32,
)
from harness.webrtc.taps import ArrivedPacket

MAX_CONCEALED_SAMPLES = 5 * FRAME_SAMPLES
"""The longest gap libopus conceals (100 ms); the rest is silence. Its concealment fades
within a few frames anyway, and a long gap (a sender that paused) would otherwise cost
a decode per missing frame."""

_CELT_FRAME_SAMPLES = (120, 240, 480, 960)
_SILK_FRAME_SAMPLES = (480, 960, 1920, 2880)


def opus_frame_samples(toc: int) -> int:
    """Samples per frame (48 kHz) of an Opus packet's configuration (RFC 6716 3.1)."""
    config = toc >> 3
    if config < 12:
        return _SILK_FRAME_SAMPLES[config % 4]
    if config < 16:
        return _SILK_FRAME_SAMPLES[config % 2]  # hybrid: 10 or 20 ms
    return _CELT_FRAME_SAMPLES[config % 4]


@dataclass(frozen=True, slots=True, kw_only=True)
class ReceiveStats:
    packets: int
    lost: int
    """Sequence numbers never seen (minus those that arrived late)."""
    late: int
    """Packets that arrived after a later one had been decoded (dropped)."""
    duplicates: int
    jitter_ms: float
    """RFC 3550 interarrival jitter."""


class ReceivedStream:
    """Decodes one Opus RTP stream into mono float32 and keeps its arrival anchors.

    Sample index 0 is the first packet's first sample; ``anchors`` holds
    (sample index, arrival ns less ``codec_delay_ns``) per decoded packet: 0 for a
    caller (when the sound exists here), ``OPUS_DELAY_NS`` for the far end's input
    position (the reference agent's truth, the browser caller's sent frames).
    """

    def __init__(
        self,
        on_audio: Callable[[Float32Audio, int, int], None] | None = None,
        codec_delay_ns: int = 0,
    ) -> None:
        self._decoder = av.CodecContext.create("libopus", "r")
        self._decoder.format = "s16"
        self._decoder.layout = "mono"
        self._decoder.sample_rate = SAMPLE_RATE
        self._on_audio = on_audio
        self._codec_delay_ns = codec_delay_ns
        self._chunks: list[Float32Audio] = []
        self._length = 0
        self._last_toc: int | None = None
        self._concealed = 0
        self._ts0: int | None = None
        self._last_seq: int | None = None
        self._seen_seqs: set[int] = set()
        self.anchors: list[tuple[int, int]] = []
        self._packets = 0
        self._late = 0
        self._duplicates = 0
        self._expected = 0
        self._jitter = 0.0
        self._prev_transit: float | None = None

    @property
    def length(self) -> int:
        return self._length

    def add(self, packet: ArrivedPacket) -> None:
        seq = self._unwrap_seq(packet.seq)
        if seq in self._seen_seqs:
            self._duplicates += 1
            return
        self._seen_seqs.add(seq)
        self._packets += 1
        if self._last_seq is not None and seq < self._last_seq:
            self._late += 1
            return
        if self._ts0 is None:
            self._ts0 = packet.timestamp
            self._first_seq = seq
        self._last_seq = seq
        self._expected = seq - self._first_seq + 1
        index = (packet.timestamp - self._ts0) & 0xFFFFFFFF
        self._update_jitter(packet.arrival_ns, index)
        if index > self._length:
            self._conceal(index - self._length)
        decoded = self._decode(packet.payload)
        if packet.payload:
            self._last_toc = packet.payload[0]
        if index < self._length:
            decoded = decoded[self._length - index :]
            index = self._length
        if decoded.size == 0:
            return
        arrival = packet.arrival_ns - self._codec_delay_ns
        self.anchors.append((index, arrival))
        self._append(decoded)
        if self._on_audio is not None:
            self._on_audio(decoded, index, arrival)

    def samples(self) -> Float32Audio:
        if not self._chunks:
            return np.zeros(0, dtype=np.float32)
        if len(self._chunks) > 1:
            self._chunks = [np.concatenate(self._chunks)]
        return self._chunks[0]

    @property
    def concealed(self) -> int:
        """Samples filled by libopus's loss concealment."""
        return self._concealed

    def stats(self) -> ReceiveStats:
        lost = max(0, self._expected - self._packets)  # duplicates never entered _packets
        return ReceiveStats(
            packets=self._packets,
            lost=lost + self._late,
            late=self._late,
            duplicates=self._duplicates,
            jitter_ms=self._jitter,
        )

    def _append(self, audio: Float32Audio) -> None:
        self._chunks.append(audio)
        self._length += audio.size

    def _conceal(self, gap: int) -> None:
        """Fill ``gap`` missing samples: libopus's concealment, one lost frame at a time
        (a TOC-only packet, code 0, of the last packet's configuration), then silence."""
        start = self._length
        parts: list[Float32Audio] = []
        filled = 0
        if self._last_toc is not None:
            toc = bytes([self._last_toc & 0xFC])
            frame = opus_frame_samples(self._last_toc)
            while filled + frame <= min(gap, MAX_CONCEALED_SAMPLES):
                pcm = self._decode(toc)
                if pcm.size != frame:  # not what libopus promises: keep the gap's length
                    break
                parts.append(pcm)
                filled += frame
        self._concealed += filled
        if filled < gap:
            parts.append(np.zeros(gap - filled, dtype=np.float32))
        audio = parts[0] if len(parts) == 1 else np.concatenate(parts)
        self._append(audio)
        if self._on_audio is not None:
            at = time_of_sample(self.anchors, start) if self.anchors else 0
            self._on_audio(audio, start, at)

    def _decode(self, payload: bytes) -> Float32Audio:
        try:
            frames = self._decoder.decode(av.Packet(payload))
        except av.error.FFmpegError:
            return np.zeros(0, dtype=np.float32)
        # Straight from the packed s16 plane: AudioFrame.to_ndarray stacks planes through
        # Python and costs more than the decode itself, once per packet of every call.
        parts = [np.frombuffer(memoryview(f.planes[0]), dtype=np.int16, count=f.samples) for f in frames]
        if not parts:
            return np.zeros(0, dtype=np.float32)
        return to_float32(parts[0] if len(parts) == 1 else np.concatenate(parts))

    def _unwrap_seq(self, seq: int) -> int:
        if self._last_seq is None:
            return seq
        base = self._last_seq & ~0xFFFF
        candidate = base | seq
        if candidate < self._last_seq - 0x8000:
            candidate += 0x10000
        elif candidate > self._last_seq + 0x8000:
            candidate -= 0x10000
        return candidate

    def _update_jitter(self, arrival_ns: int, index: int) -> None:
        transit = arrival_ns / 1e6 - index * 1000.0 / SAMPLE_RATE
        if self._prev_transit is not None:
            self._jitter += (abs(transit - self._prev_transit) - self._jitter) / 16.0
        self._prev_transit = transit


def place_on_call_clock(
    stream: ReceivedStream, origin_ns: int
) -> tuple[Float32Audio, tuple[tuple[int, int], ...]]:
    """Lay the stream out so sample index ~ call time, with anchors on the call clock.

    The first decoded packet is put at its arrival time; RTP continuity places the
    rest, and the anchors keep the exact arrival of every packet for the analysis.
    """
    audio = stream.samples()
    if not stream.anchors:
        return np.zeros(0, dtype=np.float32), ()
    first_index, first_arrival = stream.anchors[0]
    lead = round((first_arrival - origin_ns) * SAMPLE_RATE / 1e9) - first_index
    if lead >= 0:
        placed = np.concatenate([np.zeros(lead, dtype=np.float32), audio])
    else:
        placed = audio[-lead:]
    anchors = tuple(
        (index + lead, arrival - origin_ns)
        for index, arrival in stream.anchors
        if index + lead >= 0
    )
    return placed, anchors


__all__ = [
    "MAX_CONCEALED_SAMPLES",
    "ReceiveStats",
    "ReceivedStream",
    "opus_frame_samples",
    "place_on_call_clock",
    "samples_to_ns",
    "time_of_sample",
]


def time_of_sample(anchors: list[tuple[int, int]] | tuple[tuple[int, int], ...], sample: int) -> int:
    """Arrival time of ``sample``: its packet's anchor plus its offset in the packet."""
    if not anchors:
        raise ValueError("no packets arrived")
    i = bisect.bisect_right(anchors, (sample, 2**63)) - 1
    index, arrival = anchors[max(i, 0)]
    return arrival + (sample - index) * 1_000_000_000 // SAMPLE_RATE

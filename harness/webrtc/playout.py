"""A paced outgoing audio track and the playout that decides what it says.

aiortc's sender pulls frames as fast as the track returns them, so the track itself
must keep time: frame n is handed over at origin + n x 20 ms on the call clock, and the
error of every hand-off is kept (the caller's send-timing figures). What goes into each
frame comes from a ``Playout``: clips scheduled at exact sample positions, mixed, with
everything that was actually sent kept so caller.wav is the truth of what left.
"""

from __future__ import annotations

import fractions
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack
from av import AudioFrame, CodecContext, Packet

from harness.clock import Clock, SystemClock
from harness.webrtc.audio import FRAME_NS, FRAME_SAMPLES, SAMPLE_RATE, Float32Audio, to_int16

_TIME_BASE = fractions.Fraction(1, SAMPLE_RATE)


@dataclass(slots=True)
class _Clip:
    start: int
    samples: Float32Audio
    tag: str

    @property
    def end(self) -> int:
        return self.start + self.samples.size


class Playout:
    """Clips laid on the outgoing sample timeline; rendered one frame at a time."""

    def __init__(self, record: bool = True) -> None:
        self._clips: list[_Clip] = []
        self._rendered = 0
        self._record = record
        self._sent: list[Float32Audio] = []

    @property
    def rendered(self) -> int:
        """Samples already handed over; the earliest position a new clip can start at."""
        return self._rendered

    @property
    def busy_until(self) -> int:
        return max((c.end for c in self._clips), default=self._rendered)

    def schedule(self, samples: Float32Audio, start: int | None = None, tag: str = "") -> int:
        """Put a clip at ``start`` (default: the next unsent sample); returns its start."""
        begin = self._rendered if start is None else max(start, self._rendered)
        self._clips.append(_Clip(begin, samples.astype(np.float32, copy=False), tag))
        return begin

    def cut(self, at: int, tag: str | None = None, fade: int = 0) -> int:
        """Silence every clip (with ``tag``, if given) from sample ``at`` on; returns the cut.

        ``fade`` samples before the cut ramp down linearly, as players do to avoid a click
        (and the codec ringing a click would leave after the cut).
        """
        at = max(at, self._rendered + fade)
        kept: list[_Clip] = []
        for clip in self._clips:
            if tag is not None and clip.tag != tag:
                kept.append(clip)
            elif clip.start < at:
                clip.samples = clip.samples[: at - clip.start].copy()
                n = min(fade, clip.samples.size)
                if n:
                    clip.samples[-n:] *= np.linspace(1.0, 0.0, n, endpoint=False, dtype=np.float32)
                kept.append(clip)
        self._clips = kept
        return at

    def is_sounding(self, tag: str | None = None) -> bool:
        """A clip (with ``tag``) has started and not ended at the next sample to send."""
        at = self._rendered
        return any(c.start <= at < c.end and (tag is None or c.tag == tag) for c in self._clips)

    def is_playing(self, tag: str | None = None) -> bool:
        return any(c.end > self._rendered and (tag is None or c.tag == tag) for c in self._clips)

    def render(self) -> Float32Audio:
        """The next frame (read-only: a silent frame is one shared array)."""
        start, end = self._rendered, self._rendered + FRAME_SAMPLES
        frame = _SILENT_F32
        for clip in self._clips:
            lo, hi = max(start, clip.start), min(end, clip.end)
            if lo < hi:
                if frame is _SILENT_F32:
                    frame = np.zeros(FRAME_SAMPLES, dtype=np.float32)
                frame[lo - start : hi - start] += clip.samples[lo - clip.start : hi - clip.start]
        if any(c.end <= end for c in self._clips):
            self._clips = [c for c in self._clips if c.end > end]
        self._rendered = end
        if self._record:
            self._sent.append(frame)
        return frame

    def sent_audio(self) -> Float32Audio:
        if not self._sent:
            return np.zeros(0, dtype=np.float32)
        return np.concatenate(self._sent)


_SILENT_F32 = np.zeros(FRAME_SAMPLES, dtype=np.float32)
_SILENT_F32.setflags(write=False)
_SILENT_S16 = bytes(2 * FRAME_SAMPLES)

OPUS_BITRATE = 64_000
"""Mono speech at 64 kb/s is transparent enough for PESQ to measure the path, not the codec."""


def opus_encoder() -> Any:
    """libopus via PyAV (typed loosely: PyAV's stubs lack the encoder methods)."""
    codec = CodecContext.create("libopus", "w")
    codec.bit_rate = OPUS_BITRATE
    codec.sample_rate = SAMPLE_RATE
    codec.layout = "mono"
    codec.format = "s16"
    codec.time_base = _TIME_BASE
    codec.options = {"application": "voip"}
    return codec


class PacedAudioTrack(MediaStreamTrack):
    """Hands one 20 ms frame per slot to aiortc, on the clock, from a ``Playout``.

    The frame is Opus-encoded here, in the event loop (about 0.2 ms), and handed over
    as a packet: aiortc would otherwise encode in its thread pool, and the GIL
    ping-pong with those threads delays the loop once a few calls share it. One
    ``AudioFrame`` is refilled for every frame (the encoder has consumed the previous
    one when ``encode`` returns; ``tests/webrtc/test_playout.py`` holds the packets
    identical to fresh frames), which with the silent-frame shortcut keeps the Python
    work per frame small: it is paid 50 times a second by every call.
    """

    kind = "audio"

    def __init__(
        self,
        playout: Playout,
        clock: Clock | None = None,
        on_start: Callable[[int], None] | None = None,
        late_threshold_ns: int = 5_000_000,
    ) -> None:
        super().__init__()
        self.playout = playout
        self._clock = clock or SystemClock()
        self._on_start = on_start
        self._late_threshold_ns = late_threshold_ns
        self.origin_ns: int | None = None
        self.handoff_errors_ns: list[int] = []
        self._frame = 0
        self._encoder = opus_encoder()
        self._audio = AudioFrame(format="s16", layout="mono", samples=FRAME_SAMPLES)
        self._audio.sample_rate = SAMPLE_RATE
        self._audio.time_base = _TIME_BASE

    @property
    def late_frames(self) -> int:
        return sum(1 for e in self.handoff_errors_ns if e > self._late_threshold_ns)

    async def recv(self) -> Packet:  # type: ignore[type-arg]
        if self.readyState != "live":
            raise MediaStreamError
        n = self._frame
        if self.origin_ns is None:
            self.origin_ns = self._clock.monotonic_ns()
            if self._on_start is not None:
                self._on_start(self.origin_ns)
        slot = self.origin_ns + n * FRAME_NS
        await self._clock.sleep_until(slot)
        rendered = self.playout.render()
        self._audio.planes[0].update(_SILENT_S16 if rendered is _SILENT_F32 else to_int16(rendered).tobytes())
        self._audio.pts = n * FRAME_SAMPLES
        packets = self._encoder.encode(self._audio)
        self.handoff_errors_ns.append(self._clock.monotonic_ns() - slot)
        self._frame = n + 1
        packet = Packet(b"".join(bytes(p) for p in packets[:1]))
        packet.pts = n * FRAME_SAMPLES
        packet.time_base = _TIME_BASE
        return packet

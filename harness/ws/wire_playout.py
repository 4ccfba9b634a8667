"""The outgoing sample timeline at 48 kHz, mirrored at the wire's sample rate.

``Playout`` holds what a speaker says at 48 kHz (the harness's timeline, caller.wav).
A WebSocket wire carries 8, 16 or 24 kHz, so every clip is also resampled once, whole
and aligned, onto a second timeline at the wire's rate: frame ``n`` of both timelines
covers the same 20 ms, and a sample's position maps between them by the rate ratio
(to within half a wire sample). Resampling whole clips rather than a stream keeps a
streaming filter's delay out of the mapping between what was said and when it left.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from harness.webrtc.audio import Float32Audio
from harness.webrtc.playout import Playout
from harness.ws.codecs import timeline_to_wire, to_wire_rate

FRAMES_PER_SECOND = 50


@dataclass(slots=True)
class _WireClip:
    start: int
    samples: Float32Audio
    tag: str

    @property
    def end(self) -> int:
        return self.start + self.samples.size


class WirePlayout(Playout):
    """A ``Playout`` whose ``render()`` also renders the same 20 ms at ``rate`` (``last_wire``)."""

    def __init__(self, rate: int, record: bool = True) -> None:
        if rate <= 0 or rate % FRAMES_PER_SECOND:
            raise ValueError(f"wire sample rate {rate} Hz is not a multiple of {FRAMES_PER_SECOND}")
        super().__init__(record)
        self.rate = rate
        self.wire_frame = rate // FRAMES_PER_SECOND
        self._wire: list[_WireClip] = []
        self._wire_rendered = 0
        self.last_wire: Float32Audio = np.zeros(self.wire_frame, dtype=np.float32)

    def schedule(self, samples: Float32Audio, start: int | None = None, tag: str = "") -> int:
        begin = super().schedule(samples, start, tag)
        self._wire.append(_WireClip(timeline_to_wire(begin, self.rate), to_wire_rate(samples, self.rate), tag))
        return begin

    def cut(self, at: int, tag: str | None = None, fade: int = 0) -> int:
        at = super().cut(at, tag, fade)
        wire_at = timeline_to_wire(at, self.rate)
        wire_fade = timeline_to_wire(fade, self.rate)
        kept: list[_WireClip] = []
        for clip in self._wire:
            if tag is not None and clip.tag != tag:
                kept.append(clip)
            elif clip.start < wire_at:
                clip.samples = clip.samples[: wire_at - clip.start].copy()
                n = min(wire_fade, clip.samples.size)
                if n:
                    clip.samples[-n:] *= np.linspace(1.0, 0.0, n, endpoint=False, dtype=np.float32)
                kept.append(clip)
        self._wire = kept
        return at

    def render(self) -> Float32Audio:
        frame = super().render()
        start, end = self._wire_rendered, self._wire_rendered + self.wire_frame
        wire = np.zeros(self.wire_frame, dtype=np.float32)
        for clip in self._wire:
            lo, hi = max(start, clip.start), min(end, clip.end)
            if lo < hi:
                wire[lo - start : hi - start] += clip.samples[lo - clip.start : hi - clip.start]
        self._wire = [c for c in self._wire if c.end > end]
        self._wire_rendered = end
        self.last_wire = wire
        return frame

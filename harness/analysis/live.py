"""A streaming speech detector that steers a live call (e.g. "barge in 500 ms after onset").

It applies the same frame rules as the offline segmenter (same framing, floor,
hysteresis, min speech and hangover, from :mod:`harness.analysis.detector`), one frame
at a time, so the live view and the offline numbers describe the same speech. It is
only frame-accurate: onsets are backdated to the start of the run's first frame, ends
to the end of its last voiced frame, with no sample refinement. The numbers in results
always come from the offline :func:`~harness.analysis.segmentation.segment_speech`.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

import numpy as np
from numpy.typing import NDArray

from harness.analysis.detector import FrameGrid, as_mono, frame_power_db, next_floor
from harness.records import SegmentationParams

__all__ = ["LiveEvent", "LiveEventKind", "LiveSpeechDetector"]


class LiveEventKind(StrEnum):
    ONSET = "onset"
    OFFSET = "offset"


@dataclass(frozen=True, slots=True, kw_only=True)
class LiveEvent:
    kind: LiveEventKind
    t_ns: int
    """When speech started (onset: start of the run's first frame) or stopped (offset:
    end of the last voiced frame), on the clock of the ``t_end_ns`` given to ``push``."""
    detected_ns: int
    """When the detector became sure: end of the frame that completed min speech or the
    hangover. ``detected_ns - t_ns`` is the detector's own delay."""


class LiveSpeechDetector:
    """Feed it chunks as they arrive; it returns onset/offset events as they are decided.

    Chunks may have any length (10/20 ms typically): samples are framed from the first
    sample ever pushed, exactly as the offline segmenter frames a file from sample 0.
    Cost per 20 ms chunk is two frame levels and a few comparisons.
    """

    def __init__(
        self,
        sample_rate: int,
        params: SegmentationParams = SegmentationParams(),  # noqa: B008 - frozen, safe default
    ) -> None:
        self.grid = FrameGrid.of(sample_rate, params)
        self.params = params
        self._frame_ns = self.grid.frame_len * 1e9 / sample_rate
        self._pending = np.zeros(0, dtype=np.float32)
        self._floor = params.absolute_floor_dbfs
        self._active = False
        """Hysteresis state of the previous frame."""
        self._speaking = False
        self._run_start_ns = 0
        self._run_frames = 0
        self._last_voiced_end_ns = 0
        self._silent_frames = 0

    @property
    def speaking(self) -> bool:
        """Whether an onset has been reported and its offset not yet."""
        return self._speaking

    @property
    def noise_floor_dbfs(self) -> float:
        return self._floor

    def push(self, samples: NDArray[np.floating], t_end_ns: int) -> list[LiveEvent]:
        """Add a chunk whose last sample ends at ``t_end_ns``; return the events it decided."""
        chunk = as_mono(samples, "LiveSpeechDetector.push samples")
        if chunk.size and not np.isfinite(chunk).all():
            raise ValueError("LiveSpeechDetector.push samples: non-finite value (NaN or inf)")
        data = np.concatenate([self._pending, chunk]) if self._pending.size else chunk
        f = self.grid.frame_len
        n_frames = data.size // f
        self._pending = data[n_frames * f :].copy()
        if n_frames == 0:
            return []
        levels = frame_power_db(data[: n_frames * f].reshape(n_frames, f))
        events: list[LiveEvent] = []
        sample_ns = 1e9 / self.grid.sample_rate
        for i, level in enumerate(levels.tolist()):
            end_ns = t_end_ns - round((data.size - (i + 1) * f) * sample_ns)
            event = self._step(level, end_ns)
            if event is not None:
                events.append(event)
        return events

    def _step(self, level: float, end_ns: int) -> LiveEvent | None:
        grid = self.grid
        self._floor = next_floor(self._floor, level, grid)
        if level > grid.open_level(self._floor):
            self._active = True
        elif level <= grid.stay_level(self._floor):
            self._active = False
        if self._active:
            if self._run_frames == 0:
                self._run_start_ns = end_ns - round(self._frame_ns)
            self._run_frames += 1
            self._silent_frames = 0
            self._last_voiced_end_ns = end_ns
            if not self._speaking and self._run_frames >= grid.min_speech_frames:
                self._speaking = True
                return LiveEvent(
                    kind=LiveEventKind.ONSET, t_ns=self._run_start_ns, detected_ns=end_ns
                )
            return None
        self._run_frames = 0
        if self._speaking:
            self._silent_frames += 1
            if self._silent_frames >= grid.hangover_frames:
                self._speaking = False
                return LiveEvent(
                    kind=LiveEventKind.OFFSET, t_ns=self._last_voiced_end_ns, detected_ns=end_ns
                )
        return None

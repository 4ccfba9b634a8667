"""The frame-level rules shared by the offline segmenter and the live detector.

Both detectors must agree on what a voiced frame is, or the live steering of a call
and the numbers computed afterwards would disagree about the same audio; so framing,
levels and the noise-floor rule live here once.

Levels are mean-square power in dB relative to full scale: ``10·log10(mean(x²))`` for
samples in −1..1, so a full-scale square wave reads 0 dBFS and a full-scale sine −3 dBFS.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from harness.records import SegmentationParams

SILENCE_DBFS = -120.0
"""Level given to digital silence (log of zero), far below any sensible threshold."""
_POWER_EPS = 10.0 ** (SILENCE_DBFS / 10.0)


def validate_params(params: SegmentationParams) -> None:
    """Refuse thresholds that would make the detector meaningless, naming the field."""
    positive = {
        "frame_ms": params.frame_ms,
        "envelope_ms": params.envelope_ms,
    }
    for name, value in positive.items():
        if not math.isfinite(value) or value <= 0:
            raise ValueError(f"SegmentationParams.{name} must be > 0, got {value!r}")
    non_negative = {
        "threshold_db": params.threshold_db,
        "release_db": params.release_db,
        "min_speech_ms": params.min_speech_ms,
        "hangover_ms": params.hangover_ms,
        "merge_gap_ms": params.merge_gap_ms,
        "floor_rise_db_per_s": params.floor_rise_db_per_s,
    }
    for name, value in non_negative.items():
        if not math.isfinite(value) or value < 0:
            raise ValueError(f"SegmentationParams.{name} must be >= 0, got {value!r}")
    if not math.isfinite(params.absolute_floor_dbfs):
        raise ValueError(
            f"SegmentationParams.absolute_floor_dbfs must be finite, got {params.absolute_floor_dbfs!r}"
        )
    if params.release_db > params.threshold_db:
        raise ValueError(
            "SegmentationParams.release_db must not exceed threshold_db "
            f"(got release_db={params.release_db}, threshold_db={params.threshold_db}): "
            "a frame loud enough to open a segment must also be loud enough to keep it open"
        )


def validate_sample_rate(sample_rate: int) -> None:
    if isinstance(sample_rate, bool) or not isinstance(sample_rate, int | np.integer):
        raise ValueError(f"sample_rate must be an int, got {sample_rate!r}")
    if sample_rate < 1000:
        raise ValueError(f"sample_rate must be >= 1000 Hz, got {sample_rate}")


def as_mono(samples: NDArray[np.floating], what: str = "samples") -> NDArray[np.float32]:
    """Accept float mono audio only: integer PCM has no agreed scale, stereo no agreed mix."""
    arr = np.asarray(samples)
    if arr.ndim != 1:
        raise ValueError(f"{what}: expected mono 1-D audio, got shape {arr.shape}")
    if not np.issubdtype(arr.dtype, np.floating):
        raise ValueError(
            f"{what}: expected float samples in -1..1, got dtype {arr.dtype} "
            "(convert integer PCM by dividing by its full scale)"
        )
    return arr.astype(np.float32, copy=False)


@dataclass(frozen=True, slots=True, kw_only=True)
class FrameGrid:
    """The detector's parameters converted from ms to frames/samples at one sample rate."""

    sample_rate: int
    frame_len: int
    """Samples per frame (rounded; 220 at 22.05 kHz for 10 ms)."""
    min_speech_frames: int
    hangover_frames: int
    rise_per_frame_db: float
    envelope_len: int
    threshold_db: float
    release_db: float
    absolute_floor_dbfs: float

    @classmethod
    def of(cls, sample_rate: int, params: SegmentationParams) -> FrameGrid:
        validate_sample_rate(sample_rate)
        validate_params(params)
        frame_len = max(1, round(sample_rate * params.frame_ms / 1000.0))
        frame_dur_ms = 1000.0 * frame_len / sample_rate
        return cls(
            sample_rate=int(sample_rate),
            frame_len=frame_len,
            min_speech_frames=max(1, _ceil_frames(params.min_speech_ms, frame_dur_ms)),
            hangover_frames=max(1, _ceil_frames(params.hangover_ms, frame_dur_ms)),
            rise_per_frame_db=params.floor_rise_db_per_s * frame_dur_ms / 1000.0,
            envelope_len=max(1, round(sample_rate * params.envelope_ms / 1000.0)),
            threshold_db=params.threshold_db,
            release_db=params.release_db,
            absolute_floor_dbfs=params.absolute_floor_dbfs,
        )

    def open_level(self, floor_db: float) -> float:
        return max(floor_db + self.threshold_db, self.absolute_floor_dbfs)

    def stay_level(self, floor_db: float) -> float:
        return max(floor_db + self.release_db, self.absolute_floor_dbfs)


def _ceil_frames(ms: float, frame_dur_ms: float) -> int:
    # The small slack keeps 50 ms / 10 ms at 5 frames despite float rounding.
    return math.ceil(ms / frame_dur_ms - 1e-9)


def frame_power_db(frames: NDArray[np.float32]) -> NDArray[np.float64]:
    """Mean-square level (dBFS) of each row of a (n_frames, frame_len) view."""
    power: NDArray[np.float64] = np.einsum("ij,ij->i", frames, frames, dtype=np.float64)
    return np.asarray(10.0 * np.log10(power / frames.shape[1] + _POWER_EPS), dtype=np.float64)


def power_to_db(power: float) -> float:
    return 10.0 * math.log10(power + _POWER_EPS)


def db_to_power(db: float) -> float:
    return float(10.0 ** (db / 10.0))


def noise_floor(level_db: NDArray[np.float64], grid: FrameGrid) -> NDArray[np.float64]:
    """Slow-rising, fast-falling floor: ``f[i] = min(e[i], f[i-1] + r)``, ``f[-1]`` = absolute floor.

    Unrolled, ``f[i] = r·i + min(f[-1] + r, min_{j<=i}(e[j] − r·j))``, so the recursion is
    one cumulative minimum. Starting at the absolute floor (not at the first frame) is
    what keeps speech at sample 0 from being learnt as noise; the slow rise is what keeps
    a long utterance from raising the floor over itself.
    """
    r = grid.rise_per_frame_db
    ramp = r * np.arange(level_db.size, dtype=np.float64)
    lowest = np.minimum.accumulate(level_db - ramp)
    return ramp + np.minimum(grid.absolute_floor_dbfs + r, lowest)


def next_floor(previous_db: float, level_db: float, grid: FrameGrid) -> float:
    """One step of :func:`noise_floor`, for the live detector."""
    return min(level_db, previous_db + grid.rise_per_frame_db)

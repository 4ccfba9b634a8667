"""Offline speech segmentation: where speech starts and ends, to the sample.

Turn latency is an onset minus an end, so both must be sample-accurate, not
frame-accurate: the detector decides *whether* there is speech on 10 ms frames
(docs/segmentation.md), then each decision is refined to the sample where a short RMS envelope
crosses the same level (*backdating*) — the onset is where the speech began, not where
the detector became sure of it.

The rules, all taken from :class:`~harness.records.SegmentationParams`:

1. Frame level: mean-square dBFS of each ``frame_ms`` frame.
2. Noise floor: slow-rising (``floor_rise_db_per_s``), fast-falling, starting at
   ``absolute_floor_dbfs`` (see :func:`harness.analysis.detector.noise_floor`).
3. Hysteresis: a frame opens above ``max(floor + threshold_db, absolute_floor_dbfs)``
   and stays voiced while above ``max(floor + release_db, absolute_floor_dbfs)``.
4. A run of voiced frames at least ``min_speech_ms`` long (measured to the sample,
   as in 5., when the frame count is borderline) opens a segment; once open,
   voiced runs of any length keep it open, and ``hangover_ms`` of unvoiced frames
   closes it. A segment's end is its last voiced frame, not the end of the hangover.
5. Onset refinement: the first sample, from one frame before the opening frame to the
   end of it, where the causal ``envelope_ms`` mean square reaches the open level. End
   refinement: the first sample after the loudest point of the last voiced frame where
   the anticausal envelope falls below the stay level. The causal window on
   the onset and the anticausal one on the end keep a sharp edge from landing half a
   window outside the speech; the crossing is then moved back by the part of the
   window that had to fill with sound before it reached the level (see
   :func:`_edge_shift`), so a burst just over the threshold is not found late.

Known limit: stationary noise louder than ``absolute_floor_dbfs + threshold_db``
(−48 dBFS by default) present from the very first sample reads as speech until the
floor has risen to it (at ``floor_rise_db_per_s``); that is the price of never learning
the floor from speech that starts at sample 0.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from numpy.typing import NDArray

from harness.analysis.detector import (
    FrameGrid,
    as_mono,
    db_to_power,
    frame_power_db,
    noise_floor,
    power_to_db,
)
from harness.records import SegmentationParams, SpeechSegment

__all__ = ["frame_activity", "merge_segments", "segment_speech"]


def segment_speech(
    samples: NDArray[np.floating],
    sample_rate: int,
    params: SegmentationParams = SegmentationParams(),  # noqa: B008 - frozen, safe default
) -> tuple[SpeechSegment, ...]:
    """Speech bursts of a mono signal, each ``[start, end)`` in samples, before merging."""
    x = as_mono(samples)
    grid = FrameGrid.of(sample_rate, params)
    if x.size and not np.isfinite(x).all():
        bad = int(np.flatnonzero(~np.isfinite(x))[0])
        raise ValueError(f"samples: non-finite value at sample {bad} (NaN or inf)")
    _, floor, active = frame_activity(x, grid)
    if not active.any():
        return ()
    runs = _runs(active)
    min_samples = params.min_speech_ms * grid.sample_rate / 1000.0

    def opens(first: int, last: int) -> bool:
        # A run of k frames holds between (k-2)·frame and k·frame of sound, so only the
        # two borderline counts are measured to the sample.
        frames = last - first + 1
        if frames < grid.min_speech_frames:
            return False
        if frames >= grid.min_speech_frames + 2:
            return True
        start = _refine_onset(x, grid, first, lower=0, floor_db=float(floor[first]))
        end = _refine_end(x, grid, last, lower=start, floor_db=float(floor[last]))
        return end - start >= min_samples - 1e-9

    segments: list[SpeechSegment] = []
    prev_end = 0
    for first, last in _open_segments(runs, grid, opens):
        start = _refine_onset(x, grid, first, lower=prev_end, floor_db=float(floor[first]))
        end = _refine_end(x, grid, last, lower=start, floor_db=float(floor[last]))
        peak = float(np.max(np.abs(x[start:end])))  # sample peak: 20·log10(max |x|)
        segments.append(
            SpeechSegment(start=start, end=end, peak_dbfs=round(power_to_db(peak * peak), 2))
        )
        prev_end = end
    return tuple(segments)


def merge_segments(
    segments: tuple[SpeechSegment, ...] | list[SpeechSegment], gap_samples: int
) -> tuple[SpeechSegment, ...]:
    """Join bursts separated by fewer than ``gap_samples`` into one (a turn)."""
    if gap_samples < 0:
        raise ValueError(f"gap_samples must be >= 0, got {gap_samples}")
    merged: list[SpeechSegment] = []
    for seg in sorted(segments, key=lambda s: (s.start, s.end)):
        if merged and seg.start - merged[-1].end < gap_samples:
            last = merged[-1]
            merged[-1] = SpeechSegment(
                start=last.start,
                end=max(last.end, seg.end),
                peak_dbfs=max(last.peak_dbfs, seg.peak_dbfs),
            )
        else:
            merged.append(seg)
    return tuple(merged)


def frame_activity(
    x: NDArray[np.float32], grid: FrameGrid
) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.bool_]]:
    """Per complete frame: level (dBFS), noise floor (dBFS) and the hysteresis decision.

    A trailing partial frame is not judged (it cannot hold ``min_speech_ms`` anyway);
    the end refinement still reaches into it.
    """
    n_frames = x.size // grid.frame_len
    frames = x[: n_frames * grid.frame_len].reshape(n_frames, grid.frame_len)
    level = frame_power_db(frames)
    floor = noise_floor(level, grid)
    open_ = level > np.maximum(floor + grid.threshold_db, grid.absolute_floor_dbfs)
    stay = level > np.maximum(floor + grid.release_db, grid.absolute_floor_dbfs)
    # Hysteresis without a loop: a frame above the open level sets the state, one below
    # the stay level clears it, any other frame keeps the state of the last frame that
    # did either (release_db <= threshold_db makes open imply stay).
    decisive = open_ | ~stay
    last_decisive = np.maximum.accumulate(np.where(decisive, np.arange(n_frames), -1))
    active = np.where(last_decisive >= 0, open_[np.maximum(last_decisive, 0)], False)
    return level, floor, active


def _runs(active: NDArray[np.bool_]) -> NDArray[np.int64]:
    """``(first, last)`` frame of every run of voiced frames, shape (n, 2)."""
    edges = np.diff(active.astype(np.int8), prepend=np.int8(0), append=np.int8(0))
    starts = np.flatnonzero(edges == 1)
    stops = np.flatnonzero(edges == -1) - 1
    return np.stack([starts, stops], axis=1).astype(np.int64)


def _open_segments(
    runs: NDArray[np.int64], grid: FrameGrid, opens: Callable[[int, int], bool]
) -> list[tuple[int, int]]:
    """Apply min speech and hangover to the runs: ``(first, last)`` voiced frame per segment.

    Loops over runs, not frames; there are a few per second of audio at most.
    """
    out: list[tuple[int, int]] = []
    current: list[int] | None = None
    for first, last in runs.tolist():
        if current is not None:
            if first - current[1] - 1 < grid.hangover_frames:
                current[1] = last
                continue
            out.append((current[0], current[1]))
            current = None
        if opens(first, last):
            current = [first, last]
    if current is not None:
        out.append((current[0], current[1]))
    return out


def _window_power(
    x: NDArray[np.float32], lo: int, hi: int, width: int, *, causal: bool
) -> NDArray[np.float64]:
    """Mean square over ``width`` samples ending (causal) or starting at each of ``x[lo:hi]``.

    Outside the signal counts as silence, so the window never shrinks at the edges.
    """
    n = x.size
    if causal:
        a, b = lo - width + 1, hi
    else:
        a, b = lo, hi + width - 1
    seg = x[max(a, 0) : min(b, n)].astype(np.float64)
    padded = np.concatenate([np.zeros(max(0, -a)), seg, np.zeros(max(0, b - n))])
    csum = np.concatenate([[0.0], np.cumsum(padded * padded)])
    return np.asarray((csum[width:] - csum[:-width]) / width, dtype=np.float64)


def _edge_shift(width: int, level: float, noise: float, power: float) -> int:
    """Samples between a sharp edge and where the window's mean square reaches ``level``.

    A window of ``width`` holding ``k`` samples of sound at mean square ``power`` and the
    rest noise at ``noise`` reads ``level`` when ``k = width·(level − noise)/(power − noise)``;
    undoing that makes a burst only a few dB over the threshold land on its edge instead
    of up to a window inside it.
    """
    if power <= level:
        return width - 1
    k = width * max(level - noise, 0.0) / (power - noise)
    return min(max(round(k) - 1, 0), width - 1)


def _refine_onset(
    x: NDArray[np.float32], grid: FrameGrid, first: int, *, lower: int, floor_db: float
) -> int:
    f = grid.frame_len
    lo = max(lower, (first - 1) * f, 0)
    hi = min((first + 1) * f, x.size)
    if hi <= lo:
        return max(lower, first * f)
    level = db_to_power(grid.open_level(floor_db))
    env = _window_power(x, lo, hi, grid.envelope_len, causal=True)
    above = np.flatnonzero(env >= level)
    if not above.size:
        return max(lo, first * f)
    cross = lo + int(above[0])
    after = x[cross : cross + f].astype(np.float64)
    shift = _edge_shift(
        grid.envelope_len, level, db_to_power(floor_db), float(np.mean(after * after))
    )
    return max(cross - shift, lo)


def _refine_end(
    x: NDArray[np.float32], grid: FrameGrid, last: int, *, lower: int, floor_db: float
) -> int:
    f = grid.frame_len
    lo = max(last * f, lower)
    hi = min((last + 2) * f, x.size)
    fallback = max(min((last + 1) * f, x.size), lower + 1)
    if hi <= lo:
        return fallback
    level = db_to_power(grid.stay_level(floor_db))
    env = _window_power(x, lo, hi, grid.envelope_len, causal=False)
    # The first drop below the level after the loudest point of the last voiced frame,
    # not the last sample above it: the stay level is only a few dB over the noise, and
    # a short window of noise after the end crosses it now and then.
    anchor = int(np.argmax(env[: min(f, env.size)]))
    below = np.flatnonzero(env[anchor:] < level)
    if not below.size:
        return max(hi, lower + 1)
    cross = lo + anchor + int(below[0]) - 1
    if cross < lo:
        return fallback
    before = x[max(cross + 1 - f, 0) : cross + 1].astype(np.float64)
    shift = _edge_shift(
        grid.envelope_len, level, db_to_power(floor_db), float(np.mean(before * before))
    )
    return max(min(cross + 1 + shift, hi), lower + 1)

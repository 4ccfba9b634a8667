"""Where the caller's speech ends: the point turn latency (and every caller-side metric) counts from.

The recorded end of a sent utterance (``SentUtterance.speech_end_ns``) is where the
corpus segmenter let go of it: the anticausal ``envelope_ms`` mean square falling below
the detector's adaptive stay level (docs/segmentation.md, step 5). That is a
definition, not an error, but its level depends on the corpus (its noise floor sets the
stay level), so it is stated and can be replaced:

- ``SegmentationParams.caller_end_dbfs = None`` (default): the detector's end. Its
  *effective level* is the end envelope at the detector's last voiced sample: the level
  L at which the other definition gives the same end.
- ``caller_end_dbfs = L``: one past the last sample of the utterance whose end envelope
  (the same window the detector refines ends with) is at or above L dBFS. The search
  runs from the clip's first sample to ``hangover_ms`` past the detector's end (the
  detector's own reach for "the same speech"), stopping at the caller's next clip and
  at the end of the audio.

Both are read from the caller audio (caller.wav: what was sent, sample 0 at t=0). A
sample's place on the call clock differs from the recorded end by its distance in
samples, so the new end is the recorded end moved by that distance: the send-time
mapping the caller recorded (wire times, codec delay) is kept. When the audio cannot
give the end (none was kept, the end lies outside it, or no sample reaches L), the
recorded end stands and ``CallerSpeechEnd.kept_because`` says why, rather than a guess.

Pure: no I/O, no clock.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np
from numpy.typing import NDArray

from harness.analysis.detector import FrameGrid, as_mono, db_to_power, power_to_db

# Private in the segmenter, and left there: editing that module changes the segmenter
# digest, which re-measures (rebuilds) every corpus (harness.corpus.bounds).
from harness.analysis.segmentation import _window_power
from harness.records import CallerSpeechEnd, CallRecording, SegmentationParams, SentUtterance

__all__ = [
    "MAX_LEVEL_DBFS",
    "MIN_LEVEL_DBFS",
    "caller_speech_ends",
    "check_caller_end_dbfs",
    "detector_end_sample",
    "end_envelope_dbfs",
    "last_sample_at_or_above",
]

MIN_LEVEL_DBFS = -90.0
"""Lower levels come within reach of 16-bit quantization noise (about −101 dBFS) and of
corpus tails: they would find noise, not the end of speech."""
MAX_LEVEL_DBFS = 0.0
"""Full scale: no mean square of samples in −1..1 is above it."""

NO_AUDIO = "no caller audio"
OUTSIDE = "the detector's end lies outside the caller audio"
NOT_REACHED = "no sample reaches the level"


def check_caller_end_dbfs(level: float | None) -> None:
    """Refuse a level that cannot mean an end of speech, naming the field."""
    if level is None:
        return
    if isinstance(level, bool) or not isinstance(level, int | float) or not math.isfinite(level) \
            or not MIN_LEVEL_DBFS <= level <= MAX_LEVEL_DBFS:
        raise ValueError(
            f"SegmentationParams.caller_end_dbfs must be a level in {MIN_LEVEL_DBFS:g}..{MAX_LEVEL_DBFS:g} "
            f"dBFS (or None for the detector's end), got {level!r}"
        )


def end_envelope_dbfs(x: NDArray[np.float32], sample: int, width: int) -> float:
    """The end envelope at ``sample``: mean square of ``x[sample : sample + width]`` in dBFS."""
    return round(power_to_db(float(_window_power(x, sample, sample + 1, width, causal=False)[0])), 2)


def last_sample_at_or_above(
    x: NDArray[np.float32], lo: int, hi: int, level_dbfs: float, width: int
) -> int | None:
    """One past the last sample of ``x[lo:hi]`` whose end envelope is at or above ``level_dbfs``."""
    if hi <= lo:
        return None
    power = _window_power(x, lo, hi, width, causal=False)
    above = np.flatnonzero(power >= db_to_power(level_dbfs))
    return None if not above.size else lo + int(above[-1]) + 1


def detector_end_sample(sent: SentUtterance, sample_rate: int) -> int:
    """Where the recorded end sits in caller.wav: as recorded, else from its times.

    Older recordings lack ``speech_end_sample``; its distance from the clip's start in
    time is then its distance in samples (exact on the sample clock; off by the change
    in send delay between the clip's first and last packet for wire-timed callers).
    """
    if sent.speech_end_sample is not None:
        return sent.speech_end_sample
    return sent.start_sample + round((sent.speech_end_ns - sent.start_ns) * sample_rate / 1e9)


def _search_end(sent: SentUtterance, det: int, others: list[SentUtterance], reach: int, size: int) -> int:
    """How far past the detector's end the level end may lie: hangover, next clip, audio end."""
    hi = min(det + reach, size)
    later = [o.start_sample for o in others if o.start_sample > sent.start_sample and o.start_sample >= det]
    return min([hi, *later])


def caller_speech_ends(
    recording: CallRecording,
    caller_audio: NDArray[np.floating] | None,
    params: SegmentationParams,
) -> tuple[tuple[SentUtterance, ...], tuple[CallerSpeechEnd, ...]]:
    """``recording.sent`` with each end where ``params`` puts it, and per utterance the
    end used beside the detector's (both in ``recording.sent`` order)."""
    level = params.caller_end_dbfs
    check_caller_end_dbfs(level)
    sr = recording.sample_rate
    grid = FrameGrid.of(sr, params)
    x = as_mono(np.zeros(0, np.float32) if caller_audio is None else caller_audio,
                f"caller audio of call {recording.call_id}")
    reach = round(params.hangover_ms * sr / 1000.0)
    sent = list(recording.sent)
    moved: list[SentUtterance] = []
    ends: list[CallerSpeechEnd] = []
    for recorded in sent:
        u = recorded
        det = detector_end_sample(u, sr)
        inside = 0 < det <= x.size
        effective = end_envelope_dbfs(x, det - 1, grid.envelope_len) if inside else None
        end_ns, why = u.speech_end_ns, ""
        if level is not None:
            found = None
            if inside:
                hi = _search_end(u, det, sent, reach, x.size)
                found = last_sample_at_or_above(x, max(u.start_sample, 0), hi, level, grid.envelope_len)
            if found is not None:
                end_ns = u.speech_end_ns + round((found - det) * 1e9 / sr)
                u = dataclasses.replace(u, speech_end_ns=end_ns, speech_end_sample=found,
                                        voiced_ns=_moved_voiced(u.voiced_ns, end_ns))
            else:
                why = NO_AUDIO if x.size == 0 else OUTSIDE if not inside else f"{NOT_REACHED} ({level:g} dBFS)"
        moved.append(u)
        ends.append(CallerSpeechEnd(
            step_index=u.step_index, utterance_id=u.utterance_id, detector_end_ns=recorded.speech_end_ns,
            end_ns=end_ns, effective_dbfs=effective, level_dbfs=level, kept_because=why,
        ))
    return tuple(moved), tuple(ends)


def _moved_voiced(
    voiced: tuple[tuple[int, int], ...], end_ns: int
) -> tuple[tuple[int, int], ...]:
    """The voiced runs ending at ``end_ns``: later runs dropped, the last one ends there."""
    kept = [(a, b) for a, b in voiced if a < end_ns]
    if not kept:
        return voiced
    kept[-1] = (kept[-1][0], end_ns)
    return tuple(kept)

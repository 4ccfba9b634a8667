"""Lay phrases out in an item: exact digital silence around and between voiced runs.

Each phrase is cut to its measured voiced span (first to last voiced sample), so
everything outside the spans is digital zero: ``lead`` before the first voiced sample,
``tail`` after the last, and exactly ``pause`` between the last voiced sample of one
phrase and the first voiced sample of the next. The finished item is then measured
again; if the detector, seeing the phrase in its new surroundings, puts an edge a few
samples elsewhere, the placement is corrected until the *measured* pause is exact, so
a "700 ms pause" item has a 700 ms gap by the same detector that judges the agent.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from harness.corpus.audio import Audio, Pcm16, dequantize, quantize
from harness.corpus.errors import CorpusBuildError
from harness.records import SpeechSegment

Measure = Callable[[Audio], tuple[SpeechSegment, ...]]

MAX_PLACEMENT_PASSES = 6
PAUSE_TOLERANCE_SAMPLES = 24
"""0.5 ms at 48 kHz: the worst measured-pause error accepted when exactness cannot be reached."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Assembled:
    pcm: Pcm16
    """The item as stored (16-bit)."""
    segments: tuple[SpeechSegment, ...]
    """Measured on exactly ``pcm``."""
    pause_errors: tuple[int, ...] = ()
    """Measured minus intended pause, in samples, per joint (paused items)."""


def voiced_span(phrase: Audio, measure: Measure, what: str) -> Audio:
    """The phrase from its first to its last voiced sample, as measured on its own."""
    segments = measure(phrase)
    if not segments:
        raise CorpusBuildError(f"{what}: the segmenter found no speech in the synthesised audio")
    return phrase[segments[0].start : segments[-1].end].astype(np.float32, copy=True)


def assemble(
    spans: Sequence[Audio],
    *,
    lead: int,
    tail: int,
    pause: int,
    measure: Measure,
    what: str,
) -> Assembled:
    """Join voiced spans with ``pause`` samples of silence; ``lead``/``tail`` around them.

    A single span is simply padded. With several, the gaps are corrected until the
    measured pauses equal ``pause`` (to ``PAUSE_TOLERANCE_SAMPLES``), or an error says
    the detector cannot resolve the pause.
    """
    if not spans:
        raise CorpusBuildError(f"{what}: nothing to assemble")
    corrections = [0] * (len(spans) - 1)
    best: Assembled | None = None
    for _ in range(MAX_PLACEMENT_PASSES):
        gaps = [pause + c for c in corrections]
        if min(gaps, default=1) <= 0:
            break
        pcm, starts = _render(spans, lead=lead, tail=tail, gaps=gaps)
        segments = measure(dequantize(pcm))
        if not segments:
            raise CorpusBuildError(f"{what}: the segmenter found no speech in the assembled item")
        if len(spans) == 1:
            return Assembled(pcm=pcm, segments=segments)
        errors = _pause_errors(segments, spans, starts, pause, what)
        candidate = Assembled(pcm=pcm, segments=segments, pause_errors=tuple(errors))
        if best is None or max(map(abs, errors)) < max(map(abs, best.pause_errors)):
            best = candidate
        if all(e == 0 for e in errors):
            return candidate
        corrections = [c - e for c, e in zip(corrections, errors, strict=True)]
    if best is not None and max(map(abs, best.pause_errors)) <= PAUSE_TOLERANCE_SAMPLES:
        return best
    worst = max(map(abs, best.pause_errors)) if best else "unknown"
    raise CorpusBuildError(
        f"{what}: could not place a pause of {pause} samples exactly "
        f"(best measured error {worst} samples)"
    )


def _render(
    spans: Sequence[Audio], *, lead: int, tail: int, gaps: Sequence[int]
) -> tuple[Pcm16, list[int]]:
    starts: list[int] = []
    position = lead
    for i, span in enumerate(spans):
        starts.append(position)
        position += len(span) + (gaps[i] if i < len(gaps) else 0)
    out = np.zeros(position + tail, dtype=np.float32)
    for start, span in zip(starts, spans, strict=True):
        out[start : start + len(span)] = span
    return quantize(out), starts


def _pause_errors(
    segments: tuple[SpeechSegment, ...],
    spans: Sequence[Audio],
    starts: Sequence[int],
    pause: int,
    what: str,
) -> list[int]:
    """Measured gap minus ``pause`` at each joint, from the segments on either side."""
    errors: list[int] = []
    for k in range(len(spans) - 1):
        joint_lo = starts[k] + len(spans[k])  # where the silence begins, as placed
        joint_hi = starts[k + 1]  # where the next phrase begins, as placed
        middle = (joint_lo + joint_hi) // 2
        if any(s.start < middle < s.end for s in segments):
            raise CorpusBuildError(
                f"{what}: the segmenter merges the phrases across a {pause}-sample pause "
                "(pause shorter than the detector can resolve)"
            )
        before = [s for s in segments if s.end <= middle]
        after = [s for s in segments if s.start >= middle]
        if not before or not after:
            raise CorpusBuildError(f"{what}: no speech measured on one side of pause {k + 1}")
        errors.append((after[0].start - before[-1].end) - pause)
    return errors

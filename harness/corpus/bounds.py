"""Speech bounds of corpus audio, measured with the project's segmenter.

Caller speech bounds are the reference point of turn latency and of the pause lengths
of cutoff tests, so they are measured with the same detector that finds agent speech
(never assumed from how the audio was assembled), and the detector's parameters and
source are part of the build's cache key.
"""

from __future__ import annotations

import dataclasses
import hashlib
import importlib.util
from pathlib import Path
from typing import Any, cast

from harness.corpus.audio import Audio
from harness.corpus.errors import CorpusError
from harness.records import SegmentationParams, SpeechSegment

CORPUS_SEGMENTATION = SegmentationParams()
"""The detector settings corpus bounds are measured with (the project defaults)."""

_SEGMENTER_MODULE = "harness.analysis.segmentation"
_SEGMENTER_SOURCES = (_SEGMENTER_MODULE, "harness.analysis.detector")
"""The modules whose code decides the bounds (the segmenter and its frame rules)."""


def measure_segments(
    samples: Audio, sample_rate: int, params: SegmentationParams = CORPUS_SEGMENTATION
) -> tuple[SpeechSegment, ...]:
    try:
        from harness.analysis.segmentation import segment_speech
    except ImportError as exc:
        raise CorpusError(
            f"the speech segmenter ({_SEGMENTER_MODULE}) is not available: {exc}"
        ) from None
    return tuple(segment_speech(samples, sample_rate, params))


def voiced_runs(segments: tuple[SpeechSegment, ...]) -> tuple[tuple[int, int], ...]:
    return tuple((s.start, s.end) for s in segments)


SCORING_ONLY = frozenset({"caller_end_dbfs"})
"""Fields of ``SegmentationParams`` that only scoring reads: a corpus's bounds (and its
cache key) never depend on them."""


def segmentation_params_dict(params: SegmentationParams = CORPUS_SEGMENTATION) -> dict[str, float]:
    # cast: mypy does not see records' decorator alias as a dataclass.
    return {k: float(v) for k, v in dataclasses.asdict(cast(Any, params)).items() if k not in SCORING_ONLY}


def segmenter_digest() -> str:
    """sha256 of the segmenter's source: a changed detector re-measures every corpus."""
    digest = hashlib.sha256()
    for module in _SEGMENTER_SOURCES:
        try:
            spec = importlib.util.find_spec(module)
        except ImportError:
            spec = None
        if spec is None or spec.origin is None:
            digest.update(f"{module}:missing".encode())
            continue
        try:
            digest.update(Path(spec.origin).read_bytes())
        except OSError:
            digest.update(f"{module}:unreadable".encode())
    return digest.hexdigest()

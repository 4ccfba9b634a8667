"""Pure analysis: received audio -> speech segments -> a Timeline on the call clock."""

from harness.analysis.live import LiveEvent, LiveEventKind, LiveSpeechDetector
from harness.analysis.segmentation import merge_segments, segment_speech
from harness.analysis.timeline import build_timeline, sample_to_ns

__all__ = [
    "LiveEvent",
    "LiveEventKind",
    "LiveSpeechDetector",
    "build_timeline",
    "merge_segments",
    "sample_to_ns",
    "segment_speech",
]

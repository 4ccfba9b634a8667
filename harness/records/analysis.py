"""What the analysis makes of a recording: speech segments on one call clock, and the audio."""

from __future__ import annotations

from dataclasses import field

import numpy as np
from numpy.typing import NDArray

from harness.records.base import record
from harness.records.recording import EndpointEvent, SentUtterance

__all__ = [
    "CallAudio", "CallerSpeechEnd", "SegmentationParams", "SpeechSegment", "TimedSegment", "Timeline",
]


@record
class SegmentationParams:
    """Every threshold of the speech detector, recorded with the results it produced."""

    frame_ms: float = 10.0
    threshold_db: float = 12.0
    """Onset threshold above the adaptive noise floor."""
    release_db: float = 6.0
    """Hysteresis: a frame stays voiced while above floor + release_db."""
    absolute_floor_dbfs: float = -60.0
    """Frames quieter than this are never speech, whatever the noise floor."""
    min_speech_ms: float = 50.0
    hangover_ms: float = 250.0
    merge_gap_ms: float = 400.0
    """Segments closer than this are one turn."""
    floor_rise_db_per_s: float = 3.0
    """How fast the noise floor may rise (it falls at once to a quieter frame); starts at
    ``absolute_floor_dbfs``, so speech at the first sample is never learnt as noise."""
    envelope_ms: float = 2.0
    """Window of the short RMS envelope that refines onsets/ends to the sample."""
    caller_end_dbfs: float | None = None
    """Where the caller's speech ends, for every metric that counts from it (scoring only:
    the corpus bounds never depend on it). ``None``: the detector's release, as recorded
    with each sent utterance; a level L: one past the last sample of the utterance whose
    ``envelope_ms`` end envelope is at or above L dBFS (docs/segmentation.md, "Where the
    caller's speech ends")."""


@record
class SpeechSegment:
    start: int
    """First voiced sample (backdated to the envelope's threshold crossing)."""
    end: int
    """One past the last voiced sample."""
    peak_dbfs: float = 0.0


@record
class TimedSegment:
    start_ns: int
    end_ns: int


@record
class CallerSpeechEnd:
    """Where one sent utterance's speech ends for the metrics, beside the detector's end.

    The level of the detector's end is kept for every utterance, whichever definition
    the run used: it says what "the detector's release" means in dBFS.
    """

    step_index: int
    utterance_id: str
    detector_end_ns: int
    """The recorded end (``SentUtterance.speech_end_ns``): the corpus detector's release."""
    end_ns: int
    """The end every metric counts from (``Timeline.caller_speech``)."""
    effective_dbfs: float | None = None
    """The end envelope (dBFS) at the detector's last voiced sample: the level at which
    ``caller_end_dbfs`` would give the detector's end; ``None`` without the caller audio."""
    level_dbfs: float | None = None
    """The level the end was found at; ``None`` when it is the detector's end."""
    kept_because: str = ""
    """Why the detector's end was kept although a level was asked for (no caller audio,
    no sample at the level); empty otherwise."""


@record
class Timeline:
    """Speech of both sides and the endpoint's events on one call clock."""

    call_id: str
    caller_speech: tuple[SentUtterance, ...]
    """What the caller said, with each ``speech_end_ns`` where ``params.caller_end_dbfs``
    puts it (``caller_ends`` says where the detector had it)."""
    agent_speech: tuple[TimedSegment, ...]
    """Agent speech bursts (before merging)."""
    agent_turns: tuple[TimedSegment, ...]
    """Agent bursts merged by ``merge_gap_ms``."""
    events: tuple[EndpointEvent, ...]
    params: SegmentationParams
    connected_ns: int | None = None
    end_ns: int = 0
    caller_ends: tuple[CallerSpeechEnd, ...] = ()
    """Per sent utterance: its end for the metrics and the detector's (in ``caller_speech`` order)."""


def _no_audio() -> NDArray[np.float32]:
    return np.zeros(0, dtype=np.float32)


@record
class CallAudio:
    """Both tracks of a call, for metric families that judge the audio itself (quality,
    accuracy); kept out of ``CallRecording`` because it lives in the WAV files beside it."""

    caller: NDArray[np.float32] = field(default_factory=_no_audio)
    """What was sent (caller.wav), mono float32 at the recording's sample rate; empty if unknown."""
    received: NDArray[np.float32] = field(default_factory=_no_audio)
    """What arrived (received.wav), mono float32 at the recording's sample rate."""
    texts: dict[str, str] = field(default_factory=dict)
    """Corpus text per utterance id the caller said: the script that the endpoint's own
    transcript of the caller is compared with; empty when the corpus is not at hand."""

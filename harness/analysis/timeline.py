"""Put both sides' speech on the call clock: CallRecording + received audio -> Timeline.

Received samples are placed at their packet's arrival time (docs/timing.md), not at
their position in ``received.wav``: each anchor says "the packet whose audio starts at
this sample arrived at this ns", and a sample inside a packet is its anchor's time plus
its offset at the sample rate. That keeps the receiver's buffering out of every latency.

The caller's speech ends where ``SegmentationParams.caller_end_dbfs`` puts them
(``harness.analysis.speech_end``), here and nowhere else, so every metric that counts
from the caller's end counts from the same one.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import overload

import numpy as np
from numpy.typing import NDArray

from harness.analysis.detector import as_mono
from harness.analysis.segmentation import merge_segments, segment_speech
from harness.analysis.speech_end import caller_speech_ends
from harness.records import (
    CallRecording,
    SegmentationParams,
    SpeechSegment,
    TimedSegment,
    Timeline,
)

__all__ = ["build_timeline", "sample_to_ns", "segments_to_ns"]

Anchors = Sequence[tuple[int, int]]


def _anchor_arrays(anchors: Anchors) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    if len(anchors) == 0:
        raise ValueError("recording.received_anchors is empty: received audio cannot be timed")
    try:
        arr = np.asarray(anchors, dtype=np.int64)
    except (TypeError, ValueError, OverflowError) as exc:
        raise ValueError(
            f"recording.received_anchors must be (sample_index, arrival_ns) integer pairs: {exc}"
        ) from None
    if arr.ndim != 2 or arr.shape[1] != 2:
        raise ValueError(
            "recording.received_anchors must be (sample_index, arrival_ns) pairs, "
            f"got an array of shape {arr.shape}"
        )
    samples, arrivals = arr[:, 0], arr[:, 1]
    if samples[0] < 0:
        raise ValueError(f"recording.received_anchors: negative sample index {int(samples[0])}")
    bad = np.flatnonzero(np.diff(samples) < 0)
    if bad.size:
        i = int(bad[0]) + 1
        raise ValueError(
            f"recording.received_anchors must be sorted by sample index: anchor {i} "
            f"(sample {int(samples[i])}) comes after sample {int(samples[i - 1])}"
        )
    return samples, arrivals


@overload
def sample_to_ns(anchors: Anchors, sample_rate: int, s: int) -> int: ...


@overload
def sample_to_ns(
    anchors: Anchors, sample_rate: int, s: NDArray[np.integer] | Sequence[int]
) -> NDArray[np.int64]: ...


def sample_to_ns(
    anchors: Anchors, sample_rate: int, s: int | NDArray[np.integer] | Sequence[int]
) -> int | NDArray[np.int64]:
    """Call-clock time of received sample(s) ``s``.

    The time of the last anchor at or before ``s`` plus ``s``'s offset from it; samples
    before the first anchor are extrapolated back from the first anchor.
    """
    if sample_rate <= 0:
        raise ValueError(f"sample_rate must be > 0, got {sample_rate}")
    samples, arrivals = _anchor_arrays(anchors)
    idx = np.asarray(s, dtype=np.int64)
    k = np.maximum(np.searchsorted(samples, idx, side="right") - 1, 0)
    offset_ns = (idx - samples[k]) * (1e9 / sample_rate)
    t = arrivals[k] + np.rint(offset_ns).astype(np.int64)
    if np.ndim(s) == 0:
        return int(t)
    return np.asarray(t, dtype=np.int64)


def segments_to_ns(
    segments: Sequence[SpeechSegment], anchors: Anchors, sample_rate: int
) -> tuple[TimedSegment, ...]:
    """Map ``[start, end)`` sample segments to the call clock.

    The end is timed as the last sample plus one sample period, so a packet that arrived
    late right after the segment does not stretch it.
    """
    if not segments:
        return ()
    starts = sample_to_ns(anchors, sample_rate, np.array([seg.start for seg in segments]))
    lasts = sample_to_ns(anchors, sample_rate, np.array([seg.end - 1 for seg in segments]))
    period_ns = round(1e9 / sample_rate)
    return tuple(
        TimedSegment(start_ns=int(a), end_ns=max(int(b) + period_ns, int(a) + 1))
        for a, b in zip(starts.tolist(), lasts.tolist(), strict=True)
    )


def build_timeline(
    recording: CallRecording,
    received: NDArray[np.floating],
    params: SegmentationParams = SegmentationParams(),  # noqa: B008 - frozen, safe default
    caller_audio: NDArray[np.floating] | None = None,
) -> Timeline:
    """Caller speech (known from what was sent) and agent speech (detected) on one clock.

    ``caller_audio`` (what was sent, caller.wav) is where the caller's ends are read:
    without it they stay where the recording has them (``Timeline.caller_ends`` says so).
    """
    audio = as_mono(received, f"received audio of call {recording.call_id}")
    sr = recording.sample_rate
    if audio.size:
        if not recording.received_anchors:
            raise ValueError(
                f"call {recording.call_id}: recording.received_anchors is empty but the received "
                f"audio has {audio.size} samples; it cannot be placed on the call clock"
            )
        _anchor_arrays(recording.received_anchors)  # refuse bad anchors even with no speech
    bursts = segment_speech(audio, sr, params)
    agent_speech: tuple[TimedSegment, ...] = ()
    agent_turns: tuple[TimedSegment, ...] = ()
    if bursts:
        anchors = recording.received_anchors
        agent_speech = segments_to_ns(bursts, anchors, sr)
        gap = round(params.merge_gap_ms * sr / 1000.0)
        agent_turns = segments_to_ns(merge_segments(bursts, gap), anchors, sr)
    end_ns = max([recording.duration_ns, *(seg.end_ns for seg in agent_speech)])
    sent, ends = caller_speech_ends(recording, caller_audio, params)
    order = sorted(range(len(sent)), key=lambda i: (sent[i].start_ns, sent[i].step_index))
    return Timeline(
        call_id=recording.call_id,
        caller_speech=tuple(sent[i] for i in order),
        caller_ends=tuple(ends[i] for i in order),
        agent_speech=agent_speech,
        agent_turns=agent_turns,
        events=recording.events,
        params=params,
        connected_ns=recording.connected_ns,
        end_ns=end_ns,
    )

"""Received audio placed on the call clock through packet-arrival anchors.

Ground truth: bursts written at known samples of a synthetic received.wav whose
packets (20 ms) are given known arrival times, including a late packet and a gap.
Tolerances: sample_to_ns is exact to the ns rounding of one sample offset (<= 1 ns);
segment times inherit the segmenter's 1 ms tolerance for sharp bursts.
"""

from __future__ import annotations

import numpy as np
import pytest
from analysis_synth import add, noise_bed, speechlike, tone

from harness.analysis.timeline import build_timeline, sample_to_ns
from harness.records import (
    CallerKind,
    CallRecording,
    EndpointEvent,
    EventKind,
    SegmentationParams,
    SentUtterance,
    StepKind,
)

SR = 48000
PACKET = 960  # 20 ms


def regular_anchors(
    n_samples: int, t0_ns: int, extra: dict[int, int] | None = None
) -> tuple[tuple[int, int], ...]:
    """One anchor per 20 ms packet arriving at t0 + its nominal time + ``extra[packet]`` ns."""
    extra = extra or {}
    anchors = []
    for k, s in enumerate(range(0, n_samples, PACKET)):
        anchors.append((s, t0_ns + k * 20_000_000 + extra.get(k, 0)))
    return tuple(anchors)


def test_sample_to_ns_regular_and_late_packets() -> None:
    anchors = ((0, 1_000_000_000), (960, 1_020_000_000), (1920, 1_075_000_000))
    assert sample_to_ns(anchors, SR, 0) == 1_000_000_000
    assert sample_to_ns(anchors, SR, 480) == 1_010_000_000
    assert sample_to_ns(anchors, SR, 959) == 1_000_000_000 + round(959 * 1e9 / SR)
    assert sample_to_ns(anchors, SR, 960) == 1_020_000_000
    # The third packet arrived 35 ms late; its samples carry that arrival time.
    assert sample_to_ns(anchors, SR, 1920 + 48) == 1_076_000_000
    # Past the last anchor: extrapolated at the sample rate.
    assert sample_to_ns(anchors, SR, 1920 + 48_000) == 2_075_000_000
    # Before the first anchor: extrapolated back from it.
    late_start = ((4800, 500_000_000),)
    assert sample_to_ns(late_start, SR, 0) == 400_000_000
    vec = sample_to_ns(anchors, SR, np.array([0, 480, 960, 1968]))
    assert vec.dtype == np.int64
    assert vec.tolist() == [1_000_000_000, 1_010_000_000, 1_020_000_000, 1_076_000_000]


def test_sample_to_ns_refuses_bad_anchors() -> None:
    with pytest.raises(ValueError, match="received_anchors is empty"):
        sample_to_ns((), SR, 0)
    with pytest.raises(ValueError, match="sorted by sample index: anchor 2"):
        sample_to_ns(((0, 0), (960, 20), (480, 40)), SR, 0)
    with pytest.raises(ValueError, match="pairs"):
        sample_to_ns(((0, 0, 1),), SR, 0)  # type: ignore[arg-type]


def recording(anchors: tuple[tuple[int, int], ...], **kw: object) -> CallRecording:
    return CallRecording(
        call_id="c1",
        scenario_id="s1",
        endpoint="ref",
        caller=CallerKind.AIORTC,
        sample_rate=SR,
        received_anchors=anchors,
        **kw,  # type: ignore[arg-type]
    )


def test_build_timeline_places_bursts_at_packet_arrival() -> None:
    rng = np.random.default_rng(31)
    x = noise_bed(6 * SR, -55.0, rng)
    a = add(x, 48_000 + 100, tone(24_000, SR, -20.0, 440.0, rng))
    b = add(x, a.end + 300 * 48, speechlike(24_000, SR, -22.0, rng))  # 300 ms gap: same turn
    c = add(x, 4 * SR + 7, tone(30_000, SR, -20.0, 300.0, rng))
    t0 = 2_000_000_000
    # Packet 150 (samples 144000.., 3.0 s) and all after it arrive 40 ms late, as after a
    # network stall; the packet holding c's onset is one of them.
    late = dict.fromkeys(range(150, 6 * SR // PACKET), 40_000_000)
    anchors = regular_anchors(x.size, t0, late)
    sent = SentUtterance(
        step_index=0,
        kind=StepKind.SAY,
        utterance_id="hello",
        start_sample=0,
        start_ns=0,
        speech_start_ns=10_000_000,
        speech_end_ns=900_000_000,
        voiced_ns=((10_000_000, 900_000_000),),
    )
    ev = EndpointEvent(t_ns=5, kind=EventKind.SPEECH_STARTED, vendor_type="x")
    rec = recording(
        anchors, sent=(sent,), events=(ev,), connected_ns=-300_000_000, duration_ns=7_000_000_000
    )
    tl = build_timeline(rec, x)

    def ns(sample: int, late_ns: int = 0) -> int:
        return t0 + round(sample * 1e9 / SR) + late_ns

    tol = 1_000_000  # 1 ms, the segmenter's tolerance for sharp bursts
    assert len(tl.agent_speech) == 3
    truth = [
        (ns(a.start), ns(a.end)),
        (ns(b.start), ns(b.end)),
        (ns(c.start, 40_000_000), ns(c.end, 40_000_000)),
    ]
    for seg, (start, end) in zip(tl.agent_speech, truth, strict=True):
        assert abs(seg.start_ns - start) <= tol
        assert abs(seg.end_ns - end) <= tol
    assert len(tl.agent_turns) == 2
    assert tl.agent_turns[0].start_ns == tl.agent_speech[0].start_ns
    assert tl.agent_turns[0].end_ns == tl.agent_speech[1].end_ns
    assert tl.agent_turns[1] == tl.agent_speech[2]
    assert tl.caller_speech == (sent,)
    assert tl.events == (ev,)
    assert tl.connected_ns == -300_000_000
    assert tl.end_ns == 7_000_000_000
    assert tl.params == SegmentationParams()
    assert tl.call_id == "c1"


def test_merge_gap_param_splits_turns() -> None:
    rng = np.random.default_rng(32)
    x = noise_bed(3 * SR, -55.0, rng)
    a = add(x, 10_000, tone(20_000, SR, -20.0, 440.0, rng))
    add(x, a.end + 300 * 48, tone(20_000, SR, -20.0, 440.0, rng))
    rec = recording(regular_anchors(x.size, 0))
    assert len(build_timeline(rec, x).agent_turns) == 1
    assert len(build_timeline(rec, x, SegmentationParams(merge_gap_ms=200.0)).agent_turns) == 2


def test_empty_received_and_bad_anchors() -> None:
    empty = build_timeline(recording(()), np.zeros(0, dtype=np.float32))
    assert empty.agent_speech == () and empty.agent_turns == ()
    x = np.zeros(4800, dtype=np.float32)
    with pytest.raises(ValueError, match=r"call c1: recording\.received_anchors is empty"):
        build_timeline(recording(()), x)
    with pytest.raises(ValueError, match="sorted"):
        build_timeline(recording(((960, 0), (0, 20_000_000))), x)
    with pytest.raises(ValueError, match="received audio of call c1"):
        build_timeline(recording(((0, 0),)), np.zeros((10, 2), dtype=np.float32))

"""The live detector against known bursts and against the offline segmenter.

Tolerances: the live detector is frame-accurate, so its onset/offset times are within
one frame (10 ms) of the sample-exact truth, plus the chunk's own timestamp rounding
(< 1 µs). Its detection delay is min_speech (onset) or the hangover (offset), within a
frame.
"""

from __future__ import annotations

import numpy as np
import pytest
from analysis_synth import Burst, add, noise_bed, speechlike, tone

from harness.analysis.live import LiveEvent, LiveEventKind, LiveSpeechDetector
from harness.analysis.segmentation import segment_speech
from harness.records import SegmentationParams

SR = 48000
T0_NS = 5_000_000_000
"""Call-clock time of sample 0 in these tests."""


def sample_ns(s: int, sr: int = SR) -> int:
    return T0_NS + round(s * 1e9 / sr)


def feed(x: np.ndarray, chunk: int, det: LiveSpeechDetector, sr: int = SR) -> list[LiveEvent]:
    events: list[LiveEvent] = []
    for pos in range(0, x.size, chunk):
        part = x[pos : pos + chunk]
        events += det.push(part, sample_ns(pos + part.size, sr))
    return events


def scene(sr: int = SR) -> tuple[np.ndarray, list[Burst]]:
    rng = np.random.default_rng(21)
    x = noise_bed(6 * sr, -55.0, rng)
    truth = [
        add(x, sr // 2 + 17, tone(sr, sr, -20.0, 440.0, rng)),
        add(x, 2 * sr + 123, speechlike(sr + sr // 3, sr, -30.0, rng)),
        add(x, 4 * sr + 999, speechlike(sr // 5, sr, -25.0, rng)),
    ]
    return x, truth


@pytest.mark.parametrize("chunk_ms", [10, 20, 7])
def test_live_events_match_truth_within_a_frame(chunk_ms: int) -> None:
    x, truth = scene()
    det = LiveSpeechDetector(SR)
    events = feed(x, SR * chunk_ms // 1000, det)
    onsets = [e for e in events if e.kind is LiveEventKind.ONSET]
    offsets = [e for e in events if e.kind is LiveEventKind.OFFSET]
    assert len(onsets) == len(offsets) == len(truth), events
    frame_ns = 10_000_000
    for on, off, burst in zip(onsets, offsets, truth, strict=True):
        assert abs(on.t_ns - sample_ns(burst.start)) <= frame_ns
        assert abs(off.t_ns - sample_ns(burst.end)) <= frame_ns
        # Onset is decided once min speech (50 ms) has been seen; offset after the hangover.
        assert 40_000_000 <= on.detected_ns - on.t_ns <= 60_000_000 + chunk_ms * 1_000_000
        assert 240_000_000 <= off.detected_ns - off.t_ns <= 260_000_000 + chunk_ms * 1_000_000
    assert not det.speaking


def test_live_agrees_with_offline_segmenter() -> None:
    x, _ = scene()
    offline = segment_speech(x, SR)
    events = feed(x, 960, LiveSpeechDetector(SR))
    onsets = [e.t_ns for e in events if e.kind is LiveEventKind.ONSET]
    offsets = [e.t_ns for e in events if e.kind is LiveEventKind.OFFSET]
    assert len(onsets) == len(offline)
    for seg, on, off in zip(offline, onsets, offsets, strict=True):
        assert abs(on - sample_ns(seg.start)) <= 10_000_000
        assert abs(off - sample_ns(seg.end)) <= 10_000_000


def test_live_at_16k_and_with_speech_at_first_sample() -> None:
    sr = 16000
    rng = np.random.default_rng(3)
    x = noise_bed(2 * sr, -55.0, rng)
    burst = add(x, 0, speechlike(sr // 2, sr, -20.0, rng))
    det = LiveSpeechDetector(sr)
    events = feed(x, 320, det, sr)
    assert [e.kind for e in events] == [LiveEventKind.ONSET, LiveEventKind.OFFSET]
    assert abs(events[0].t_ns - sample_ns(burst.start, sr)) <= 10_000_000
    assert abs(events[1].t_ns - sample_ns(burst.end, sr)) <= 10_000_000


def test_live_ignores_clicks_and_bridges_short_gaps() -> None:
    rng = np.random.default_rng(4)
    x = noise_bed(3 * SR, -55.0, rng)
    add(x, 10_000, tone(30 * 48, SR, -10.0, 800.0, rng))  # 30 ms: below min speech
    a = add(x, SR, tone(SR // 2, SR, -20.0, 440.0, rng))
    b = add(x, a.end + 150 * 48, tone(SR // 2, SR, -20.0, 440.0, rng))  # 150 ms gap
    events = feed(x, 960, LiveSpeechDetector(SR))
    assert [e.kind for e in events] == [LiveEventKind.ONSET, LiveEventKind.OFFSET]
    assert abs(events[0].t_ns - sample_ns(a.start)) <= 10_000_000
    assert abs(events[1].t_ns - sample_ns(b.end)) <= 10_000_000


def test_live_uses_params() -> None:
    x, _ = scene()
    # A hangover longer than every gap in the scene makes one long speech run.
    events = feed(x, 960, LiveSpeechDetector(SR, SegmentationParams(hangover_ms=3000.0)))
    assert [e.kind for e in events] == [LiveEventKind.ONSET]


def test_live_bad_input() -> None:
    det = LiveSpeechDetector(SR)
    with pytest.raises(ValueError, match="mono"):
        det.push(np.zeros((960, 2), dtype=np.float32), 0)
    with pytest.raises(ValueError, match="non-finite"):
        det.push(np.full(960, np.inf, dtype=np.float32), 0)
    with pytest.raises(ValueError, match="sample_rate"):
        LiveSpeechDetector(-1)
    assert det.push(np.zeros(0, dtype=np.float32), 0) == []

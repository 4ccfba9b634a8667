"""The playout model places WebSocket audio as a real-time client plays it.

Driven with virtual arrival times: a paced server's audio sits at its arrival, a
burst plays out over its real length, a flush stops the audio at the signal, a buffer
shifts what is heard by exactly its length, and marks come back when their audio has
played (or is dropped).
"""

from __future__ import annotations

import numpy as np
import pytest

from harness.analysis.timeline import sample_to_ns
from harness.ws.playout_model import PlayoutModel

MS = 1_000_000
RATE = 24_000
CHUNK = RATE // 50  # 20 ms


def _tone(n: int) -> np.ndarray:
    return (0.3 * np.sin(np.arange(n) * 2 * np.pi * 440 / RATE)).astype(np.float32)


def test_paced_chunks_sit_at_their_arrival() -> None:
    model = PlayoutModel()
    origin = 1_000 * MS
    arrivals = [origin + 500 * MS + i * 20 * MS + (i % 3) * 100_000 for i in range(10)]
    for t in arrivals:
        model.add(_tone(CHUNK), RATE, t)
    out = model.assemble(origin)
    assert next(t for _, t in out.anchors) == arrivals[0] - origin
    # Every chunk starts at its arrival or, when it came early, right after the one before.
    for (_index, edge), arrival in zip(out.anchors, arrivals, strict=True):
        assert edge >= arrival - origin
        assert edge - (arrival - origin) < MS
    assert out.heard_anchors == out.anchors
    assert model.max_ahead_ns < MS


def test_a_burst_plays_over_its_real_length_and_a_flush_stops_it() -> None:
    """A 3 s reply arriving in 100 ms: the timeline is 3 s long, the edge onset is the first
    chunk's arrival, and a stop 1 s into playback is at 1 s, not at the burst's arrival."""
    model = PlayoutModel()
    origin = 0
    first = 2_000 * MS
    chunks = 150  # 3 s of 20 ms chunks
    for i in range(chunks):
        model.add(_tone(CHUNK), RATE, first + i * 100 * MS // chunks)
    assert model.max_ahead_ns > 2_800 * MS
    full = model.assemble(origin)
    assert full.anchors[0][1] == first
    assert full.audio.size == pytest.approx(first * 48_000 // 10**9 + 3 * 48_000, abs=2)
    end = sample_to_ns(full.anchors, 48_000, full.audio.size - 1)
    assert end == pytest.approx(first + 3_000 * MS, abs=MS)
    assert full.arrivals[-1][1] < first + 100 * MS  # arrival times are kept as they were

    flush = model.flush(first + 1_000 * MS)
    assert flush.dropped_ns == pytest.approx(2_000 * MS, abs=MS)
    cut = model.assemble(origin)
    last = sample_to_ns(cut.anchors, 48_000, cut.audio.size - 1)
    assert last == pytest.approx(first + 1_000 * MS, abs=MS)
    assert not model.playing(first + 1_000 * MS)


def test_buffer_shifts_heard_times_only() -> None:
    model = PlayoutModel(buffer_ms=80)
    for i in range(5):
        model.add(_tone(CHUNK), RATE, 100 * MS + i * 5 * MS)
    out = model.assemble(0)
    assert [t for _, t in out.heard_anchors] == [t + 80 * MS for _, t in out.anchors]


def test_flush_reports_played_ms_per_item_and_returns_marks() -> None:
    model = PlayoutModel()
    for _i in range(50):  # 1 s of item_a arriving at once
        model.add(_tone(CHUNK), RATE, 0, item="item_a")
    model.add_mark("after-a", 0)
    assert model.due(500 * MS)[1] == []
    flush = model.flush(300 * MS)
    assert flush.played_ms == {"item_a": 300}
    assert flush.marks == ("after-a",)


def test_marks_come_back_when_their_audio_has_played() -> None:
    model = PlayoutModel()
    model.add(_tone(CHUNK * 5), RATE, 0)  # 100 ms
    model.add_mark("m1", 1 * MS)
    released, marks = model.due(50 * MS)
    assert marks == [] and sum(r.samples.size for r in released) == 3 * CHUNK
    released, marks = model.due(100 * MS)
    assert [m.name for m in marks] == ["m1"]
    assert model.next_due_ns() is None


def test_an_underrun_starts_a_new_run_at_arrival() -> None:
    model = PlayoutModel()
    model.add(_tone(CHUNK), RATE, 0)
    model.add(_tone(CHUNK), RATE, 500 * MS)
    out = model.assemble(0)
    assert [t for _, t in out.anchors] == [0, 500 * MS]
    assert model.underruns == 1
    assert out.anchors[1][0] == 24_000  # written as silence in between: index ~ call time

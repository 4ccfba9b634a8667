"""The reference agent's truth of an answer's onset, with a fake transport (no calls).

Issue 12, item 7: under 30 ms jitter, a turn's error read up to 16.6 ms off (a captured
run: -12.5 ms with no packet lost) when the answer's first sample, a few ms of lead-in
below any detector's level, travelled in one packet and its first voiced sample, where
the caller's detector finds it, in the next, which left 15.3 ms earlier relative to its
slot. Turn latency's truth is the answer's first *voiced* sample (``answer_voiced``).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from harness.agent.core import AgentCallCore, first_voiced
from harness.agent.knobs import AgentKnobs
from harness.agent.truth import TruthLog, truth_turns
from harness.webrtc.audio import FRAME_NS, FRAME_SAMPLES, OPUS_DELAY_SAMPLES, SAMPLE_RATE
from harness.webrtc.playout import Playout
from harness.webrtc.taps import SentPacket, carried_at

LEAD_IN = 4 * SAMPLE_RATE // 1000
"""4 ms of an answer's start below the segmenter's level (-70 dBFS noise)."""


class _Call(AgentCallCore):
    def origin_ns(self) -> int | None:
        return 0

    def send_event(self, event_type: str, **fields: Any) -> None:
        pass


def _answer() -> np.ndarray:
    rng = np.random.default_rng(0)
    lead = (10 ** (-70 / 20) * rng.standard_normal(LEAD_IN)).astype(np.float32)
    t = np.arange(SAMPLE_RATE // 2) / SAMPLE_RATE
    voiced = (0.3 * np.sin(2 * np.pi * 200 * t)).astype(np.float32)
    return np.concatenate([lead, voiced])


def _send(tmp_path: Path, onset: int, jitter_ms: dict[int, float], lost: set[int]) -> list[dict[str, Any]]:
    """Answer at sample ``onset``; send frames 0-29 with their jitter and losses, as the
    WebRTC agent's send tap reports them; the truth log's rows."""
    log = TruthLog(tmp_path / "truth.jsonl")
    call = _Call("c", 0, AgentKnobs(), log, Playout(record=False))
    truth = {"call_id": "c", "turn": 0, "speech_start_ns": 0, "speech_end_ns": 0, "decided_ns": 0,
             "endpointing_ms": 500.0, "delay_ms": 0.0}
    call._answer(0, "r", _answer(), onset * 1_000_000_000 // SAMPLE_RATE, truth)
    for k in range(30):
        packet = SentPacket(seq=k, timestamp=k * FRAME_SAMPLES, wire_ns=k * FRAME_NS + int(jitter_ms.get(k, 0) * 1e6),
                            lost=k in lost)
        call.on_carried(lambda s, p=packet: carried_at(p, s), packet.timestamp + FRAME_SAMPLES, lost=packet.lost)
    log.close()
    return [json.loads(line) for line in (tmp_path / "truth.jsonl").read_text().splitlines()]


def test_first_voiced_skips_the_lead_in() -> None:
    assert abs(first_voiced(_answer()) - LEAD_IN) <= SAMPLE_RATE // 1000
    assert first_voiced(np.zeros(SAMPLE_RATE, dtype=np.float32)) == 0


def test_the_voiced_onset_is_timed_by_the_packet_that_carries_it(tmp_path: Path) -> None:
    # The lead-in ends packet 9's sound (its last 100 samples), the voiced start is in
    # packet 10; packet 9 left 15 ms late, packet 10 on time.
    onset = 10 * FRAME_SAMPLES - OPUS_DELAY_SAMPLES - 100
    rows = _send(tmp_path, onset, {9: 15.0}, set())
    (turn,) = truth_turns(tmp_path / "truth.jsonl")
    voiced = onset + first_voiced(_answer())
    assert (voiced + OPUS_DELAY_SAMPLES) // FRAME_SAMPLES == 10
    packet10 = SentPacket(seq=10, timestamp=10 * FRAME_SAMPLES, wire_ns=10 * FRAME_NS)
    assert turn.voiced_onset_ns == carried_at(packet10, voiced)
    # The first sample's truth carries packet 9's 15 ms: ~11 ms after the voiced onset.
    assert turn.onset_ns is not None and turn.onset_ns - turn.voiced_onset_ns > 10_000_000
    assert turn.voiced_latency_ms == turn.voiced_onset_ns / 1e6
    (row,) = [r for r in rows if r["kind"] == "answer_voiced"]
    assert row["voiced_lost_ms"] == 0.0 and abs(row["voiced_offset_ms"] - 4.0) <= 1.0


def test_a_lost_voiced_onset_moves_to_the_first_packet_not_lost(tmp_path: Path) -> None:
    onset = 10 * FRAME_SAMPLES - OPUS_DELAY_SAMPLES - 100
    rows = _send(tmp_path, onset, {}, {10})
    (turn,) = truth_turns(tmp_path / "truth.jsonl")
    first_in_11 = 11 * FRAME_SAMPLES - OPUS_DELAY_SAMPLES
    packet11 = SentPacket(seq=11, timestamp=11 * FRAME_SAMPLES, wire_ns=11 * FRAME_NS)
    assert turn.voiced_onset_ns == carried_at(packet11, first_in_11)
    (row,) = [r for r in rows if r["kind"] == "answer_voiced"]
    voiced = onset + first_voiced(_answer())
    assert row["voiced_lost_ms"] == round((first_in_11 - voiced) * 1000 / SAMPLE_RATE, 3)

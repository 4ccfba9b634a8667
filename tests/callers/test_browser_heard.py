"""``harness.metrics.heard``: the same turns timed at playout, on a synthetic call.

Ground truth built here: a received track with agent bursts at known samples, packets
arriving every 20 ms, and the same packets played out a known, growing delay later (as
an adaptive jitter buffer does). The as-heard latency must exceed the network-edge
latency by exactly that delay at each onset, to the sample.
"""

from __future__ import annotations

import numpy as np
import pytest

from harness.analysis.timeline import build_timeline
from harness.metrics.heard import JITTER_BUFFER, TURN_LATENCY_HEARD, measure_heard
from harness.metrics.latency import TURN_LATENCY, measure_latency
from harness.records import (
    CallerKind,
    CallRecording,
    Scenario,
    SentUtterance,
    Step,
    StepKind,
    TransportSample,
)

SR = 48_000
MS = 1_000_000


def _call(heard_delay_ms: list[float]) -> tuple[CallRecording, np.ndarray, Scenario]:
    seconds = 8
    received = np.zeros(SR * seconds, dtype=np.float32)
    rng = np.random.default_rng(2)
    replies = [(1.5, 2.5), (5.0, 6.2)]  # agent speech, seconds on the call clock
    for a, b in replies:
        received[int(a * SR) : int(b * SR)] = 0.2 * rng.standard_normal(int(b * SR) - int(a * SR))
    packets = range(0, received.size, 960)
    anchors = tuple((i, i * 1_000_000_000 // SR) for i in packets)
    # Playout delay grows from the first to the second value across the call.
    delays = np.interp(list(packets), [0, received.size], heard_delay_ms)
    heard = tuple((i, t + round(d * MS)) for (i, t), d in zip(anchors, delays, strict=True))
    sent = tuple(
        SentUtterance(step_index=k, kind=StepKind.SAY, utterance_id=f"u{k}", start_sample=0,
                      start_ns=round((a - 1.2) * 1e9), speech_start_ns=round((a - 1.1) * 1e9),
                      speech_end_ns=round((a - 0.7) * 1e9), voiced_ns=())
        for k, (a, _) in enumerate(replies)
    )
    rec = CallRecording(
        call_id="c", scenario_id="s", endpoint="e", caller=CallerKind.BROWSER,
        duration_ns=seconds * 1_000_000_000, received_anchors=anchors, heard_anchors=heard, sent=sent,
        transport=(TransportSample(t_ns=0, packets_received=1, packets_lost=0, jitter_buffer_ms=40.0),),
        caller_info={"jitter_buffer_ms": 52.5},
    )
    scenario = Scenario(id="s", steps=tuple(Step(index=k, kind=StepKind.SAY, utterance=f"u{k}")
                                            for k in range(len(replies))))
    return rec, received, scenario


def test_heard_latency_adds_the_playout_delay_at_each_onset() -> None:
    rec, received, scenario = _call([30.0, 110.0])
    net = {m.turn: m.value for m in measure_latency(build_timeline(rec, received), scenario, rec)
           if m.metric == TURN_LATENCY}
    out = measure_heard(rec, scenario, received)
    heard = {m.turn: m.value for m in out if m.metric == TURN_LATENCY_HEARD}
    assert set(net) == set(heard) == {0, 1}
    for turn, onset_s in ((0, 1.5), (1, 5.0)):
        expected = 30.0 + 80.0 * onset_s / 8.0  # the delay interpolated at the onset
        assert heard[turn] - net[turn] == pytest.approx(expected, abs=1000 / SR * 2)  # type: ignore[operator]
        assert net[turn] == pytest.approx(700.0, abs=1.0)
    assert all(m.passed is None for m in out if m.metric == TURN_LATENCY_HEARD)  # informational
    (jb,) = [m for m in out if m.metric == JITTER_BUFFER]
    assert jb.turn is None and jb.value == 52.5 and jb.unit == "ms"


def test_no_heard_view_no_heard_numbers() -> None:
    rec, received, scenario = _call([30.0, 30.0])
    aiortc = CallRecording(**{**{f: getattr(rec, f) for f in rec.__dataclass_fields__},
                              "caller": CallerKind.AIORTC, "heard_anchors": (), "caller_info": {},
                              "transport": ()})
    assert measure_heard(aiortc, scenario, received) == ()

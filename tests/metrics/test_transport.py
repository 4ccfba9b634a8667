"""Transport facts and level from hand-made statistics and signals with known answers."""

from __future__ import annotations

import numpy as np
import pytest

from harness.metrics.transport import (
    CLIPPING,
    CONCEALED,
    JITTER,
    LOUDNESS,
    PACKET_LOSS,
    RTT,
    loudness_lufs,
    measure_transport,
)
from harness.records import (
    CallAudio,
    CallerKind,
    CallRecording,
    Scenario,
    SegmentationParams,
    Timeline,
    TransportSample,
)

SR = 48_000


def _call(samples: tuple[TransportSample, ...]) -> tuple[Timeline, Scenario, CallRecording]:
    rec = CallRecording(call_id="c", scenario_id="s", endpoint="e", caller=CallerKind.AIORTC, transport=samples)
    tl = Timeline(call_id="c", caller_speech=(), agent_speech=(), agent_turns=(), events=(),
                  params=SegmentationParams())
    return tl, Scenario(id="s", steps=()), rec


def _values(ms: tuple[object, ...]) -> dict[str, object]:
    return {m.metric: m for m in ms}  # type: ignore[attr-defined]


def test_transport_facts_come_from_the_last_reading_max_jitter_and_median_rtt() -> None:
    samples = (
        TransportSample(t_ns=2, packets_received=190, packets_lost=10, jitter_ms=3.0, rtt_ms=30.0,
                        concealed_samples=960),
        TransportSample(t_ns=1, packets_received=95, packets_lost=5, jitter_ms=7.5, rtt_ms=10.0),
        TransportSample(t_ns=3, packets_received=380, packets_lost=20, jitter_ms=2.0, rtt_ms=20.0,
                        concealed_samples=1920),
    )
    tl, sc, rec = _call(samples)
    v = _values(measure_transport(tl, sc, rec, None))
    assert v[PACKET_LOSS].value == pytest.approx(20 / 400)  # type: ignore[attr-defined]
    assert v[JITTER].value == 7.5  # type: ignore[attr-defined]
    assert v[RTT].value == 20.0  # type: ignore[attr-defined]
    assert v[CONCEALED].value == 1920.0  # type: ignore[attr-defined]
    assert CLIPPING not in v and LOUDNESS not in v  # no audio given


def test_missing_statistics_are_none_with_a_reason() -> None:
    tl, sc, rec = _call(())
    v = _values(measure_transport(tl, sc, rec, CallAudio()))
    for metric in (PACKET_LOSS, JITTER, RTT, CONCEALED, CLIPPING, LOUDNESS):
        assert v[metric].value is None and v[metric].reason, metric  # type: ignore[attr-defined]


def test_clipping_fraction_is_exact() -> None:
    audio = np.zeros(SR, np.float32)
    audio[:480] = 1.0
    audio[480:960] = -1.0
    tl, sc, rec = _call(())
    v = _values(measure_transport(tl, sc, rec, CallAudio(received=audio)))
    assert v[CLIPPING].value == pytest.approx(960 / SR)  # type: ignore[attr-defined]


def test_loudness_of_a_1khz_sine_matches_bs1770() -> None:
    # BS.1770: a full-scale 997 Hz sine reads -3.01 LUFS; at amplitude 0.1 (-20 dB): -23.01.
    t = np.arange(5 * SR) / SR
    sine = (0.1 * np.sin(2 * np.pi * 997 * t)).astype(np.float32)
    value = loudness_lufs(sine, SR)
    assert value is not None and value == pytest.approx(-23.01, abs=0.1)
    assert loudness_lufs(np.zeros(SR, np.float32), SR) is None
    assert loudness_lufs(sine[: SR // 10], SR) is None  # shorter than one 400 ms block

"""Transport facts and level of the received track: context for every quality number.

Per call (``turn=None``), from the transport statistics the caller sampled
(``recording.transport``, cumulative counters) and from the received audio:

- ``packet_loss``: lost / (received + lost) at the last reading (ratio);
- ``jitter_ms``: the largest interarrival jitter reported; ``rtt_ms``: the median RTT;
- ``concealed_samples``: at the last reading (the receiver's loss concealment);
- ``clipping``: fraction of received samples at or above full scale (|x| >= 0.999);
- ``loudness_lufs``: integrated loudness (ITU-R BS.1770-4 via pyloudnorm) of the
  received track; its gating ignores the silence between turns.

A fact with no data is reported ``value=None`` with the reason, never guessed.
"""

from __future__ import annotations

import statistics

import numpy as np

from harness.metrics.base import check_same_call, measurement
from harness.records import CallAudio, CallRecording, Measurement, Scenario, Timeline

__all__ = [
    "CLIPPING",
    "CLIP_LEVEL",
    "CONCEALED",
    "JITTER",
    "LOUDNESS",
    "PACKET_LOSS",
    "RTT",
    "loudness_lufs",
    "measure_transport",
]

PACKET_LOSS = "packet_loss"
JITTER = "jitter_ms"
RTT = "rtt_ms"
CONCEALED = "concealed_samples"
CLIPPING = "clipping"
LOUDNESS = "loudness_lufs"
CLIP_LEVEL = 0.999
_NO_STATS = "no transport statistics recorded"


def loudness_lufs(samples: np.ndarray, sample_rate: int) -> float | None:
    """Integrated loudness, or ``None`` for silence or audio shorter than one 400 ms block."""
    import pyloudnorm  # type: ignore[import-untyped]

    x = np.asarray(samples, dtype=np.float64)
    if x.size < int(0.4 * sample_rate) or not np.any(x):
        return None
    value = float(pyloudnorm.Meter(sample_rate).integrated_loudness(x))
    return value if np.isfinite(value) else None


def measure_transport(
    timeline: Timeline, scenario: Scenario, recording: CallRecording, audio: CallAudio | None
) -> tuple[Measurement, ...]:
    check_same_call(timeline, scenario, recording)
    out: list[Measurement] = []

    def add(metric: str, value: float | None, unit: str, reason: str | None = None) -> None:
        out.append(measurement(recording, turn=None, metric=metric, value=value, unit=unit,
                               reason=None if value is not None else reason))

    stats = sorted(recording.transport, key=lambda s: s.t_ns)
    last = stats[-1] if stats else None
    if last is None:
        add(PACKET_LOSS, None, "ratio", _NO_STATS)
    else:
        total = last.packets_received + last.packets_lost
        add(PACKET_LOSS, last.packets_lost / total if total > 0 else None, "ratio", "no packets counted")
    jitters = [s.jitter_ms for s in stats if s.jitter_ms is not None]
    add(JITTER, max(jitters) if jitters else None, "ms", "no jitter reported")
    rtts = [s.rtt_ms for s in stats if s.rtt_ms is not None]
    add(RTT, statistics.median(rtts) if rtts else None, "ms", "no RTT reported")
    concealed = [s.concealed_samples for s in stats if s.concealed_samples is not None]
    add(CONCEALED, float(concealed[-1]) if concealed else None, "samples", "no concealment reported")
    if audio is not None:
        received = audio.received
        if received.size == 0:
            add(CLIPPING, None, "ratio", "no received audio")
        else:
            add(CLIPPING, float(np.mean(np.abs(received) >= CLIP_LEVEL)), "ratio")
        add(LOUDNESS, loudness_lufs(received, recording.sample_rate), "LUFS", "no received speech")
    return tuple(out)

"""The ``playback`` mode's media: a fixed loop of pre-encoded speech-like audio.

For benchmarks of the caller: an agent that decodes, runs a VAD and encodes for every
call needs more CPU per call than the caller does, so on a small machine it would be
the limit of any caller benchmark. In playback mode the agent ignores what it hears
and sends, on the 20 ms grid, packets encoded once per process: real Opus with speech
and silence in it, so the caller receives, decodes and detects as it would from a
talking agent, at a fraction of the agent's cost. It answers nothing and logs no turns.
"""

from __future__ import annotations

import fractions
import functools

import numpy as np
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack
from av import AudioFrame, Packet

from harness.clock import Clock, SystemClock
from harness.webrtc.audio import FRAME_NS, FRAME_SAMPLES, SAMPLE_RATE, to_int16
from harness.webrtc.playout import opus_encoder

_TIME_BASE = fractions.Fraction(1, SAMPLE_RATE)
TALK_S = 1.5
PAUSE_S = 0.5
LOOP_S = 4.0


@functools.cache
def loop_payloads(seed: int = 0) -> tuple[bytes, ...]:
    """Opus payloads of ``LOOP_S`` seconds: bursts of syllable-modulated noise (-20 dBFS
    peaks) and silence, encoded once per process."""
    rng = np.random.default_rng(seed)
    n = int(LOOP_S * SAMPLE_RATE)
    t = np.arange(n) / SAMPLE_RATE
    talking = (t % (TALK_S + PAUSE_S)) < TALK_S
    envelope = np.clip(np.sin(2 * np.pi * 4.0 * t), 0.0, None) * talking
    signal = (0.1 * envelope * rng.standard_normal(n)).astype(np.float32)
    encoder = opus_encoder()
    payloads = []
    for k in range(n // FRAME_SAMPLES):
        frame = AudioFrame.from_ndarray(to_int16(signal[k * FRAME_SAMPLES:(k + 1) * FRAME_SAMPLES])[None, :],
                                        format="s16", layout="mono")
        frame.sample_rate, frame.pts, frame.time_base = SAMPLE_RATE, k * FRAME_SAMPLES, _TIME_BASE
        payloads.append(b"".join(bytes(p) for p in encoder.encode(frame)[:1]))
    return tuple(payloads)


class LoopedPacketTrack(MediaStreamTrack):
    """Hands the loop's packets to aiortc, one per 20 ms slot on the clock."""

    kind = "audio"

    def __init__(self, clock: Clock | None = None) -> None:
        super().__init__()
        self._clock = clock or SystemClock()
        self._payloads = loop_payloads()
        self._origin: int | None = None
        self._frame = 0

    async def recv(self) -> Packet:  # type: ignore[type-arg]
        if self.readyState != "live":
            raise MediaStreamError
        n = self._frame
        if self._origin is None:
            self._origin = self._clock.monotonic_ns()
        await self._clock.sleep_until(self._origin + n * FRAME_NS)
        self._frame = n + 1
        packet = Packet(self._payloads[n % len(self._payloads)])
        packet.pts = n * FRAME_SAMPLES
        packet.time_base = _TIME_BASE
        return packet


__all__ = ["LoopedPacketTrack", "loop_payloads"]

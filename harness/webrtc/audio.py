"""Audio constants of the WebRTC path and conversions between sample formats."""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

SAMPLE_RATE = 48_000
"""Opus always runs at 48 kHz; the harness's timeline does too."""
FRAME_SAMPLES = 960
"""20 ms frames: the packetisation of every WebRTC audio stack we talk to."""
FRAME_NS = 20_000_000
OPUS_DELAY_SAMPLES = 312
"""libopus's algorithmic delay: decoded audio lags the encoded input by this much."""
OPUS_DELAY_NS = OPUS_DELAY_SAMPLES * 1_000_000_000 // SAMPLE_RATE

Float32Audio = NDArray[np.float32]


def to_int16(samples: Float32Audio) -> NDArray[np.int16]:
    """Scale by 32767, round half to even, clip to int16: ufuncs in place (the wrappers of
    ``np.round``/``np.clip`` cost more than the arithmetic on a 20 ms frame)."""
    scaled = samples * 32767.0  # a new array, of the input's float type
    np.rint(scaled, out=scaled)
    np.maximum(scaled, -32768, out=scaled)
    np.minimum(scaled, 32767, out=scaled)
    return scaled.astype(np.int16)


_INT16_SCALE = np.float32(1.0 / 32768.0)
"""A power of two: multiplying by it is exactly dividing by 32768."""


def to_float32(samples: NDArray[np.int16]) -> Float32Audio:
    out: Float32Audio = samples.astype(np.float32) * _INT16_SCALE
    return out


def samples_to_ns(samples: int, sample_rate: int = SAMPLE_RATE) -> int:
    return samples * 1_000_000_000 // sample_rate


def ns_to_samples(ns: int, sample_rate: int = SAMPLE_RATE) -> int:
    return round(ns * sample_rate / 1_000_000_000)

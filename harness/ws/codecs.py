"""Audio on the WebSocket wire: PCM16 little-endian and G.711 mu-law, at the wire's rate.

Vendors carry raw samples (base64 in JSON or binary frames) at 8, 16 or 24 kHz, while
the harness's timeline runs at 48 kHz. Resampling here is soxr's: whole clips one shot
(aligned, no delay, as for the corpus) and live streams with its quick filter, whose
output stays aligned with its input (sample ``j`` of the output is input ``j / ratio``)
and whose emission lags by a handful of samples.
"""

from __future__ import annotations

import base64
import binascii
from enum import StrEnum

import numpy as np
import soxr
from numpy.typing import NDArray

from harness.webrtc.audio import SAMPLE_RATE, Float32Audio, to_float32, to_int16

_MULAW_BIAS = 0x84
_MULAW_CLIP = 8159
_MULAW_SEGMENT_ENDS = np.array([0x3F, 0x7F, 0xFF, 0x1FF, 0x3FF, 0x7FF, 0xFFF, 0x1FFF])


class Encoding(StrEnum):
    PCM16 = "pcm16"
    """Signed 16-bit little-endian samples."""
    MULAW = "mulaw"
    """ITU-T G.711 mu-law, one byte a sample (telephony, Twilio)."""


def encode(samples: Float32Audio, encoding: Encoding) -> bytes:
    pcm = to_int16(samples)
    if encoding is Encoding.MULAW:
        return bytes(_mulaw_encode(pcm))
    return pcm.astype("<i2").tobytes()


def decode(data: bytes, encoding: Encoding) -> Float32Audio:
    """Wire bytes -> float32 samples; a trailing odd byte of PCM16 is dropped."""
    if encoding is Encoding.MULAW:
        return to_float32(_mulaw_decode(np.frombuffer(data, dtype=np.uint8)))
    usable = len(data) - len(data) % 2
    return to_float32(np.frombuffer(data[:usable], dtype="<i2").astype(np.int16))


def b64decode(text: str) -> bytes:
    """Base64 audio from a JSON field; ``ValueError`` if it is not base64."""
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ValueError(f"audio is not base64: {exc}") from None


def b64encode(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _mulaw_encode(pcm: NDArray[np.int16]) -> NDArray[np.uint8]:
    """G.711 mu-law as in the ITU reference coder: 14-bit magnitude, bias 33, 8 segments."""
    x = pcm.astype(np.int32) >> 2
    mask = np.where(x < 0, 0x7F, 0xFF)
    magnitude = np.minimum(np.abs(x), _MULAW_CLIP) + (_MULAW_BIAS >> 2)
    segment = np.searchsorted(_MULAW_SEGMENT_ENDS, magnitude, side="left")
    code = (segment << 4) | ((magnitude >> (segment + 1)) & 0x0F)
    code = np.where(segment >= 8, 0x7F, code)
    return (code ^ mask).astype(np.uint8)


def _mulaw_decode(codes: NDArray[np.uint8]) -> NDArray[np.int16]:
    u = (~codes.astype(np.int32)) & 0xFF
    sign = u & 0x80
    exponent = (u >> 4) & 0x07
    mantissa = u & 0x0F
    magnitude = (((mantissa << 3) + _MULAW_BIAS) << exponent) - _MULAW_BIAS
    return np.where(sign != 0, -magnitude, magnitude).astype(np.int16)


def to_wire_rate(samples: Float32Audio, rate: int) -> Float32Audio:
    """A whole 48 kHz clip at ``rate``, aligned (soxr one-shot)."""
    if rate == SAMPLE_RATE or samples.size == 0:
        return samples.astype(np.float32, copy=False)
    return np.asarray(soxr.resample(samples, SAMPLE_RATE, rate), dtype=np.float32)


def from_wire_rate(samples: Float32Audio, rate: int) -> Float32Audio:
    """A whole clip at ``rate`` back at 48 kHz, aligned (soxr one-shot)."""
    if rate == SAMPLE_RATE or samples.size == 0:
        return samples.astype(np.float32, copy=False)
    return np.asarray(soxr.resample(samples, rate, SAMPLE_RATE), dtype=np.float32)


class LiveUpsampler:
    """A received stream at ``rate`` -> 48 kHz as it arrives (soxr's quick filter: aligned,
    a few samples of emission lag), for live decisions only; recordings use whole runs."""

    def __init__(self, rate: int) -> None:
        self.rate = rate
        self._stream = None if rate == SAMPLE_RATE else soxr.ResampleStream(
            rate, SAMPLE_RATE, 1, dtype="float32", quality="QQ")

    def push(self, samples: Float32Audio) -> Float32Audio:
        if self._stream is None:
            return samples.astype(np.float32, copy=False)
        return np.asarray(self._stream.resample_chunk(samples.astype(np.float32, copy=False)), dtype=np.float32)


def wire_to_timeline(position: int, rate: int) -> int:
    """Sample ``position`` at ``rate`` as a 48 kHz timeline position (rounded)."""
    return round(position * SAMPLE_RATE / rate)


def timeline_to_wire(position: int, rate: int) -> int:
    return round(position * rate / SAMPLE_RATE)

"""Wire codecs: mu-law matches the standard library's G.711 coder; PCM16 round-trips."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from harness.ws.codecs import Encoding, b64decode, decode, encode, from_wire_rate, to_wire_rate

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    try:
        import audioop
    except ImportError:  # Python >= 3.13
        audioop = None  # type: ignore[assignment]


@pytest.mark.skipif(audioop is None, reason="no audioop (Python >= 3.13) to compare with")
def test_mulaw_matches_g711_reference() -> None:
    pcm = np.arange(-32768, 32768, 7, dtype=np.int16)
    ours = encode(pcm.astype(np.float32) / 32767.0, Encoding.MULAW)
    reference = audioop.lin2ulaw(np.round(pcm.astype(np.float32) / 32767.0 * 32767.0).astype("<i2").tobytes(), 2)
    assert ours == reference
    codes = bytes(range(256))
    decoded = np.frombuffer(audioop.ulaw2lin(codes, 2), dtype="<i2")
    assert np.array_equal(np.round(decode(codes, Encoding.MULAW) * 32768).astype(np.int16), decoded)


def test_pcm16_round_trip_and_bad_base64() -> None:
    x = (0.5 * np.sin(np.arange(480) / 7)).astype(np.float32)
    y = decode(encode(x, Encoding.PCM16), Encoding.PCM16)
    assert np.max(np.abs(x - y)) < 1e-4
    assert decode(b"\x01\x02\x03", Encoding.PCM16).size == 1
    with pytest.raises(ValueError, match="base64"):
        b64decode("not base64!")


def test_resampling_is_aligned() -> None:
    x = np.zeros(48_000, np.float32)
    x[24_000] = 1.0
    for rate in (8_000, 16_000, 24_000):
        down = to_wire_rate(x, rate)
        assert int(np.argmax(down)) == 24_000 * rate // 48_000
        assert int(np.argmax(from_wire_rate(down, rate))) == 24_000

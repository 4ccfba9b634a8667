"""The paced track's encode path: what leaves is exactly what fresh frames would give.

``PacedAudioTrack`` refills one AudioFrame for every 20 ms and skips the arithmetic for
silent frames; both are only allowed because the packets are byte-for-byte those of
the straightforward path (a new frame per slot, every sample converted).
"""

from __future__ import annotations

import asyncio
import fractions

import numpy as np
import pytest
import soundfile as sf
from av import AudioFrame

from harness.clock import VirtualClock
from harness.corpus.model import Corpus
from harness.webrtc.audio import FRAME_SAMPLES, SAMPLE_RATE, to_int16
from harness.webrtc.playout import PacedAudioTrack, Playout, opus_encoder

TB = fractions.Fraction(1, SAMPLE_RATE)


def _reference_packets(signal: np.ndarray, frames: int) -> list[bytes]:
    encoder = opus_encoder()
    out = []
    for n in range(frames):
        chunk = signal[n * FRAME_SAMPLES:(n + 1) * FRAME_SAMPLES]
        reference = np.clip(np.round(chunk * 32767.0), -32768, 32767).astype(np.int16)  # the plain formula
        frame = AudioFrame.from_ndarray(reference[None, :], format="s16", layout="mono")
        frame.sample_rate, frame.pts, frame.time_base = SAMPLE_RATE, n * FRAME_SAMPLES, TB
        out.append(b"".join(bytes(p) for p in encoder.encode(frame)[:1]))
    return out


def test_track_packets_equal_fresh_frame_encoding(corpus: Corpus) -> None:
    speech = sf.read(corpus.get("q_time").wav, dtype="float32")[0]
    loud = np.linspace(-1.2, 1.2, 4 * FRAME_SAMPLES, dtype=np.float32)  # clipping both ways
    signal = np.zeros(60 * FRAME_SAMPLES + speech.size, dtype=np.float32)
    signal[10 * FRAME_SAMPLES:10 * FRAME_SAMPLES + speech.size] += speech  # silence, speech, silence
    signal[-6 * FRAME_SAMPLES:-2 * FRAME_SAMPLES] += loud
    frames = signal.size // FRAME_SAMPLES
    playout = Playout()
    playout.schedule(speech, 10 * FRAME_SAMPLES)
    playout.schedule(loud, signal.size - 6 * FRAME_SAMPLES)
    track = PacedAudioTrack(playout, VirtualClock())

    async def packets() -> list[bytes]:
        return [bytes(await track.recv()) for _ in range(frames)]

    assert asyncio.run(packets()) == _reference_packets(signal, frames)
    assert np.array_equal(playout.sent_audio(), signal[: frames * FRAME_SAMPLES])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_to_int16_rounds_half_to_even_and_clips(dtype: type) -> None:
    x = np.array([0.0, 0.5 / 32767, 1.5 / 32767, -2.5 / 32767, 1.0, 1.1, -1.0, -1.1, 0.25], dtype=dtype)
    expected = np.clip(np.round(x * 32767.0), -32768, 32767).astype(np.int16)
    assert to_int16(x).tolist() == expected.tolist() == [0, 0, 2, -2, 32767, 32767, -32767, -32768, 8192]

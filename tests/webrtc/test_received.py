"""Received Opus packets decode to exactly what PyAV's own conversion gives."""

from __future__ import annotations

import asyncio

import av
import numpy as np
import soundfile as sf

from harness.clock import VirtualClock
from harness.corpus.model import Corpus
from harness.webrtc.audio import FRAME_SAMPLES
from harness.webrtc.playout import PacedAudioTrack, Playout
from harness.webrtc.received import ReceivedStream
from harness.webrtc.taps import ArrivedPacket


def test_decoded_samples_match_pyav_to_ndarray(corpus: Corpus) -> None:
    speech = sf.read(corpus.get("q_name").wav, dtype="float32")[0]
    playout = Playout(record=False)
    playout.schedule(speech, 5 * FRAME_SAMPLES)
    track = PacedAudioTrack(playout, VirtualClock())
    frames = speech.size // FRAME_SAMPLES + 10

    async def packets() -> list[bytes]:
        return [bytes(await track.recv()) for _ in range(frames)]

    payloads = asyncio.run(packets())
    stream = ReceivedStream()
    for n, payload in enumerate(payloads):
        stream.add(ArrivedPacket(seq=n, timestamp=n * FRAME_SAMPLES, payload=payload, arrival_ns=n * 20_000_000))
    decoder = av.CodecContext.create("libopus", "r")
    decoder.format, decoder.layout, decoder.sample_rate = "s16", "mono", 48000
    reference = np.concatenate([f.to_ndarray().reshape(-1) for p in payloads for f in decoder.decode(av.Packet(p))])
    assert np.array_equal(stream.samples(), (reference.astype(np.float32) / 32768.0).astype(np.float32))


def test_duplicates_are_counted_once_and_never_as_loss() -> None:
    """A network that duplicates (``--network duplicate=...``) must not show as loss:
    duplicates never entered the packet count, so they are not subtracted from it."""
    stream = ReceivedStream()
    for n in (0, 1, 1, 2, 4, 4, 5, 3):  # 1 and 4 twice; 3 arrives after 5 (late)
        stream.add(ArrivedPacket(seq=n, timestamp=n * FRAME_SAMPLES, payload=b"\xf8\xff\xfe", arrival_ns=n))
    stats = stream.stats()
    assert (stats.packets, stats.duplicates, stats.late) == (6, 2, 1)
    assert stats.lost == 1  # only the late packet 3 (a decoder that got it late could not use it)

"""Received Opus packets decode to exactly what PyAV's own conversion gives."""

from __future__ import annotations

import asyncio

import av
import numpy as np
import soundfile as sf

from harness.analysis.timeline import sample_to_ns
from harness.clock import VirtualClock
from harness.corpus.model import Corpus
from harness.webrtc.audio import FRAME_NS, FRAME_SAMPLES, OPUS_DELAY_NS, SAMPLE_RATE
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


def test_an_onset_is_heard_when_its_decoded_sound_exists_never_before_its_packet() -> None:
    """The definition of a reply's onset (docs/timing.md, "The codec term"): sound whose
    input sample is ``s0`` is heard at that sample's own time + the network transit +
    libopus's 312 samples, the moment its packet has arrived and decoded, not 6.5 ms
    before. ``s0`` sits in the last 312 samples of its frame, so its sound travels in the
    *next* packet: the old anchoring (arrival less the codec delay) put it before that
    packet arrived. Tolerance 0.5 ms: the decoded tone's first loud sample."""
    s0, transit_ns = 3 * FRAME_SAMPLES - 100, 1_000_000
    audio = np.zeros(20 * FRAME_SAMPLES, dtype=np.float32)
    audio[s0:] = 0.5 * np.sin(2 * np.pi * 440 * np.arange(audio.size - s0) / SAMPLE_RATE)
    playout = Playout(record=False)
    playout.schedule(audio, 0)
    track = PacedAudioTrack(playout, VirtualClock())

    async def packets() -> list[bytes]:
        return [bytes(await track.recv()) for _ in range(audio.size // FRAME_SAMPLES)]

    stream = ReceivedStream()
    for n, payload in enumerate(asyncio.run(packets())):
        stream.add(ArrivedPacket(seq=n, timestamp=n * FRAME_SAMPLES, payload=payload,
                                 arrival_ns=n * FRAME_NS + transit_ns))
    decoded = stream.samples()
    heard = int(np.flatnonzero(np.abs(decoded) > 0.1)[0])
    heard_ns = sample_to_ns(stream.anchors, SAMPLE_RATE, heard)
    carrying_packet = heard // FRAME_SAMPLES
    assert carrying_packet == s0 // FRAME_SAMPLES + 1  # the sound is in the next packet
    assert heard_ns >= carrying_packet * FRAME_NS + transit_ns  # never before it arrived
    input_ns = s0 * 1_000_000_000 // SAMPLE_RATE
    assert abs(heard_ns - (input_ns + transit_ns + OPUS_DELAY_NS)) <= 500_000, (heard_ns - input_ns) / 1e6

"""The relay's figures from its stamps: counts, bursts, trace, and RFC 3550 as a receiver computes it."""

from __future__ import annotations

import random

import pytest

from harness.network.link import Decision, Fate
from harness.network.stamps import SEND_FAILED, LinkLog, MediaStamp, rtp_header
from harness.webrtc.received import ReceivedStream
from harness.webrtc.taps import ArrivedPacket

MS = 1_000_000


def _stamp(seq: int, arrival: int, sent: list[int | None], fate: Fate = Fate.DELIVERED) -> MediaStamp:
    releases = tuple(t if t is not None and t != SEND_FAILED else arrival for t in sent) if fate is Fate.DELIVERED else ()
    return MediaStamp(ssrc=7, seq=seq, timestamp=seq * 960, payload_type=111, arrival_ns=arrival,
                      decision=Decision(fate=fate, releases=releases), sent_ns=list(sent) if releases else [])


def test_counts_bursts_trace_and_what_is_still_held() -> None:
    log = LinkLog()
    fates = [Fate.DELIVERED, Fate.LOST_RANDOM, Fate.LOST_BURST, Fate.DELIVERED, Fate.LOST_QUEUE, Fate.DELIVERED]
    for seq, fate in enumerate(fates):
        log.media.append(_stamp(seq, seq * 20 * MS, [seq * 20 * MS + 50 * MS], fate))
    log.media.append(_stamp(6, 120 * MS, [170 * MS, 175 * MS]))  # duplicated
    log.media.append(_stamp(7, 140 * MS, [SEND_FAILED]))  # its send failed: lost
    log.media.append(_stamp(8, 160 * MS, [None]))  # still held: left out
    log.other_packets, log.other_lost = 5, 1
    a = log.summarize(origin_ns=10 * MS)
    assert (a.packets, a.delivered, a.lost, a.lost_random, a.lost_burst, a.lost_queue) == (8, 5, 4, 1, 1, 1)
    assert (a.duplicated, a.in_flight, a.other_packets, a.other_lost) == (1, 1, 5, 1)
    assert a.burst_lengths == ((1, 2), (2, 1))  # seq 1-2, then 4, then 7
    assert a.delay_p50_ms == pytest.approx(50.0) and a.delay_max_ms == pytest.approx(55.0)
    assert a.trace[:3] == ((0, -10 * MS, 40 * MS), (1, 10 * MS, None), (2, 30 * MS, None))
    assert a.trace[-3:] == ((6, 110 * MS, 160 * MS), (6, 110 * MS, 165 * MS), (7, 130 * MS, None))


def test_rfc3550_jitter_is_the_receivers_to_the_bit() -> None:
    """The relay's jitter of what it released equals what the reference agent's
    ReceivedStream computes from the same arrival times (duplicates and late packets too)."""
    rng = random.Random(4)
    log = LinkLog({111: 48_000})
    stream = ReceivedStream()
    arrivals = []
    for seq in range(400):
        t = seq * 20 * MS + int(rng.expovariate(1 / 30) * MS)
        copies = [t, t + 3 * MS] if seq % 37 == 0 else [t]
        log.media.append(_stamp(seq, seq * 20 * MS, list(copies)))
        arrivals += [(c, seq) for c in copies]
    for t, seq in sorted(arrivals):
        stream.add(ArrivedPacket(seq=seq, timestamp=seq * 960, payload=b"\xf8\xff\xfe", arrival_ns=t))
    applied = log.summarize(0)
    stats = stream.stats()
    assert applied.jitter_ms == pytest.approx(stats.jitter_ms, abs=1e-9)
    assert applied.reordered == stats.late > 0
    assert stats.duplicates == applied.duplicated


def test_rtp_header_tells_media_from_control() -> None:
    rtp = bytes([0x80, 111, 0, 5, 0, 0, 3, 192, 0, 0, 0, 9]) + b"x"
    assert rtp_header(rtp) == (111, 5, 960, 9)
    rtcp = bytes([0x80, 200]) + bytes(26)
    stun = bytes([0x00, 0x01]) + bytes(18)
    dtls = bytes([22, 254, 253]) + bytes(20)
    assert rtp_header(rtcp) is None and rtp_header(stun) is None and rtp_header(dtls) is None

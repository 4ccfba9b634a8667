"""The relay's stamps for one direction, and the ``LinkApplied`` figures made from them.

Every media (RTP) packet is stamped with its kernel arrival at the relay, the model's
decision and the time each copy was actually handed to ``sendto``; control packets
(STUN, DTLS, RTCP) are only counted. The figures describe what the packets *got*, so a
late release by a busy event loop shows up in them (``release_late_p99_ms``) instead
of silently differing from the profile.
"""

from __future__ import annotations

import struct
from collections import Counter
from dataclasses import dataclass, field

import numpy as np

from harness.network.link import Decision, Fate
from harness.records import LinkApplied

SEND_FAILED = -1
"""``sent_ns`` of a copy whose ``sendto`` failed (a full buffer, a vanished peer): lost."""
DEFAULT_CLOCK_RATE = 48_000
"""RTP clock of a payload type the SDP did not name (Opus's, which WebRTC audio uses)."""


@dataclass(slots=True)
class MediaStamp:
    ssrc: int
    seq: int
    """Extended past 65535 in arrival order."""
    timestamp: int
    payload_type: int
    arrival_ns: int
    decision: Decision
    sent_ns: list[int | None] = field(default_factory=list)
    """When each copy was handed to the socket; ``None`` until then, ``SEND_FAILED`` if it failed."""

    @property
    def settled(self) -> bool:
        """Its fate is complete: dropped, or every copy released."""
        return not self.decision.releases or all(t is not None for t in self.sent_ns)


def rtp_header(data: bytes) -> tuple[int, int, int, int] | None:
    """(payload type, sequence, timestamp, SSRC) of an RTP packet; ``None`` for anything else.

    RFC 7983 demultiplexing: RTP/RTCP start with 128..191; RTCP's packet types 192..223
    occupy the second byte's low 7 bits (RFC 5761).
    """
    if len(data) < 12 or not 128 <= data[0] <= 191:
        return None
    payload_type = data[1] & 0x7F
    if 64 <= payload_type <= 95:
        return None
    seq, timestamp, ssrc = struct.unpack_from("!HII", data, 2)
    return payload_type, seq, timestamp, ssrc


class LinkLog:
    """Stamps of one direction while the call runs."""

    def __init__(self, clock_rates: dict[int, int] | None = None) -> None:
        self.clock_rates = dict(clock_rates or {})
        self.media: list[MediaStamp] = []
        self.other_packets = 0
        self.other_lost = 0
        self._last_seq: dict[int, int] = {}

    def extend_seq(self, ssrc: int, seq: int) -> int:
        last = self._last_seq.get(ssrc)
        if last is None:
            ext = seq
        else:
            ext = (last & ~0xFFFF) | seq
            if ext < last - 0x8000:
                ext += 0x10000
            elif ext > last + 0x8000:
                ext -= 0x10000
        self._last_seq[ssrc] = max(ext, last if last is not None else ext)
        return ext

    def summarize(self, origin_ns: int) -> LinkApplied:
        settled = [s for s in self.media if s.settled]
        if not settled:
            return LinkApplied(in_flight=len(self.media), other_packets=self.other_packets,
                               other_lost=self.other_lost)
        fates = Counter(s.decision.fate for s in settled)
        sent = [(t, s) for s in settled for t in s.sent_ns if t is not None and t != SEND_FAILED]
        delays = np.array([t - s.arrival_ns for t, s in sent], dtype=np.float64) / 1e6
        late = np.array([t - planned for s in settled
                         for t, planned in zip(s.sent_ns, s.decision.releases, strict=True)
                         if t is not None and t != SEND_FAILED], dtype=np.float64) / 1e6
        main_ssrc = Counter(s.ssrc for s in settled).most_common(1)[0][0]
        main = [s for s in settled if s.ssrc == main_ssrc]
        released = sorted(((t, s) for t, s in sent if s.ssrc == main_ssrc), key=lambda x: x[0])
        lost = len(settled) - len({id(s) for _, s in sent})
        return LinkApplied(
            packets=len(settled),
            delivered=len(sent),
            lost=lost,
            lost_random=fates[Fate.LOST_RANDOM],
            lost_burst=fates[Fate.LOST_BURST],
            lost_queue=fates[Fate.LOST_QUEUE],
            duplicated=sum(1 for s in settled if len(s.decision.releases) > 1),
            reordered=_reordered(released),
            delay_mean_ms=_stat(delays, "mean"),
            delay_p50_ms=_stat(delays, 50),
            delay_p99_ms=_stat(delays, 99),
            delay_max_ms=_stat(delays, "max"),
            queue_delay_max_ms=max(s.decision.queue_delay_ns for s in settled) / 1e6,
            jitter_ms=self._rfc3550([(t, s) for t, s in released]),
            jitter_in_ms=self._rfc3550([(s.arrival_ns, s) for s in main]),
            burst_lengths=_bursts(main),
            release_late_p99_ms=_stat(late, 99),
            in_flight=len(self.media) - len(settled),
            other_packets=self.other_packets,
            other_lost=self.other_lost,
            trace=_trace(main, origin_ns),
        )

    def _rfc3550(self, arrivals: list[tuple[int, MediaStamp]]) -> float | None:
        """RFC 3550 interarrival jitter as a receiver computes it, in arrival order.

        Like ``harness.webrtc.received`` (and aiortc): duplicates and packets older
        than one already seen are skipped.
        """
        jitter, previous, highest, ts0 = 0.0, None, -1, None
        seen: set[int] = set()
        for t_ns, stamp in arrivals:
            if stamp.seq in seen or stamp.seq < highest:
                seen.add(stamp.seq)
                continue
            seen.add(stamp.seq)
            highest = stamp.seq
            ts0 = stamp.timestamp if ts0 is None else ts0
            rate = self.clock_rates.get(stamp.payload_type, DEFAULT_CLOCK_RATE)
            transit = t_ns / 1e6 - ((stamp.timestamp - ts0) & 0xFFFFFFFF) * 1000.0 / rate
            if previous is not None:
                jitter += (abs(transit - previous) - jitter) / 16.0
            previous = transit
        return jitter if previous is not None else None


def _stat(values: np.ndarray, which: float | str) -> float | None:
    if values.size == 0:
        return None
    if which == "mean":
        return float(values.mean())
    if which == "max":
        return float(values.max())
    return float(np.percentile(values, float(which)))


def _reordered(released: list[tuple[int, MediaStamp]]) -> int:
    highest, count = -1, 0
    seen: set[int] = set()
    for _, stamp in released:
        if stamp.seq in seen:
            continue
        seen.add(stamp.seq)
        if stamp.seq < highest:
            count += 1
        highest = max(highest, stamp.seq)
    return count


def _bursts(main: list[MediaStamp]) -> tuple[tuple[int, int], ...]:
    runs: Counter[int] = Counter()
    run = 0
    for stamp in sorted(main, key=lambda s: s.seq):
        if any(t is not None and t != SEND_FAILED for t in stamp.sent_ns):
            if run:
                runs[run] += 1
            run = 0
        else:
            run += 1
    if run:
        runs[run] += 1
    return tuple(sorted(runs.items()))


def _trace(main: list[MediaStamp], origin_ns: int) -> tuple[tuple[int, int, int | None], ...]:
    rows: list[tuple[int, int, int | None]] = []
    for stamp in main:
        arrival = stamp.arrival_ns - origin_ns
        if not stamp.decision.releases:
            rows.append((stamp.seq, arrival, None))
        sent = [t for t in stamp.sent_ns if t is not None and t != SEND_FAILED]
        if stamp.decision.releases and not sent:
            rows.append((stamp.seq, arrival, None))
        rows.extend((stamp.seq, arrival, t - origin_ns) for t in sent)
    return tuple(rows)

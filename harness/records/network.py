"""The emulated network of a call: the profile asked for and what the relay applied.

A ``NetworkProfile`` travels with a call (``CallSpec.network`` for a ladder step, or
the caller settings for a whole run) to the relay (``harness.network``), and the
``NetworkApplied`` it reports back is stored in the ``CallRecording`` beside it.
"""

from __future__ import annotations

from dataclasses import field

from harness.records.base import record

__all__ = ["LinkApplied", "LinkProfile", "NetworkApplied", "NetworkProfile"]


@record
class LinkProfile:
    """One direction of an emulated network path (``harness.network``, docs/network.md).

    Stages in order: loss (random, then Gilbert-Elliott), duplication, the bandwidth
    cap's queue (tail drop), then delay + jitter.
    """

    delay_ms: float = 0.0
    """Fixed one-way delay: the floor every packet waits."""
    jitter_ms: float = 0.0
    """Mean of an exponentially distributed extra delay drawn per packet."""
    reorder: bool = True
    """Packets may overtake each other when their jitter says so; off: FIFO release."""
    loss: float = 0.0
    """Probability that a packet is dropped at random (Bernoulli)."""
    ge_p: float = 0.0
    """Gilbert-Elliott: probability per packet of going from the good to the bad state."""
    ge_r: float = 1.0
    """Gilbert-Elliott: probability per packet of going from the bad back to the good state."""
    ge_loss: float = 1.0
    """Gilbert-Elliott: loss probability in the bad state (none in the good state)."""
    duplicate: float = 0.0
    """Probability that a packet is delivered twice (the copy with its own jitter)."""
    rate_kbps: float | None = None
    """Bandwidth cap (token bucket) in kbit/s of IP packets (UDP payload + 28 bytes)."""
    burst_bytes: int = 1500
    """Token bucket depth: what may pass at once after an idle spell."""
    queue_ms: float = 100.0
    """Queue in front of the cap, as time at the capped rate; a fuller queue drops the tail."""


@record
class NetworkProfile:
    """The network a call runs over, per direction: ``up`` is caller -> endpoint."""

    name: str
    """A named profile (``4g``) or the inline text it was parsed from."""
    up: LinkProfile = field(default_factory=LinkProfile)
    down: LinkProfile = field(default_factory=LinkProfile)
    seed: int = 0
    """With the call id, fixes every random draw: a run repeats exactly."""
    ladder_step: int | None = None
    """Position on the run's profile ladder (0 first), ``None`` when not run as a ladder."""


@record
class LinkApplied:
    """What the relay did to one direction: media (RTP) figures, then everything else.

    Times come from the relay's own stamps: kernel receive time in, ``sendto`` time out.
    """

    packets: int = 0
    """RTP packets that entered the link (the figures below are about these)."""
    delivered: int = 0
    """RTP copies released (duplicates included)."""
    lost: int = 0
    lost_random: int = 0
    lost_burst: int = 0
    """Dropped by the Gilbert-Elliott model."""
    lost_queue: int = 0
    """Tail-dropped by the bandwidth cap's full queue."""
    duplicated: int = 0
    reordered: int = 0
    """Released after a packet with a later sequence number."""
    delay_mean_ms: float | None = None
    delay_p50_ms: float | None = None
    delay_p99_ms: float | None = None
    delay_max_ms: float | None = None
    queue_delay_max_ms: float | None = None
    """Longest wait in the bandwidth cap's queue (part of the delay above)."""
    jitter_ms: float | None = None
    """RFC 3550 interarrival jitter of the released stream (what a receiver sees)."""
    jitter_in_ms: float | None = None
    """RFC 3550 jitter of the stream as it entered (what the sender already had)."""
    burst_lengths: tuple[tuple[int, int], ...] = ()
    """(run of consecutive lost packets, how many such runs)."""
    release_late_p99_ms: float | None = None
    """How far behind its schedule the relay released packets: its own error."""
    in_flight: int = 0
    """Packets still held when the figures were taken (left out of them)."""
    other_packets: int = 0
    """STUN, DTLS and RTCP packets through the same link (same impairment)."""
    other_lost: int = 0
    trace: tuple[tuple[int, int, int | None], ...] = ()
    """Per RTP packet of the main stream: (sequence number, kernel arrival at the relay,
    release), call-clock ns; release ``None`` when dropped; a duplicate has two rows."""


@record
class NetworkApplied:
    """The impairment a call actually got, next to the profile it asked for."""

    profile: NetworkProfile
    up: LinkApplied
    down: LinkApplied

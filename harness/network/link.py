"""One direction of the emulated network: what happens to each packet, and when.

Pure (no sockets, no clock of its own): the relay hands it each packet's kernel
arrival time and size and gets back its fate and release time(s), so the model is
tested on its own and a run with the same seed makes the same decisions.

Stages, in order (docs/network.md):

1. **random loss** (Bernoulli ``loss``), then **burst loss**: a Gilbert-Elliott chain
   that steps once per packet (good -> bad with ``ge_p``, bad -> good with ``ge_r``)
   and loses a packet in the bad state with ``ge_loss``;
2. **duplication** (``duplicate``): a second copy, with its own jitter;
3. **bandwidth cap**: a token bucket (``rate_kbps``, depth ``burst_bytes``) with a FIFO
   queue in front of it; a packet waits for tokens (queueing delay) and is tail-dropped
   when the queue already holds ``queue_ms`` worth of bytes at the capped rate. Sizes
   count the IP and UDP headers (28 bytes) on top of the datagram;
4. **delay + jitter**: ``delay_ms`` plus an exponentially distributed extra delay of
   mean ``jitter_ms`` (queueing-like: never negative, a long tail). For independent
   draws, E|X_i - X_(i-1)| equals the mean, so a receiver's RFC 3550 jitter comes out
   near ``jitter_ms``. Packets overtake each other when their draws say so, unless
   ``reorder`` is off: then a packet is never released before the one ahead of it.

Media (RTP) and control (STUN, DTLS, RTCP) packets draw from separate seeded streams,
six draws per packet whatever happens to it, so the fate of the n-th media packet
depends only on the seed, the call and n: a run repeats exactly.
"""

from __future__ import annotations

import math
import random
from collections import deque
from dataclasses import dataclass
from enum import StrEnum

from harness.records import LinkProfile

IP_UDP_OVERHEAD = 28
"""IPv4 + UDP header bytes, counted against a bandwidth cap."""


class Fate(StrEnum):
    DELIVERED = "delivered"
    LOST_RANDOM = "lost_random"
    LOST_BURST = "lost_burst"
    LOST_QUEUE = "lost_queue"


@dataclass(frozen=True, slots=True)
class Decision:
    fate: Fate
    releases: tuple[int, ...]
    """Release times (CLOCK_MONOTONIC ns): none if lost, two if duplicated."""
    queue_delay_ns: int = 0
    """Time the (first) copy waited for the bandwidth cap."""


class _Draws:
    """One seeded stream of uniform variates and the Gilbert-Elliott state it drives."""

    def __init__(self, seed_material: str) -> None:
        self.rng = random.Random(seed_material)
        self.bad = False

    def six(self) -> tuple[float, float, float, float, float, float]:
        r = self.rng.random
        return r(), r(), r(), r(), r(), r()


class TokenBucket:
    """A FIFO queue in front of a token bucket; ``None`` from ``depart`` is a tail drop."""

    def __init__(self, rate_kbps: float, burst_bytes: int, queue_ms: float) -> None:
        self.bytes_per_ns = rate_kbps * 1000.0 / 8.0 / 1e9
        self.burst = float(burst_bytes)
        self.limit = rate_kbps * 1000.0 / 8.0 * queue_ms / 1000.0
        self.tokens = self.burst
        self.tokens_at: int | None = None
        self.last_departure = 0
        self._queued: deque[tuple[int, int]] = deque()
        self._queued_bytes = 0

    def depart(self, arrival_ns: int, size: int) -> int | None:
        while self._queued and self._queued[0][0] <= arrival_ns:
            self._queued_bytes -= self._queued.popleft()[1]
        if self._queued_bytes + size > self.limit:
            return None
        start = max(arrival_ns, self.last_departure)
        refill = 0 if self.tokens_at is None else start - self.tokens_at
        tokens = min(self.burst, self.tokens + refill * self.bytes_per_ns)
        if tokens >= size:
            departure, tokens = start, tokens - size
        else:
            departure, tokens = start + math.ceil((size - tokens) / self.bytes_per_ns), 0.0
        self.tokens, self.tokens_at, self.last_departure = tokens, departure, departure
        if departure > arrival_ns:
            self._queued.append((departure, size))
            self._queued_bytes += size
        return departure


class LinkModel:
    """Fate and release time of each packet entering one direction of the path."""

    def __init__(self, link: LinkProfile, seed_material: str) -> None:
        self.link = link
        self._media = _Draws(f"{seed_material}:media")
        self._control = _Draws(f"{seed_material}:control")
        self._bucket = (TokenBucket(link.rate_kbps, link.burst_bytes, link.queue_ms)
                        if link.rate_kbps is not None else None)
        self._last_release = 0

    def decide(self, arrival_ns: int, size: int, media: bool) -> Decision:
        link = self.link
        draws = self._media if media else self._control
        u_loss, u_ge, u_ge_loss, u_dup, u_j1, u_j2 = draws.six()
        if link.ge_p > 0:
            draws.bad = (u_ge >= link.ge_r) if draws.bad else (u_ge < link.ge_p)
        if u_loss < link.loss:
            return Decision(fate=Fate.LOST_RANDOM, releases=())
        if draws.bad and u_ge_loss < link.ge_loss:
            return Decision(fate=Fate.LOST_BURST, releases=())
        copies = (u_j1, u_j2) if u_dup < link.duplicate else (u_j1,)
        releases: list[int] = []
        queue_delay = 0
        for i, u_jitter in enumerate(copies):
            departure = arrival_ns
            if self._bucket is not None:
                departed = self._bucket.depart(arrival_ns, size + IP_UDP_OVERHEAD)
                if departed is None:
                    continue
                departure = departed
                if i == 0 or not releases:
                    queue_delay = departure - arrival_ns
            extra = -link.jitter_ms * math.log1p(-u_jitter) if link.jitter_ms > 0 else 0.0
            release = departure + round((link.delay_ms + extra) * 1e6)
            if not link.reorder:
                release = max(release, self._last_release)
            self._last_release = max(self._last_release, release)
            releases.append(release)
        if not releases:
            return Decision(fate=Fate.LOST_QUEUE, releases=())
        return Decision(fate=Fate.DELIVERED, releases=tuple(releases), queue_delay_ns=queue_delay)


# ------------------------------------------------------------------ what to expect


def _ge_chain(link: LinkProfile) -> tuple[tuple[float, float], tuple[tuple[float, float], tuple[float, float]]]:
    """Stationary (good, bad) probabilities and the transition matrix of the chain."""
    if link.ge_p <= 0:
        return (1.0, 0.0), ((1.0, 0.0), (0.0, 1.0))
    bad = link.ge_p / (link.ge_p + link.ge_r)
    return (1.0 - bad, bad), ((1.0 - link.ge_p, link.ge_p), (link.ge_r, 1.0 - link.ge_r))


def _loss_given_state(link: LinkProfile) -> tuple[float, float]:
    keep = 1.0 - link.loss
    return link.loss, 1.0 - keep * (1.0 - link.ge_loss)


def expected_loss(link: LinkProfile) -> float:
    """Long-run fraction of packets lost to random and burst loss (not the queue)."""
    pi, _ = _ge_chain(link)
    q = _loss_given_state(link)
    return pi[0] * q[0] + pi[1] * q[1]


def expected_mean_burst(link: LinkProfile) -> float:
    """Long-run mean length of a run of consecutive lost packets (random + burst loss).

    Mean run = P(lost) / P(lost and the previous packet not lost); both from the
    stationary chain, so random loss on top of the bursts is accounted for exactly.
    """
    pi, step = _ge_chain(link)
    q = _loss_given_state(link)
    lost = expected_loss(link)
    both = sum(pi[s] * step[s][t] * q[s] * q[t] for s in (0, 1) for t in (0, 1))
    starts = lost - both
    return lost / starts if starts > 0 else math.inf

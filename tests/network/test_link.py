"""The per-direction model on its own (no sockets): seeding, each stage, the expectations.

The statistical checks against the model's own formulas run through the real relay in
``test_relay.py``; here each stage is pinned with inputs whose right answer is exact or
whose sampling error is tiny (hundreds of thousands of draws).
"""

from __future__ import annotations

import itertools
import math
import statistics

import pytest

from harness.network.link import (
    IP_UDP_OVERHEAD,
    Fate,
    LinkModel,
    TokenBucket,
    expected_loss,
    expected_mean_burst,
)
from harness.records import LinkProfile

MS = 1_000_000


def _run(link: LinkProfile, n: int, seed: str = "s", spacing_ns: int = 20 * MS, size: int = 180) -> list:  # type: ignore[type-arg]
    model = LinkModel(link, seed)
    return [model.decide(i * spacing_ns, size, media=True) for i in range(n)]


def test_same_seed_same_fates_and_control_packets_do_not_shift_media() -> None:
    link = LinkProfile(loss=0.1, jitter_ms=20.0, ge_p=0.05, ge_r=0.3, duplicate=0.05)
    a = _run(link, 2000)
    model = LinkModel(link, "s")
    b = []
    for i in range(2000):
        if i % 7 == 0:  # STUN/RTCP interleaved: drawn from their own stream
            model.decide(i * 20 * MS, 60, media=False)
        b.append(model.decide(i * 20 * MS, 180, media=True))
    assert a == b
    assert _run(link, 2000, seed="other") != a


def test_random_loss_rate() -> None:
    fates = [d.fate for d in _run(LinkProfile(loss=0.05), 100_000)]
    assert fates.count(Fate.LOST_RANDOM) / len(fates) == pytest.approx(0.05, abs=0.003)


def test_gilbert_elliott_matches_its_stationary_figures() -> None:
    link = LinkProfile(loss=0.01, ge_p=0.02, ge_r=0.25, ge_loss=0.8)
    lost = [not d.releases for d in _run(link, 120_000)]
    runs, run = [], 0
    for x in lost:
        if x:
            run += 1
        elif run:
            runs.append(run)
            run = 0
    assert sum(lost) / len(lost) == pytest.approx(expected_loss(link), rel=0.06)
    assert statistics.fmean(runs) == pytest.approx(expected_mean_burst(link), rel=0.06)
    # classic Gilbert (everything lost in the bad state, nothing else): mean burst 1/r
    assert expected_mean_burst(LinkProfile(ge_p=0.02, ge_r=0.25)) == pytest.approx(4.0)
    assert expected_loss(LinkProfile(ge_p=0.02, ge_r=0.25)) == pytest.approx(0.02 / 0.27)
    assert expected_mean_burst(LinkProfile(loss=0.05)) == pytest.approx(1 / 0.95)


def test_delay_and_exponential_jitter() -> None:
    link = LinkProfile(delay_ms=40.0, jitter_ms=30.0)
    decisions = _run(link, 100_000)
    extra = [(d.releases[0] - i * 20 * MS) / MS - 40.0 for i, d in enumerate(decisions)]
    assert min(extra) >= 0.0
    assert statistics.fmean(extra) == pytest.approx(30.0, rel=0.03)
    # for independent exponential draws E|X_i - X_(i-1)| is the mean: RFC 3550 jitter ~ jitter_ms
    steps = [abs(b - a) for a, b in itertools.pairwise(extra)]
    assert statistics.fmean(steps) == pytest.approx(30.0, rel=0.03)
    releases = [d.releases[0] for d in decisions]
    assert any(b < a for a, b in itertools.pairwise(releases))  # reordering follows


def test_reorder_off_releases_in_order() -> None:
    decisions = _run(LinkProfile(delay_ms=10.0, jitter_ms=30.0, reorder=False), 20_000)
    releases = [d.releases[0] for d in decisions]
    assert releases == sorted(releases)


def test_duplication() -> None:
    decisions = _run(LinkProfile(duplicate=0.1, jitter_ms=5.0), 50_000)
    twice = [d for d in decisions if len(d.releases) == 2]
    assert len(twice) / len(decisions) == pytest.approx(0.1, abs=0.006)
    assert any(d.releases[0] != d.releases[1] for d in twice)  # each copy has its own jitter


def test_token_bucket_queues_then_tail_drops() -> None:
    """50 packets/s of 200 bytes (228 on the wire, 91.2 kbit/s) into a 48 kbit/s cap.

    Tokens refill at 6 bytes/ms, so after the bucket's 1500 bytes are spent each packet
    waits 228/6 - 20 = 18 ms longer than the one before: linear queueing delay until
    the queue holds 200 ms (1200 bytes), then tail drops keep it there and the loss
    settles at 1 - 48/91.2 = 47 %.
    """
    link = LinkProfile(rate_kbps=48.0, burst_bytes=1500, queue_ms=200.0)
    decisions = _run(link, 3000, size=200)
    queue = [d.queue_delay_ns / MS for d in decisions]
    first_wait = next(i for i, q in enumerate(queue) if q > 0)
    first_drop = next(i for i, d in enumerate(decisions) if d.fate is Fate.LOST_QUEUE)
    assert first_wait > 6 and first_drop - first_wait > 8
    growth = [b - a for a, b in zip(queue[first_wait:first_drop], queue[first_wait + 1:first_drop], strict=False)]
    assert all(g == pytest.approx((200 + IP_UDP_OVERHEAD) / 6.0 - 20.0, abs=0.01) for g in growth)
    assert max(queue) <= 200.0 + (200 + IP_UDP_OVERHEAD) / 6.0
    assert queue[first_drop - 1] >= 200.0 - 2 * (200 + IP_UDP_OVERHEAD) / 6.0
    tail = decisions[first_drop:]
    lost = sum(d.fate is Fate.LOST_QUEUE for d in tail) / len(tail)
    assert lost == pytest.approx(1 - 48.0 / 91.2, abs=0.01)


def test_token_bucket_passes_a_stream_below_the_cap_untouched() -> None:
    bucket = TokenBucket(rate_kbps=100.0, burst_bytes=1500, queue_ms=100.0)
    departures = [bucket.depart(i * 20 * MS, 228) for i in range(1000)]
    assert departures == [i * 20 * MS for i in range(1000)]


def test_infinite_burst_when_every_packet_is_lost() -> None:
    assert expected_mean_burst(LinkProfile(loss=1.0)) == math.inf

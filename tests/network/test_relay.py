"""The relay's statistics against a receiver the test controls (synthetic RTP on loopback).

These are the statistical checks of issue 14, measured on the relay itself with a
synthetic packet stream (``relay_support``) instead of real calls: thousands of packets
take seconds here instead of minutes of audio. The receiver knows every packet sent and
computes loss and RFC 3550 jitter with the reference agent's own ``ReceivedStream``. The
real-call agreement with the agent's log is in ``tests/callers/test_network_calls.py``.
Tolerances are the issue's: random loss 5 +- 1.5 % over >= 2,000 packets, mean burst
length within 20 % of the Gilbert-Elliott model's; the relay's own figures must agree
exactly with what the receiver counted.
"""

from __future__ import annotations

import itertools
import statistics

import pytest
from relay_support import loss_runs, run_stream

from harness.network.link import expected_mean_burst
from harness.network.profiles import parse_profile

pytestmark = pytest.mark.realclock  # asserts times on the real clock: never niced (Makefile)


def test_random_uplink_loss_is_five_percent_and_the_applied_figures_agree() -> None:
    result = run_stream("up.loss=5%", packets=4000, pps=1000)
    got = result.received
    lost = result.sent - len(set(got.seqs))
    print(f"sent {result.sent}, lost {lost} ({lost / result.sent:.2%}); applied {result.up.lost}")
    assert result.kernel_stamps
    assert lost / result.sent == pytest.approx(0.05, abs=0.015)
    assert result.up.packets == result.sent and result.up.in_flight == 0
    assert result.up.lost == result.up.lost_random == lost
    assert result.up.delivered == len(got.seqs)
    stats = got.stream.stats()  # the agent's own count: sequence gaps between first and last
    first, last = min(got.seqs), max(got.seqs)
    assert stats.lost == sum(1 for seq in range(first, last + 1) if seq not in set(got.seqs))
    assert result.down.packets == 0  # nothing came back


@pytest.mark.parametrize("profile", ["ge_p=5%,ge_r=30%", "loss=1%,ge_p=3%,ge_r=40%,ge_loss=80%"])
def test_gilbert_elliott_mean_burst_matches_the_model(profile: str) -> None:
    result = run_stream(profile, packets=6000, pps=2000)
    runs = loss_runs(result.received.seqs, result.sent)
    model = expected_mean_burst(parse_profile(profile).up)
    observed = statistics.fmean(runs)
    print(f"{profile}: {len(runs)} bursts, mean {observed:.2f} packets, model {model:.2f}")
    assert len(runs) > 150
    assert observed == pytest.approx(model, rel=0.2)
    histogram = {length: runs.count(length) for length in set(runs)}
    assert dict(result.up.burst_lengths) == histogram  # the relay's histogram is what arrived


def test_jitter_the_receiver_sees_is_what_the_relay_applied() -> None:
    """delay 20 ms + exponential jitter of mean 30 ms, packets free to reorder.

    The receiver's RFC 3550 jitter (agent code, kernel arrival stamps) and the relay's
    (its own send stamps) are two measurements of the same packets: within 10 % + 1 ms.
    Against the profile, loosely (the distribution itself is pinned on 100,000 draws in
    test_link.py; here 300 packets, the standard error of each mean ~6 %, plus whatever
    a busy machine adds to a release): the mean extra delay and the mean |D| of
    consecutive packets are both 30 ms within 25 %.
    """
    result = run_stream("delay=20ms,jitter=30ms", packets=300, pps=50)
    receiver_jitter = result.received.stream.stats().jitter_ms
    applied = result.up
    assert applied.jitter_ms is not None and applied.delay_mean_ms is not None
    print(f"jitter: receiver {receiver_jitter:.2f} ms, relay {applied.jitter_ms:.2f} ms; "
          f"delay mean {applied.delay_mean_ms:.1f} ms; reordered {applied.reordered}; "
          f"release late p99 {applied.release_late_p99_ms:.2f} ms")
    assert receiver_jitter == pytest.approx(applied.jitter_ms, rel=0.1, abs=1.0)
    assert applied.delay_mean_ms - 20.0 == pytest.approx(30.0, rel=0.25)
    delays = [(release - arrival) / 1e6 for _, arrival, release in applied.trace if release is not None]
    steps = [abs(b - a) for a, b in itertools.pairwise(delays)]
    assert statistics.fmean(steps) == pytest.approx(30.0, rel=0.25)
    assert applied.reordered > 0 and applied.lost == 0
    one_way = [ns / 1e6 for ns in result.received.one_way_ns]
    assert min(one_way) >= 19.0  # the floor holds


def test_a_bandwidth_cap_below_the_stream_queues_then_drops() -> None:
    """RTP packets of 212 bytes at 50/s (240 bytes, 96 kbit/s as IP packets) into a
    48 kbit/s cap with a 200 ms queue. Once the bucket's 1500 bytes are spent, packets
    leave one per 40 ms of tokens (the receiver sees them 40 ms apart, whatever the
    sender's own timing), so the one-way delay grows ~20 ms a packet; nothing is lost
    until the queue holds 200 ms, then half the packets are (1 - 48/96)."""
    result = run_stream("rate=48kbit,queue=200ms,burst=1500", packets=150, pps=50, payload_bytes=200)
    got = result.received
    one_way = [ns / 1e6 for ns in got.one_way_ns]
    first_missing = next(seq for seq in range(result.sent) if seq not in set(got.seqs))
    first_queued = next(i for i, ms in enumerate(one_way) if ms > 5.0)
    queued = range(first_queued, first_missing)
    gaps = [(got.arrival_ns[i + 1] - got.arrival_ns[i]) / 1e6 for i in queued[:-1]]
    print(f"one-way ms before the first drop: {[round(x) for x in one_way[:first_missing]]}; "
          f"receiver gaps while queued {[round(g) for g in gaps]}; first drop at packet {first_missing}")
    assert len(queued) >= 6
    assert statistics.median(gaps) == pytest.approx(40.0, abs=4.0)  # 4 ms: a loaded machine's wake-ups
    assert one_way[first_missing - 1] - one_way[first_queued] >= 100.0  # the delay grew
    assert max(one_way) < 200 + 40 + 10
    tail = range(first_missing, result.sent)
    tail_loss = sum(1 for seq in tail if seq not in set(got.seqs)) / len(tail)
    assert tail_loss == pytest.approx(0.5, abs=0.08)
    assert result.up.lost == result.up.lost_queue == result.sent - len(set(got.seqs))
    assert result.up.queue_delay_max_ms is not None and 150 < result.up.queue_delay_max_ms <= 200 + 40


def test_a_remote_endpoints_ports_listen_on_every_interface_and_pass_everything() -> None:
    """With no impairment every packet arrives, in order, and the figures say so; the
    endpoint-facing port of a remote endpoint is bound on 0.0.0.0 (here reached over
    loopback, so the traffic still stays on this host)."""
    result = run_stream("clean", packets=200, pps=500, local_endpoint=False)
    assert result.received.seqs == list(range(200))
    up = result.up
    assert (up.packets, up.delivered, up.lost, up.reordered, up.in_flight) == (200, 200, 0, 0, 0)
    assert up.delay_p50_ms is not None and up.delay_p50_ms < 5.0

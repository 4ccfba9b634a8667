"""Candidate rewriting: only the relay's addresses survive, defaults follow, rates are read."""

from __future__ import annotations

from harness.network.sdp import candidates, clock_rates, default_addresses, relayable, rewrite

OFFER = "\r\n".join([
    "v=0",
    "o=- 1 1 IN IP4 0.0.0.0",
    "s=-",
    "t=0 0",
    "a=group:BUNDLE 0 1",
    "m=audio 50000 UDP/TLS/RTP/SAVPF 111 0",
    "c=IN IP4 10.0.0.5",
    "a=rtpmap:111 opus/48000/2",
    "a=rtpmap:0 PCMU/8000",
    "a=candidate:1 1 udp 2130706431 10.0.0.5 50000 typ host",
    "a=candidate:2 1 udp 2130706431 127.0.0.1 50001 typ host generation 0",
    "a=candidate:3 1 udp 1694498815 203.0.113.7 61000 typ srflx raddr 10.0.0.5 rport 50000",
    "a=candidate:4 1 tcp 1518280447 10.0.0.5 9 typ host tcptype active",
    "a=candidate:5 1 udp 2122262783 fd00::5 50002 typ host",
    "a=candidate:6 1 udp 2122262783 3b1c.local 50003 typ host",
    "a=end-of-candidates",
    "m=application 50000 DTLS/SCTP 5000",
    "c=IN IP4 10.0.0.5",
    "a=candidate:1 1 udp 2130706431 10.0.0.5 50000 typ host",
    "",
])


def test_only_ipv4_udp_host_candidates_of_the_caller_are_relayable() -> None:
    assert relayable(OFFER, host_only=True) == [("10.0.0.5", 50000), ("127.0.0.1", 50001)]
    assert relayable(OFFER, host_only=False) == [("10.0.0.5", 50000), ("127.0.0.1", 50001), ("203.0.113.7", 61000)]


def test_rewrite_keeps_only_mapped_candidates_and_moves_the_defaults() -> None:
    mapping = {("10.0.0.5", 50000): ("10.0.0.5", 40000), ("127.0.0.1", 50001): ("127.0.0.1", 40001)}
    out = rewrite(OFFER, mapping)
    assert [(c.address, c.port, c.type) for c in candidates(out)] == [
        ("10.0.0.5", 40000, "host"), ("127.0.0.1", 40001, "host"), ("10.0.0.5", 40000, "host")]
    assert "a=candidate:2 1 udp 2130706431 127.0.0.1 40001 typ host generation 0" in out
    assert "m=audio 40000 UDP/TLS/RTP/SAVPF 111 0" in out and "m=application 40000 DTLS/SCTP 5000" in out
    assert "raddr" not in out and "tcp" not in out and "fd00" not in out and ".local" not in out
    assert out.endswith("\r\n") and "\n" not in out.replace("\r\n", "")
    assert default_addresses(out) == [("10.0.0.5", 40000)]


def test_a_far_end_without_candidates_is_reached_at_its_default_address() -> None:
    answer = "v=0\r\ns=-\r\nc=IN IP4 198.51.100.9\r\nt=0 0\r\nm=audio 7000 RTP/SAVPF 111\r\na=rtpmap:111 opus/48000/2\r\n"
    assert relayable(answer, host_only=False) == [("198.51.100.9", 7000)]
    out = rewrite(answer, {("198.51.100.9", 7000): ("127.0.0.1", 41000)})
    assert "m=audio 41000 RTP/SAVPF 111\r\nc=IN IP4 127.0.0.1\r\n" in out
    assert relayable(out, host_only=False) == [("127.0.0.1", 41000)]


def test_srflx_candidates_of_the_far_end_become_host_candidates_at_the_relay() -> None:
    out = rewrite(OFFER, {("203.0.113.7", 61000): ("127.0.0.1", 42000)})
    assert [(c.address, c.port, c.type) for c in candidates(out)] == [("127.0.0.1", 42000, "host")]


def test_clock_rates() -> None:
    assert clock_rates(OFFER) == {111: 48000, 0: 8000}

"""``network_path``: the one line that says whether a call's media went over loopback,
and the aiortc caller's reading of the pair it is made from."""

from __future__ import annotations

from types import SimpleNamespace

import aioice.ice
import pytest
from aioice.candidate import Candidate

from harness.webrtc.path import LOOPBACK, NON_LOOPBACK, host_of, network_path
from harness.webrtc.selected import selected_pair_info

LOCAL_URL = "http://127.0.0.1:8765/offer"


@pytest.mark.parametrize(("address", "host"), [
    ("127.0.0.1:5000", "127.0.0.1"),
    ("::1:5000", "::1"),
    ("[::1]:5000", "::1"),
    ("192.0.2.2", "192.0.2.2"),
    ("abc.local:61000", "abc.local"),
    (None, None),
    ("", None),
])
def test_host_of_drops_the_port(address: str | None, host: str | None) -> None:
    assert host_of(address) == host


@pytest.mark.parametrize(("local", "remote"), [
    ("127.0.0.1:5000", "127.0.0.1:6000"),
    ("::1:5000", "[::1]:6000"),
    ("127.0.0.1:5000", "127.0.0.2:6000"),  # all of 127/8 is loopback
])
def test_both_ends_on_loopback_is_loopback(local: str, remote: str) -> None:
    assert network_path(local, remote, endpoint_url=LOCAL_URL) == LOOPBACK


def test_a_loopback_endpoint_reached_at_an_interface_address_says_so() -> None:
    # The case: Chromium offered 127.0.0.1, a plain aiortc server 192.0.2.2.
    path = network_path("127.0.0.1:5000", "192.0.2.2:42000", endpoint_url=LOCAL_URL)
    assert path == f"{NON_LOOPBACK}: 127.0.0.1 -> 192.0.2.2 (the endpoint URL is loopback, its media address is not)"
    localhost = network_path("192.0.2.2:5000", "192.0.2.2:42000", endpoint_url="http://localhost:8765/")
    assert localhost.startswith(f"{NON_LOOPBACK}: 192.0.2.2 -> 192.0.2.2 (the endpoint URL is loopback")


def test_a_remote_endpoint_names_both_hosts_and_a_turn_relay() -> None:
    url = "https://agent.example.com/offer"
    assert network_path("10.0.0.5:5000", "203.0.113.7:3478", endpoint_url=url) == \
        f"{NON_LOOPBACK}: 10.0.0.5 -> 203.0.113.7"
    assert network_path("10.0.0.5:5000", "203.0.113.7:3478", endpoint_url=url, relayed=True) == \
        f"{NON_LOOPBACK}: 10.0.0.5 -> 203.0.113.7 (through a TURN relay)"


def test_one_loopback_end_is_not_loopback() -> None:
    assert network_path("10.0.0.5:5000", "127.0.0.1:6000", endpoint_url=LOCAL_URL).startswith(NON_LOOPBACK)


@pytest.mark.parametrize(("local", "remote"), [(None, "127.0.0.1:6000"), ("127.0.0.1:5000", None)])
def test_a_missing_address_is_unknown_not_loopback(local: str | None, remote: str | None) -> None:
    assert network_path(local, remote, endpoint_url=LOCAL_URL).startswith("unknown: ")


def _aioice_pair(local: tuple[str, int, str], remote: tuple[str, int, str]) -> aioice.ice.CandidatePair:
    def candidate(host: str, port: int, kind: str) -> Candidate:
        return Candidate(foundation="1", component=1, transport="udp", priority=1, host=host, port=port, type=kind)

    protocol = SimpleNamespace(local_candidate=candidate(*local))
    return aioice.ice.CandidatePair(protocol, candidate(*remote))  # type: ignore[arg-type]


def test_the_aiortc_callers_pair_is_read_from_aioices_nominated_pair() -> None:
    nominated = {1: _aioice_pair(("127.0.0.1", 5000, "host"), ("192.0.2.2", 42000, "prflx"))}
    transport = SimpleNamespace(_connection=SimpleNamespace(_nominated=nominated))
    info = selected_pair_info(transport, endpoint_url=LOCAL_URL)
    assert info == {
        "ice_pair": {"local": "127.0.0.1:5000", "local_type": "host",
                     "remote": "192.0.2.2:42000", "remote_type": "prflx"},
        "network_path": network_path("127.0.0.1:5000", "192.0.2.2:42000", endpoint_url=LOCAL_URL),
    }
    assert str(info["network_path"]).startswith(NON_LOOPBACK)


@pytest.mark.parametrize("transport", [
    SimpleNamespace(_connection=SimpleNamespace(_nominated={})),  # not connected, or closed
    SimpleNamespace(_connection=SimpleNamespace()),  # another aioice: no pair, no harm
    SimpleNamespace(_connection=SimpleNamespace(_nominated={1: object()})),
    None,
])
def test_no_nominated_pair_is_no_pair(transport: object) -> None:
    assert selected_pair_info(transport, endpoint_url=LOCAL_URL) is None

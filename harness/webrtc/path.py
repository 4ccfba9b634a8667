"""Where a call's media went: over loopback, or over a real interface address.

A latency measured over loopback has nothing between the two ends but the kernel; over
an interface address an impairment relay, a firewall rule or a NIC may sit in the path.
Both callers record the selected ICE pair and this one-line description of it in
``caller_info`` (``ice_pair``, ``network_path``), so a reader knows which of the two a
call's numbers came from without decoding addresses. A loopback endpoint reached at
another address (an aiortc server offers no 127.0.0.1 candidate, only its interface
addresses) is a fact about the endpoint, recorded here; it does not fail the call.

Pure: addresses in, text out (the callers read the pair, each in its own way).
"""

from __future__ import annotations

from harness.records import JSONValue
from harness.webrtc.ice import is_loopback_host, is_loopback_url

LOOPBACK = "loopback"
"""Both ends of the selected pair are loopback addresses."""
NON_LOOPBACK = "non-loopback"
"""The first word of every other description."""


def host_of(address: str | None) -> str | None:
    """The host of ``address:port`` (IPv6 with or without brackets); ``None`` stays ``None``."""
    if not address:
        return None
    host, sep, port = address.rpartition(":")
    if not sep or not port.isdigit():
        return address.strip("[]")
    return host.strip("[]")


def network_path(local: str | None, remote: str | None, *, endpoint_url: str,
                 relayed: bool = False) -> str:
    """One line on the selected pair ``local`` -> ``remote`` (each ``address:port``).

    ``"loopback"`` when both ends are loopback; otherwise it starts ``"non-loopback: "``
    and names both hosts, says when the endpoint's URL is loopback though its media
    address is not (the case a reader would not expect), and when either candidate is a
    TURN relay (``relayed``). Starts ``"unknown: "`` when an address is missing.
    """
    local_host, remote_host = host_of(local), host_of(remote)
    if local_host is None or remote_host is None:
        return f"unknown: the selected pair's addresses were not reported ({local} -> {remote})"
    if is_loopback_host(local_host) and is_loopback_host(remote_host):
        return LOOPBACK
    notes = []
    if is_loopback_url(endpoint_url):
        notes.append("the endpoint URL is loopback, its media address is not")
    if relayed:
        notes.append("through a TURN relay")
    said = f" ({'; '.join(notes)})" if notes else ""
    return f"{NON_LOOPBACK}: {local_host} -> {remote_host}{said}"


def pair_info(local: str | None, local_type: str | None, remote: str | None, remote_type: str | None,
              *, endpoint_url: str) -> dict[str, JSONValue]:
    """The ``caller_info`` entries both callers record for a selected pair: ``ice_pair``
    (addresses and candidate types as the caller read them) and ``network_path``."""
    return {
        "ice_pair": {"local": local, "local_type": local_type, "remote": remote, "remote_type": remote_type},
        "network_path": network_path(local, remote, endpoint_url=endpoint_url,
                                     relayed="relay" in (local_type, remote_type)),
    }


__all__ = ["LOOPBACK", "NON_LOOPBACK", "host_of", "is_loopback_host", "network_path", "pair_info"]

"""ICE set-up that works on loopback and never reaches outside the host by accident.

aioice drops 127.0.0.1 from its host candidates, so on a machine with only loopback a
local call has no candidate at all; and aiortc falls back to a public STUN server when
no ICE servers are configured. Calls to loopback endpoints therefore gather exactly one
host candidate, 127.0.0.1, and every peer connection gets an explicit server list.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from urllib.parse import urlsplit

import aioice.ice
from aiortc import RTCConfiguration, RTCIceServer

_loopback_only: ContextVar[bool] = ContextVar("voice_harness_loopback_only", default=False)
_original_get_host_addresses = aioice.ice.get_host_addresses


def _get_host_addresses(use_ipv4: bool, use_ipv6: bool) -> list[str]:
    if _loopback_only.get():
        return ["127.0.0.1"] if use_ipv4 else ["::1"]
    addresses: list[str] = _original_get_host_addresses(use_ipv4, use_ipv6)
    return addresses or ["127.0.0.1"]


def install() -> None:
    """Idempotently route aioice's host-address lookup through the loopback switch."""
    aioice.ice.get_host_addresses = _get_host_addresses


@contextmanager
def loopback_only(enabled: bool = True) -> Iterator[None]:
    """Within this block, ICE gathering offers only 127.0.0.1 (context-local)."""
    install()
    token = _loopback_only.set(enabled)
    try:
        yield
    finally:
        _loopback_only.reset(token)


def interface_addresses() -> list[str]:
    """This machine's addresses other than 127.0.0.1 and ::1 (IPv4 and global IPv6): what
    aioice offers by itself, outside ``loopback_only`` (empty with only loopback)."""
    return list(_original_get_host_addresses(True, True))


def is_loopback_host(host: str | None) -> bool:
    """``localhost`` or a loopback address (IPv4 or IPv6); a name is never guessed at."""
    if host is None:
        return False
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def is_loopback_url(url: str) -> bool:
    return is_loopback_host(urlsplit(url).hostname)


def rtc_configuration(ice_servers: list[str] | None = None) -> RTCConfiguration:
    """An explicit server list: aiortc would otherwise use a public STUN server."""
    return RTCConfiguration(iceServers=[RTCIceServer(u) for u in ice_servers or []])

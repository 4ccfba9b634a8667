"""A caller's ``RTCPeerConnection``, with everything CPU-heavy it needs made up front.

A caller worker's loop paces the other live calls' audio while a new call connects. Made
in the loop, a peer connection's key and certificate cost 10-15 ms of CPU on a busy
machine, and its DTLS context (OpenSSL 3's ``SSL_CTX_new`` and cipher-list parsing, in
aiortc's ``RTCCertificate._create_ssl_context``) more than 15 ms: seen as loop lag of
the other calls (``faulthandler`` caught the loop there in 2 of 2 lags over 15 ms at
``--concurrency 4``). So a caller builds the connection in a thread (``asyncio.to_thread``)
with ``new_peer_connection``, which also builds the DTLS context there; the connection's
DTLS transport takes that context when it starts instead of making its own.

It reaches into aiortc 1.x (the connection's certificate list, the module's SRTP profile
list); with another layout it leaves the connection as aiortc made it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from aiortc import RTCConfiguration, RTCPeerConnection, rtcdtlstransport


def new_peer_connection(configuration: RTCConfiguration | None = None) -> RTCPeerConnection:
    """A peer connection whose DTLS context is already made (call it off the loop)."""
    pc = RTCPeerConnection(configuration)
    profiles = getattr(rtcdtlstransport, "SRTP_PROFILES", None)
    certificates = getattr(pc, "_RTCPeerConnection__certificates", None)
    if profiles is None or not certificates:
        return pc
    for certificate in certificates:
        _prebuild_context(certificate, profiles)
    return pc


def _prebuild_context(certificate: Any, profiles: list[Any]) -> None:
    make: Callable[..., Any] = certificate._create_ssl_context
    ready = [make(srtp_profiles=profiles)]

    def create(srtp_profiles: list[Any]) -> Any:
        if ready and srtp_profiles is profiles:
            return ready.pop()  # once: a context belongs to one connection
        return make(srtp_profiles=srtp_profiles)

    certificate._create_ssl_context = create


__all__ = ["new_peer_connection"]

"""The ICE candidate pair an aiortc connection is using, read from aioice.

aiortc has no ``selectedCandidatePair`` and its ``getStats`` lists no candidate pairs,
so this reads aioice's private ``Connection._nominated`` (component -> the pair media is
sent on). Read it once media is connected: ``close()`` clears it. Where anything is not
as expected it returns ``None`` and the recording simply has no pair (the call is never
harmed); ``tests/webrtc/test_aiortc_internals.py`` says loudly when that would happen.
"""

from __future__ import annotations

from typing import Any

from harness.records import JSONValue
from harness.webrtc.path import pair_info

RTP_COMPONENT = 1


def _address(addr: Any) -> str | None:
    """``host:port``, written as the browser caller's page writes it (no brackets)."""
    try:
        host, port = addr[0], addr[1]
    except (TypeError, IndexError, KeyError):
        return None
    return f"{host}:{port}"


def selected_pair_info(ice_transport: Any, *, endpoint_url: str) -> dict[str, JSONValue] | None:
    """``ice_pair`` and ``network_path`` (``path.pair_info``) of ``ice_transport``
    (an aiortc ``RTCIceTransport``), or ``None`` when no pair is nominated."""
    nominated = getattr(getattr(ice_transport, "_connection", None), "_nominated", None)
    if not isinstance(nominated, dict) or not nominated:
        return None
    pair = nominated.get(RTP_COMPONENT) or next(iter(nominated.values()))
    try:
        local, remote = _address(pair.local_addr), _address(pair.remote_addr)
        local_type, remote_type = pair.local_candidate.type, pair.remote_candidate.type
    except AttributeError:
        return None
    return pair_info(local, str(local_type), remote, str(remote_type), endpoint_url=endpoint_url)


__all__ = ["selected_pair_info"]

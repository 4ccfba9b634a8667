"""The caller's peer connection comes with its DTLS context made (off the loop), once.

That the prebuilt context serves a real DTLS handshake is what every real-call test
does (tests/callers, tests/executors): a wrong context fails the call."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from aiortc import rtcdtlstransport
from OpenSSL import SSL

from harness.webrtc.peer import new_peer_connection


def _certificate(pc: Any) -> Any:
    return pc._RTCPeerConnection__certificates[0]


def test_the_dtls_context_is_made_with_the_connection_and_used_once(monkeypatch: pytest.MonkeyPatch) -> None:
    pc = new_peer_connection()
    made: list[object] = []
    real = SSL.Context

    def counting(method: int) -> SSL.Context:
        made.append(method)
        return real(method)

    monkeypatch.setattr(SSL, "Context", counting)
    certificate = _certificate(pc)
    first = certificate._create_ssl_context(srtp_profiles=rtcdtlstransport.SRTP_PROFILES)
    assert isinstance(first, real) and made == [], "the DTLS transport's start makes no context of its own"
    second = certificate._create_ssl_context(srtp_profiles=rtcdtlstransport.SRTP_PROFILES)
    assert second is not first and len(made) == 1, "a second connection start gets a new one"
    asyncio.run(pc.close())


def test_other_profiles_get_a_context_of_their_own() -> None:
    pc = new_peer_connection()
    profiles = list(rtcdtlstransport.SRTP_PROFILES[:1])
    context = _certificate(pc)._create_ssl_context(srtp_profiles=profiles)
    assert isinstance(context, SSL.Context)
    asyncio.run(pc.close())

"""The private parts of aiortc and aioice the harness patches, on the versions it was checked on.

The harness's timing rests on reaching into aiortc: kernel arrival stamps on the ICE
transport's sockets, RTP taps on the DTLS transport and the receiver, a DTLS context
built off the loop. Each of those sites falls back quietly when an attribute is missing
(a call still works, with worse timing), so a new aiortc could degrade every latency
without one error. pyproject pins aiortc and aioice to the release series below; this
test fails, loudly and with the list of what to check, when the installed version is
not one of them, when the pin admits an unchecked series, or when a patched part is no
longer where the harness expects it.

To move to a new release: read each part below in the new source, run this file and
``tests/callers/test_latency_truth.py`` (kernel stamps and taps against the agent's
truth), then add the series to VERIFIED and widen the pin in pyproject.toml.
"""

from __future__ import annotations

import asyncio
import importlib.metadata
import inspect
import socket
from typing import Any

import aioice.ice
import pytest
from aiortc import RTCPeerConnection, rtcdtlstransport
from aiortc.rtcrtpreceiver import StreamStatistics
from packaging.requirements import Requirement
from packaging.version import Version

VERIFIED: dict[str, tuple[str, ...]] = {"aiortc": ("1.16",), "aioice": ("0.13",)}
"""Release series (major.minor) whose internals were read and whose truth tests passed."""

PATCHED = """\
aiortc  RTCPeerConnection.__certificates, RTCCertificate._create_ssl_context(srtp_profiles=),
        rtcdtlstransport.SRTP_PROFILES                       harness/webrtc/peer.py
aiortc  RTCRtpSender._ssrc; RTCDtlsTransport._send_rtp        harness/webrtc/taps.py SendTap
aiortc  RTCRtpReceiver._handle_rtp_packet(packet, arrival_time_ms),
        RTCRtpReceiver.__remote_streams, rtcrtpreceiver.StreamStatistics   harness/webrtc/taps.py ReceiveTap
aiortc  RTCIceTransport._connection, ._recv                   harness/webrtc/arrivals.py
aioice  Connection._protocols, StunProtocol.transport         harness/webrtc/arrivals.py
aioice  Connection._nominated (component -> CandidatePair .local_addr/.remote_addr/
        .local_candidate/.remote_candidate)                  harness/webrtc/selected.py (read only)
aioice  ice.get_host_addresses(use_ipv4, use_ipv6)            harness/webrtc/ice.py
asyncio _SelectorDatagramTransport._sock/_sock_fd/_loop, loop._add_reader/_remove_reader
                                                              harness/webrtc/arrivals.py"""

HOW_TO_CHECK = (
    "The harness patches these private parts (read each in the new source):\n"
    f"{PATCHED}\n"
    "then run tests/webrtc/test_aiortc_internals.py and tests/callers/test_latency_truth.py; "
    "if they hold, add the series to VERIFIED in this file and widen the pin in pyproject.toml."
)


def _series(version: str) -> str:
    v = Version(version)
    return f"{v.major}.{v.minor}"


@pytest.mark.parametrize("dist", sorted(VERIFIED))
def test_the_installed_version_is_one_the_harness_was_checked_on(dist: str) -> None:
    installed = importlib.metadata.version(dist)
    assert _series(installed) in VERIFIED[dist], (
        f"{dist} {installed} is not a version voice-harness was checked against "
        f"(verified: {', '.join(VERIFIED[dist])}.x).\n{HOW_TO_CHECK}"
    )


@pytest.mark.parametrize("dist", sorted(VERIFIED))
def test_the_pin_admits_only_verified_series(dist: str) -> None:
    """The installed package's own requirement (wheel or editable): no unchecked release."""
    requirements = [Requirement(r) for r in importlib.metadata.requires("voice-harness") or []]
    pins = [r for r in requirements if r.name == dist and r.marker is None]
    assert len(pins) == 1, f"voice-harness must require {dist} directly, pinned; found {[str(r) for r in pins]}"
    spec = pins[0].specifier
    for series in VERIFIED[dist]:
        assert spec.contains(f"{series}.0"), f"the pin {spec} excludes the verified {dist} {series}"
    for series in VERIFIED[dist]:
        major, minor = (int(x) for x in series.split("."))
        for neighbour in (f"{major}.{minor + 1}.0", f"{major + 1}.0.0", f"{major}.{max(minor - 1, 0)}.99"):
            if _series(neighbour) in VERIFIED[dist]:
                continue
            assert not spec.contains(neighbour), (
                f"the pin {dist}{spec} admits {neighbour}, which nobody checked.\n{HOW_TO_CHECK}"
            )


def test_every_patched_internal_is_where_the_harness_expects_it() -> None:
    missing = asyncio.run(_missing_internals())
    assert not missing, (
        "aiortc/aioice internals the harness patches are gone or changed:\n  "
        + "\n  ".join(missing) + f"\n{HOW_TO_CHECK}"
    )


async def _missing_internals() -> list[str]:
    missing: list[str] = []

    def need(ok: bool, what: str) -> None:
        if not ok:
            missing.append(what)

    pc = RTCPeerConnection()
    try:
        transceiver = pc.addTransceiver("audio")
        sender, receiver = transceiver.sender, transceiver.receiver
        need(isinstance(getattr(rtcdtlstransport, "SRTP_PROFILES", None), list) and bool(rtcdtlstransport.SRTP_PROFILES),
             "aiortc.rtcdtlstransport.SRTP_PROFILES (a non-empty list)")
        certificates = getattr(pc, "_RTCPeerConnection__certificates", None)
        need(isinstance(certificates, list) and bool(certificates), "RTCPeerConnection.__certificates")
        for certificate in certificates or []:
            need(_accepts(getattr(certificate, "_create_ssl_context", None), "srtp_profiles"),
                 "RTCCertificate._create_ssl_context(srtp_profiles=...)")
        need(isinstance(getattr(sender, "_ssrc", None), int), "RTCRtpSender._ssrc (int)")
        need(inspect.iscoroutinefunction(getattr(sender.transport, "_send_rtp", None)),
             "RTCDtlsTransport._send_rtp (async)")
        handle = getattr(receiver, "_handle_rtp_packet", None)
        need(inspect.iscoroutinefunction(handle) and _accepts(handle, "packet", "arrival_time_ms"),
             "RTCRtpReceiver._handle_rtp_packet(packet, arrival_time_ms) (async)")
        need(isinstance(getattr(receiver, "_RTCRtpReceiver__remote_streams", None), dict),
             "RTCRtpReceiver.__remote_streams (dict)")
        need(callable(getattr(StreamStatistics(48000), "add", None)), "rtcrtpreceiver.StreamStatistics.add")
        ice_transport = receiver.transport.transport
        connection = getattr(ice_transport, "_connection", None)
        need(isinstance(getattr(connection, "_protocols", None), list), "aioice Connection._protocols (list)")
        need(inspect.iscoroutinefunction(getattr(ice_transport, "_recv", None)), "RTCIceTransport._recv (async)")
        need(isinstance(getattr(connection, "_nominated", None), dict), "aioice Connection._nominated (dict)")
        need(all(isinstance(getattr(aioice.ice.CandidatePair, name, None), property)
                 for name in ("local_addr", "remote_addr", "local_candidate")),
             "aioice CandidatePair.local_addr/.remote_addr/.local_candidate (properties)")
        need(_accepts(aioice.ice.get_host_addresses, "use_ipv4", "use_ipv6"),
             "aioice.ice.get_host_addresses(use_ipv4, use_ipv6)")
        need("transport" in inspect.getsource(aioice.ice.StunProtocol.connection_made),
             "aioice StunProtocol.connection_made sets .transport")
        missing += await _datagram_transport_internals()
    finally:
        await pc.close()
    return missing


async def _datagram_transport_internals() -> list[str]:
    """asyncio's selector datagram transport, as aioice's sockets use it (a loopback socket, no traffic)."""
    loop = asyncio.get_running_loop()
    transport, _ = await loop.create_datagram_endpoint(asyncio.DatagramProtocol, local_addr=("127.0.0.1", 0))
    try:
        t: Any = transport
        checks = {
            "transport._sock (socket)": isinstance(getattr(t, "_sock", None), socket.socket),
            "transport._sock_fd (int)": isinstance(getattr(t, "_sock_fd", None), int),
            "transport._loop._add_reader/_remove_reader": all(
                callable(getattr(getattr(t, "_loop", None), name, None)) for name in ("_add_reader", "_remove_reader")
            ),
        }
    finally:
        transport.close()
    return [f"asyncio {what}" for what, ok in checks.items() if not ok]


def _accepts(function: Any, *names: str) -> bool:
    if not callable(function):
        return False
    parameters = inspect.signature(function).parameters
    return all(name in parameters for name in names)

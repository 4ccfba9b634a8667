"""Read and rewrite the transport addresses in an SDP offer or answer (RFC 8839 candidates).

The relay is put on the media path by rewriting addresses in the signalling the harness
already carries: each ``a=candidate`` that survives is pointed at the relay port that
stands for it, and every other candidate is removed, so neither side can reach the
other except through the relay. What survives: UDP candidates with an IPv4 address
(IPv6, TCP and mDNS ``.local`` names are dropped); on the caller's side only ``host``
candidates (a server-reflexive address is a NAT's, the relay cannot stand in for it).
A media section's default address (``c=`` and the ``m=`` port) follows its candidate,
and stands in for one when the far end sent no candidates at all.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass

Address = tuple[str, int]

_CANDIDATE = re.compile(r"^a=candidate:(\S+) (\d+) (\S+) (\d+) (\S+) (\d+) typ (\S+)(.*)$", re.IGNORECASE)
_RTPMAP = re.compile(r"^a=rtpmap:(\d+) [^/]+/(\d+)")
_CONNECTION = re.compile(r"^c=IN IP4 (\S+)")
_MEDIA = re.compile(r"^m=(\S+) (\d+)( .*)$")


@dataclass(frozen=True, slots=True)
class Candidate:
    address: str
    port: int
    transport: str
    type: str

    @property
    def usable(self) -> bool:
        """UDP over IPv4 with a literal address: what the relay can stand in for."""
        if self.transport.lower() != "udp":
            return False
        try:
            return ipaddress.ip_address(self.address).version == 4
        except ValueError:
            return False


def _lines(sdp: str) -> tuple[list[str], str]:
    newline = "\r\n" if "\r\n" in sdp else "\n"
    return sdp.split(newline), newline


def _parse(line: str) -> Candidate | None:
    m = _CANDIDATE.match(line)
    if m is None:
        return None
    return Candidate(address=m.group(5), port=int(m.group(6)), transport=m.group(3), type=m.group(7).lower())


def candidates(sdp: str) -> list[Candidate]:
    return [c for c in (_parse(line) for line in _lines(sdp)[0]) if c is not None]


def default_addresses(sdp: str) -> list[Address]:
    """Each media section's default address (``c=`` + ``m=`` port), IPv4 and a real port."""
    out: list[Address] = []
    session_c: str | None = None
    media_port: int | None = None
    media_c: str | None = None

    def flush() -> None:
        address = media_c or session_c
        if media_port and address and address != "0.0.0.0" and (address, media_port) not in out:
            out.append((address, media_port))

    for line in _lines(sdp)[0]:
        if (m := _MEDIA.match(line)) is not None:
            if media_port is not None:
                flush()
            media_port, media_c = int(m.group(2)), None
        elif (c := _CONNECTION.match(line)) is not None:
            if media_port is None:
                session_c = c.group(1)
            else:
                media_c = c.group(1)
    if media_port is not None:
        flush()
    return out


def relayable(sdp: str, *, host_only: bool) -> list[Address]:
    """The distinct addresses of ``sdp`` the relay will stand in for, in order.

    Falls back to the media sections' default addresses when no candidate is usable
    (an endpoint that answers without ICE candidates)."""
    out: list[Address] = []
    for cand in candidates(sdp):
        if cand.usable and (cand.type == "host" or not host_only) and (cand.address, cand.port) not in out:
            out.append((cand.address, cand.port))
    if not out and not candidates(sdp):
        out = default_addresses(sdp)
    return out


def rewrite(sdp: str, mapping: dict[Address, Address]) -> str:
    """``sdp`` with every mapped address replaced and every other candidate removed.

    A kept candidate becomes ``typ host`` at its relay address (its ``raddr``/``rport``
    go: they described the far side's network, not the relay's).
    """
    lines, newline = _lines(sdp)
    out: list[str] = []
    for line in lines:
        cand = _parse(line)
        if cand is not None:
            target = mapping.get((cand.address, cand.port))
            if target is None:
                continue
            m = _CANDIDATE.match(line)
            assert m is not None
            rest = re.sub(r" raddr \S+ rport \d+", "", m.group(8))
            out.append(f"a=candidate:{m.group(1)} {m.group(2)} {m.group(3)} {m.group(4)} "
                       f"{target[0]} {target[1]} typ host{rest}")
            continue
        out.append(line)
    return newline.join(_rewrite_defaults(out, mapping))


def _rewrite_defaults(lines: list[str], mapping: dict[Address, Address]) -> list[str]:
    """Point ``c=`` and ``m=`` ports at the relay where they name a mapped address."""
    session_c = None
    sections: list[tuple[int, int | None]] = []  # (m= line index, media c= line index)
    for i, line in enumerate(lines):
        if _MEDIA.match(line):
            sections.append((i, None))
        elif (c := _CONNECTION.match(line)) is not None:
            if not sections:
                session_c = (i, c.group(1))
            else:
                sections[-1] = (sections[-1][0], i)
    for m_index, c_index in reversed(sections):  # back to front: an insertion moves nothing ahead
        m = _MEDIA.match(lines[m_index])
        assert m is not None
        if c_index is not None:
            c = _CONNECTION.match(lines[c_index])
            address = c.group(1) if c is not None else None
        else:
            address = session_c[1] if session_c is not None else None
        target = mapping.get((address, int(m.group(2)))) if address is not None else None
        if target is None:
            continue
        lines[m_index] = f"m={m.group(1)} {target[1]}{m.group(3)}"
        if c_index is not None:
            lines[c_index] = f"c=IN IP4 {target[0]}"
        else:
            lines.insert(m_index + 1, f"c=IN IP4 {target[0]}")
    return lines


def clock_rates(*sdps: str) -> dict[int, int]:
    """RTP clock rate per payload type, from ``a=rtpmap`` lines."""
    rates: dict[int, int] = {}
    for sdp in sdps:
        for line in _lines(sdp)[0]:
            if (m := _RTPMAP.match(line)) is not None:
                rates.setdefault(int(m.group(1)), int(m.group(2)))
    return rates

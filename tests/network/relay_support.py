"""A synthetic RTP stream through the real relay on loopback, and its receiver.

No WebRTC: a sender socket plays the caller, a receiver socket plays the endpoint, and
the relay sits between them exactly as in a call (``stand_in_for_caller`` /
``stand_in_for_endpoint``). The receiver is the ground truth the tests control: it
knows every packet that was sent, stamps arrivals with the kernel's receive time and
runs them through the same ``ReceivedStream`` the reference agent uses, so its loss and
RFC 3550 jitter are computed as the agent computes them.
"""

from __future__ import annotations

import asyncio
import socket
import struct
import time
from dataclasses import dataclass, field

from harness.network.profiles import parse_profile
from harness.network.relay import Relay
from harness.records import LinkApplied
from harness.webrtc.arrivals import ANCILLARY_SPACE, enable_kernel_timestamps, kernel_arrival_ns
from harness.webrtc.received import ReceivedStream
from harness.webrtc.taps import ArrivedPacket

SSRC = 0x1234ABCD
SAMPLES_PER_PACKET = 960


@dataclass
class Received:
    seqs: list[int] = field(default_factory=list)
    """Sequence numbers in arrival order (duplicates included)."""
    arrival_ns: list[int] = field(default_factory=list)
    one_way_ns: list[int] = field(default_factory=list)
    """Kernel arrival minus the send time carried in the payload."""
    stream: ReceivedStream = field(default_factory=ReceivedStream)


@dataclass
class StreamResult:
    sent: int
    received: Received
    up: LinkApplied
    down: LinkApplied
    kernel_stamps: bool


def rtp(seq: int, payload: bytes) -> bytes:
    return struct.pack("!BBHII", 0x80, 111, seq & 0xFFFF, (seq * SAMPLES_PER_PACKET) & 0xFFFFFFFF, SSRC) + payload


async def _stream(profile: str, packets: int, pps: float, payload_bytes: int, seed: str,
                  local_endpoint: bool) -> StreamResult:
    relay = Relay(parse_profile(profile), seed, local_endpoint=local_endpoint)
    loop = asyncio.get_running_loop()
    tx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    rx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        for s in (tx, rx):
            s.bind(("127.0.0.1", 0))
            s.setblocking(False)
        rx.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
        assert enable_kernel_timestamps(rx)
        announced = relay.stand_in_for_caller(tx.getsockname())
        assert announced[0] == "127.0.0.1"  # bound on all interfaces for a remote endpoint, announced here
        to_endpoint = relay.stand_in_for_endpoint(rx.getsockname())
        got = Received()

        def readable() -> None:
            while True:
                try:
                    data, anc, _flags, _addr = rx.recvmsg(2048, ANCILLARY_SPACE)
                except BlockingIOError:
                    return
                arrival = kernel_arrival_ns(anc) or time.monotonic_ns()
                seq, ts = struct.unpack_from("!HI", data, 2)
                got.seqs.append(seq)
                got.arrival_ns.append(arrival)
                got.one_way_ns.append(arrival - struct.unpack_from("!q", data, 12)[0])
                got.stream.add(ArrivedPacket(seq=seq, timestamp=ts, payload=data[12:], arrival_ns=arrival))

        loop.add_reader(rx.fileno(), readable)
        filler = b"\x00" * max(0, payload_bytes - 8)
        due = time.monotonic()
        for i in range(packets):
            now = time.monotonic()
            if due > now:
                await asyncio.sleep(due - now)
            # paced from the last send, never catching up in a burst after a stall of
            # this busy loop: the stream's rate is what the test says, not a flood
            due = max(due, time.monotonic() - 0.005) + 1 / pps
            tx.sendto(rtp(i, struct.pack("!q", time.monotonic_ns()) + filler), to_endpoint)
        await asyncio.sleep(0.1)  # the last packets reach the relay before the hang-up
        await relay.hang_up()
        await asyncio.sleep(0.05)
        loop.remove_reader(rx.fileno())
        applied = relay.applied(0)
        return StreamResult(sent=packets, received=got, up=applied.up, down=applied.down,
                            kernel_stamps=relay.kernel_stamps)
    finally:
        relay.close()
        tx.close()
        rx.close()


def run_stream(profile: str, packets: int, pps: float = 50.0, payload_bytes: int = 160,
               seed: str = "synthetic", local_endpoint: bool = True) -> StreamResult:
    """Send ``packets`` RTP packets at ``pps`` caller -> endpoint through a relay with ``profile``."""
    return asyncio.run(_stream(profile, packets, pps, payload_bytes, seed, local_endpoint))


def loss_runs(seqs_received: list[int], sent: int) -> list[int]:
    """Lengths of the runs of consecutive sequence numbers that never arrived."""
    got = set(seqs_received)
    runs, run = [], 0
    for seq in range(sent):
        if seq in got:
            if run:
                runs.append(run)
            run = 0
        else:
            run += 1
    if run:
        runs.append(run)
    return runs

"""Packet arrival times from the kernel, immune to a busy event loop.

A datagram that reaches the socket while the event loop is busy (another call's work,
a garbage collection, a neighbour process on a 2-core machine) waits in the socket
buffer; timestamping it when Python finally reads it would add that wait to every
latency. With ``SO_TIMESTAMPNS`` the kernel stamps each datagram on arrival, and the
stamp rides with the bytes to the receive tap.

This reaches into asyncio's and aiortc's internals (the datagram transport's reader
and the ICE transport's ``_recv``); where anything is not as expected it leaves the
call alone and the taps fall back to the time Python read the packet.
"""

from __future__ import annotations

import socket
import struct
import sys
import time
from collections import OrderedDict
from typing import Any

# Python does not export these; on Linux (asm-generic, x86_64 and arm64) SO_TIMESTAMPNS
# is 35 and the control message carries a struct timespec of two 64-bit fields.
_SO_TIMESTAMPNS: int | None = getattr(socket, "SO_TIMESTAMPNS", 35 if sys.platform == "linux" else None)
_SCM_TIMESTAMPNS = _SO_TIMESTAMPNS
_TIMESPEC = struct.Struct("@qq")
_MAX_DATAGRAM = 65535
_REGISTRY_LIMIT = 1024
ANCILLARY_SPACE = socket.CMSG_SPACE(_TIMESPEC.size)
"""Ancillary buffer ``recvmsg`` needs for one kernel timestamp."""


def enable_kernel_timestamps(sock: socket.socket) -> bool:
    """Ask the kernel to stamp each datagram ``sock`` receives; False where it cannot."""
    if _SO_TIMESTAMPNS is None:
        return False
    try:
        sock.setsockopt(socket.SOL_SOCKET, _SO_TIMESTAMPNS, 1)
    except OSError:
        return False
    return True


def kernel_arrival_ns(ancdata: list[tuple[int, int, bytes]]) -> int | None:
    """The CLOCK_MONOTONIC arrival in a ``recvmsg`` result's ancillary data, if stamped."""
    for level, kind, payload in ancdata:
        if level == socket.SOL_SOCKET and kind == _SCM_TIMESTAMPNS and len(payload) >= _TIMESPEC.size:
            seconds, nanos = _TIMESPEC.unpack_from(payload)
            realtime_to_monotonic = time.time_ns() - time.monotonic_ns()
            return int(seconds * 1_000_000_000 + nanos - realtime_to_monotonic)
    return None


class KernelArrivals:
    """Kernel receive times of one ICE transport's datagrams, handed to the RTP tap.

    ``current_ns`` is the arrival (CLOCK_MONOTONIC) of the datagram the DTLS transport
    is processing right now: it is set when the datagram leaves the ICE transport and
    read synchronously further down the same call chain by the ``ReceiveTap``.
    """

    def __init__(self) -> None:
        self.current_ns: int | None = None
        self.enabled = False
        self._stamps: OrderedDict[int, int] = OrderedDict()

    def install(self, ice_transport: Any) -> bool:
        """Stamp every socket of ``ice_transport`` (after gathering); False if not possible."""
        if _SO_TIMESTAMPNS is None:
            return False
        try:
            connection = ice_transport._connection
            protocols = list(connection._protocols)
            original_recv = ice_transport._recv
        except AttributeError:
            return False
        patched = [p for p in protocols if self._stamp_socket(p)]
        if not patched:
            return False

        async def recv() -> bytes:
            data: bytes = await original_recv()
            self.current_ns = self._stamps.pop(id(data), None)
            return data

        ice_transport._recv = recv
        self.enabled = True
        return True

    def _stamp_socket(self, protocol: Any) -> bool:
        transport = getattr(protocol, "transport", None)
        raw = getattr(transport, "_sock", None)
        loop = getattr(transport, "_loop", None)
        fd = getattr(transport, "_sock_fd", None)
        if not isinstance(raw, socket.socket) or fd is None or not hasattr(loop, "_add_reader"):
            return False
        if not enable_kernel_timestamps(raw):
            return False
        ancillary = ANCILLARY_SPACE

        def read_ready() -> None:
            try:
                data, ancdata, _flags, addr = raw.recvmsg(_MAX_DATAGRAM, ancillary)
            except (BlockingIOError, InterruptedError):
                return
            except OSError as exc:
                protocol.error_received(exc)
                return
            self._remember(data, ancdata)
            protocol.datagram_received(data, addr)

        loop._remove_reader(fd)  # type: ignore[union-attr]
        loop._add_reader(fd, read_ready)  # type: ignore[union-attr]
        return True

    def _remember(self, data: bytes, ancdata: list[tuple[int, int, bytes]]) -> None:
        arrival = kernel_arrival_ns(ancdata)
        if arrival is not None:
            self._stamps[id(data)] = arrival
            if len(self._stamps) > _REGISTRY_LIMIT:
                self._stamps.popitem(last=False)

"""A TCP byte stream whose received bytes carry their kernel arrival time.

The WebSocket transports have no RTP, but the same rule holds as for
``webrtc/arrivals.py``: received audio is timed when it reached this host, not when a
busy event loop got round to reading it. With ``SO_TIMESTAMPNS`` set, Linux stamps
every TCP segment on arrival and ``recvmsg`` returns the stamp of the last segment
read, so a WebSocket message is timed by the segment that completed it.

The socket is ours (a plain non-blocking socket read in a loop reader, written with
``loop.sock_sendall``), and TLS runs through ``ssl.MemoryBIO`` so that the raw bytes stay
ours to stamp for ``wss://`` too: only public ``socket``, ``ssl`` and asyncio APIs.
A stamp that is missing or implausible falls back to the time Python read the bytes,
and the stream counts both, so a recording can say honestly where its times came from.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import ssl
import struct
import sys
import time
from collections import deque
from dataclasses import dataclass

_SO_TIMESTAMPNS: int | None = getattr(socket, "SO_TIMESTAMPNS", 35 if sys.platform == "linux" else None)
_TIMESPEC = struct.Struct("@qq")
_READ_SIZE = 65536
_PLAUSIBLE_PAST_NS = 10_000_000_000
"""A kernel stamp older than this (or in the future) is not believed."""


@dataclass(frozen=True, slots=True)
class Received:
    data: bytes
    """Empty at end of stream."""
    arrival_ns: int
    """CLOCK_MONOTONIC when the bytes reached this host (kernel stamp when ``kernel``)."""
    kernel: bool


class StampedStream:
    """One connected TCP stream (plain or TLS) with arrival-stamped reads."""

    def __init__(self, sock: socket.socket, tls: ssl.SSLObject | None = None,
                 incoming: ssl.MemoryBIO | None = None, outgoing: ssl.MemoryBIO | None = None) -> None:
        sock.setblocking(False)
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.kernel_stamping = False
        if _SO_TIMESTAMPNS is not None:
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.SOL_SOCKET, _SO_TIMESTAMPNS, 1)
                self.kernel_stamping = True
        self._sock = sock
        self._loop = asyncio.get_running_loop()
        self._tls, self._incoming, self._outgoing = tls, incoming, outgoing
        self._raw: deque[Received] = deque()
        self._ready = asyncio.Event()
        self._eof = False
        self._error: OSError | None = None
        self._closed = False
        self._last_tls_stamp: Received | None = None
        self.kernel_reads = 0
        self.loop_reads = 0
        self._loop.add_reader(sock.fileno(), self._on_readable)

    # ------------------------------------------------------------------ opening

    @classmethod
    async def open(cls, host: str, port: int, *, ssl_context: ssl.SSLContext | None = None,
                   server_hostname: str | None = None) -> StampedStream:
        """Connect (and run the TLS handshake when ``ssl_context`` is given)."""
        loop = asyncio.get_running_loop()
        infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        last: OSError | None = None
        for family, kind, proto, _name, address in infos:
            sock = socket.socket(family, kind, proto)
            sock.setblocking(False)
            try:
                await loop.sock_connect(sock, address)
            except OSError as exc:
                sock.close()
                last = exc
                continue
            if ssl_context is None:
                return cls(sock)
            incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
            tls = ssl_context.wrap_bio(incoming, outgoing, server_hostname=server_hostname or host)
            stream = cls(sock, tls, incoming, outgoing)
            try:
                await stream._handshake()
            except BaseException:
                stream.close()
                raise
            return stream
        raise last or OSError(f"cannot resolve {host}")

    @classmethod
    def accepted(cls, sock: socket.socket) -> StampedStream:
        """A server-side stream on a socket from ``accept`` (plain TCP)."""
        return cls(sock)

    async def _handshake(self) -> None:
        assert self._tls is not None and self._incoming is not None
        while True:
            try:
                self._tls.do_handshake()
                break
            except ssl.SSLWantReadError:
                await self._flush_tls()
                raw = await self._next_raw()
                if not raw.data:
                    raise ConnectionError("connection closed during the TLS handshake") from None
                self._incoming.write(raw.data)
        await self._flush_tls()

    # ------------------------------------------------------------------ reading

    def _on_readable(self) -> None:
        ancillary = socket.CMSG_SPACE(_TIMESPEC.size)
        while True:
            try:
                data, ancdata, _flags, _addr = self._sock.recvmsg(_READ_SIZE, ancillary)
            except (BlockingIOError, InterruptedError):
                break
            except OSError as exc:
                self._error = exc
                self._stop_reading()
                break
            now = time.monotonic_ns()
            if not data:
                self._eof = True
                self._raw.append(Received(b"", now, False))
                self._stop_reading()
                break
            stamp = self._kernel_stamp(ancdata, now)
            if stamp is None:
                self.loop_reads += 1
                self._raw.append(Received(data, now, False))
            else:
                self.kernel_reads += 1
                self._raw.append(Received(data, stamp, True))
        self._ready.set()

    def _kernel_stamp(self, ancdata: list[tuple[int, int, bytes]], now: int) -> int | None:
        for level, kind, payload in ancdata:
            if level == socket.SOL_SOCKET and kind == _SO_TIMESTAMPNS and len(payload) >= _TIMESPEC.size:
                seconds, nanos = _TIMESPEC.unpack_from(payload)
                stamp = int(seconds) * 1_000_000_000 + int(nanos) - (time.time_ns() - time.monotonic_ns())
                if now - _PLAUSIBLE_PAST_NS <= stamp <= now + 1_000_000:
                    return min(stamp, now)
        return None

    def _stop_reading(self) -> None:
        with contextlib.suppress(Exception):
            self._loop.remove_reader(self._sock.fileno())

    async def _next_raw(self) -> Received:
        while not self._raw:
            if self._error is not None:
                raise self._error
            if self._closed or self._eof:
                return Received(b"", time.monotonic_ns(), False)
            self._ready.clear()
            await self._ready.wait()
        return self._raw.popleft()

    async def read(self) -> Received:
        """The next bytes with their arrival; ``data == b""`` at end of stream."""
        if self._tls is None:
            return await self._next_raw()
        assert self._incoming is not None
        while True:
            try:
                plain = self._tls.read(_READ_SIZE)
            except ssl.SSLWantReadError:
                raw = await self._next_raw()
                if not raw.data:
                    return raw
                self._incoming.write(raw.data)
                self._last_tls_stamp = raw
                continue
            except ssl.SSLZeroReturnError:
                return Received(b"", time.monotonic_ns(), False)
            if not plain:
                return Received(b"", time.monotonic_ns(), False)
            stamp = self._last_tls_stamp
            if stamp is None:
                return Received(plain, time.monotonic_ns(), False)
            return Received(plain, stamp.arrival_ns, stamp.kernel)

    # ------------------------------------------------------------------ writing

    async def write(self, data: bytes) -> int:
        """Send all of ``data``; returns CLOCK_MONOTONIC just before it was handed to the kernel."""
        if self._closed:
            raise ConnectionError("stream is closed")
        if self._tls is not None:
            self._tls.write(data)
            t_ns = time.monotonic_ns()
            await self._flush_tls()
            return t_ns
        t_ns = time.monotonic_ns()
        await self._loop.sock_sendall(self._sock, data)
        return t_ns

    async def _flush_tls(self) -> None:
        assert self._outgoing is not None
        pending = self._outgoing.read()
        if pending:
            await self._loop.sock_sendall(self._sock, pending)

    def shutdown_write(self) -> None:
        with contextlib.suppress(OSError):
            self._sock.shutdown(socket.SHUT_WR)

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._stop_reading()
        self._ready.set()
        with contextlib.suppress(OSError):
            self._sock.close()

    @property
    def closed(self) -> bool:
        return self._closed

    @property
    def arrival_source(self) -> str:
        """``kernel``, ``loop`` or ``kernel+loop``: where the arrival times came from."""
        if self.kernel_reads and not self.loop_reads:
            return "kernel"
        if self.kernel_reads:
            return "kernel+loop"
        return "loop"

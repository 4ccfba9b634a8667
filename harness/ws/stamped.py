"""A TCP byte stream whose received bytes carry their kernel arrival time.

The WebSocket transports have no RTP, but the same rule holds as for
``webrtc/arrivals.py``: received audio is timed when it reached this host, not when a
busy event loop got round to reading it. With ``SO_TIMESTAMPNS`` set, Linux stamps
every TCP segment on arrival and ``recvmsg`` returns the stamp of the last segment
read, so a WebSocket message is timed by the segment that completed it.

A stamp is only as good as the reader is prompt: TCP merges segments that wait in the
receive queue, and the merged data carries the newest stamp. So the socket is read by
a small thread of its own (poll + ``recvmsg``), which a busy event loop cannot hold up
(it waits at most for the GIL's switch interval), and hands the stamped bytes to the
loop; writes go through ``loop.sock_sendall``. TLS runs through ``ssl.MemoryBIO`` so
the raw bytes stay ours to stamp for ``wss://`` too: only public ``socket``, ``ssl``,
``select``, ``threading`` and asyncio APIs. A stamp that is missing or implausible falls
back to the time the thread read the bytes, and the stream counts both, so a recording
can say honestly where its times came from.
"""

from __future__ import annotations

import asyncio
import contextlib
import select
import socket
import ssl
import struct
import sys
import threading
import time
from collections import deque
from dataclasses import dataclass

from harness.priority import follow_worker_priority

_SO_TIMESTAMPNS: int | None = getattr(socket, "SO_TIMESTAMPNS", 35 if sys.platform == "linux" else None)
_TIMESPEC = struct.Struct("@qq")
_READ_SIZE = 65536
_PLAUSIBLE_PAST_NS = 10_000_000_000
"""A kernel stamp older than this (or in the future) is not believed."""
_PLAUSIBLE_FUTURE_NS = 2_000_000
"""The realtime-to-monotonic offset is read between two clock reads; a stamp this much
"after" the read is that offset's error (it is clamped to the read), not a bad stamp."""
_POLL_MS = 50
"""How often the reader thread looks up from ``poll`` to see whether it should stop."""


@dataclass(frozen=True, slots=True)
class Received:
    data: bytes
    """Empty at end of stream."""
    arrival_ns: int
    """CLOCK_MONOTONIC when the bytes reached this host (kernel stamp when ``kernel``)."""
    kernel: bool


def realtime_offset_ns() -> int:
    """CLOCK_REALTIME - CLOCK_MONOTONIC, read between two monotonic reads (the tightest of three
    tries), so a thread preempted between the reads does not shift every stamp it converts."""
    best: tuple[int, int] | None = None
    for _ in range(3):
        before = time.monotonic_ns()
        real = time.time_ns()
        after = time.monotonic_ns()
        if best is None or after - before < best[0]:
            best = (after - before, real - (before + after) // 2)
        if after - before < 20_000:
            break
    assert best is not None
    return best[1]


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
        self._stop = threading.Event()
        self._close_lock = threading.Lock()
        self._thread_done = False
        self._thread = threading.Thread(target=self._read_thread, name="ws-reader", daemon=True)
        self._thread.start()

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

    def _read_thread(self) -> None:
        """Read as soon as bytes arrive, stamp them, hand them to the loop.

        Whoever finishes last (this thread or ``close``) closes the socket, so its file
        descriptor is never reused under a thread still polling it.
        """
        follow_worker_priority()  # it takes the GIL the caller's loop needs (priority.py)
        sock = self._sock
        ancillary = socket.CMSG_SPACE(_TIMESPEC.size)
        poller = select.poll()
        poller.register(sock.fileno(), select.POLLIN | select.POLLERR | select.POLLHUP)
        try:
            while not self._stop.is_set():
                if not poller.poll(_POLL_MS):
                    continue
                batch: list[Received | OSError] = []
                while True:
                    try:
                        data, ancdata, _flags, _addr = sock.recvmsg(_READ_SIZE, ancillary)
                    except (BlockingIOError, InterruptedError):
                        break
                    except OSError as exc:
                        batch.append(exc)
                        self._stop.set()
                        break
                    now = time.monotonic_ns()
                    stamp = self._kernel_stamp(ancdata, now) if data else None
                    batch.append(Received(data, now if stamp is None else stamp, stamp is not None))
                    if not data:
                        self._stop.set()
                        break
                if batch:
                    try:
                        self._loop.call_soon_threadsafe(self._deliver, batch)
                    except RuntimeError:  # the loop is gone
                        return
        finally:
            with self._close_lock:
                self._thread_done = True
                closed = self._closed
            if closed:
                with contextlib.suppress(OSError):
                    sock.close()

    def _deliver(self, batch: list[Received | OSError]) -> None:
        for item in batch:
            if isinstance(item, OSError):
                self._error = item
            elif not item.data:
                self._eof = True
                self._raw.append(item)
            else:
                if item.kernel:
                    self.kernel_reads += 1
                else:
                    self.loop_reads += 1
                self._raw.append(item)
        self._ready.set()

    def _kernel_stamp(self, ancdata: list[tuple[int, int, bytes]], now: int) -> int | None:
        for level, kind, payload in ancdata:
            if level == socket.SOL_SOCKET and kind == _SO_TIMESTAMPNS and len(payload) >= _TIMESPEC.size:
                seconds, nanos = _TIMESPEC.unpack_from(payload)
                stamp = int(seconds) * 1_000_000_000 + int(nanos) - realtime_offset_ns()
                if now - _PLAUSIBLE_PAST_NS <= stamp <= now + _PLAUSIBLE_FUTURE_NS:
                    return min(stamp, now)
        return None

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
        """Stop reading and writing; the socket is closed here or by the reader thread as it ends."""
        with self._close_lock:
            if self._closed:
                return
            self._closed = True
            reading = not self._thread_done
        self._stop.set()
        self._ready.set()
        with contextlib.suppress(OSError):
            self._sock.shutdown(socket.SHUT_RDWR)
        if not reading:
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

"""WebSocket connections on a ``StampedStream``: websockets' Sans-I/O protocol, our I/O.

The ``websockets`` library does the protocol (handshake, framing, masking, ping/pong,
close); this module only moves bytes, so every message keeps the kernel arrival time
of the TCP segment that completed it. Both ends use it: the WebSocket caller
(``ws_connect``) and the reference agent (``ws_accept``).
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from websockets.client import ClientProtocol
from websockets.exceptions import InvalidURI
from websockets.frames import Frame, Opcode
from websockets.http11 import Request, Response
from websockets.protocol import Protocol, State
from websockets.server import ServerProtocol
from websockets.uri import parse_uri

from harness.ws.stamped import StampedStream

MAX_MESSAGE_BYTES = 16 * 1024 * 1024
"""Vendors send audio deltas of a few hundred kB; this bounds a runaway peer."""
CLOSE_TIMEOUT_S = 2.0


@dataclass(frozen=True, slots=True)
class WsMessage:
    data: str | bytes
    arrival_ns: int
    """CLOCK_MONOTONIC of the TCP segment that completed the message."""


class WsHandshakeError(Exception):
    """The server answered the upgrade with an HTTP error (401, 429, ...)."""

    def __init__(self, status: int, body: str) -> None:
        super().__init__(f"HTTP {status}")
        self.status = status
        self.body = body


class WsClosed(Exception):
    """The connection is closed; ``code``/``reason`` from the peer's close frame if any."""

    def __init__(self, code: int | None, reason: str, *, by_peer: bool = True) -> None:
        super().__init__(f"closed ({code}): {reason}" if code is not None else f"closed: {reason}")
        self.code = code
        self.reason = reason
        self.by_peer = by_peer


class WsConnection:
    """An open WebSocket: ``recv()`` messages with arrival times, ``send_*`` returning send times."""

    def __init__(self, stream: StampedStream, protocol: Protocol, leftover: list[WsMessage] | None = None) -> None:
        self.stream = stream
        self._protocol = protocol
        self._queue: asyncio.Queue[WsMessage | WsClosed] = asyncio.Queue()
        for message in leftover or ():
            self._queue.put_nowait(message)
        self._write_lock = asyncio.Lock()
        self._parts: list[bytes] = []
        self._text = False
        self.closed: WsClosed | None = None
        self.response_headers: dict[str, str] = {}
        """The server's upgrade response headers (client side), lower-cased names."""
        self.reads = 0
        self.shared_reads = 0
        """Reads that completed more than one message: those messages share one arrival time
        (the kernel stamps the last TCP segment a read returns; a reader that fell behind
        gets several at once), so their times are only as good as the reader was prompt."""
        self._reader = asyncio.get_running_loop().create_task(self._read_loop())

    @property
    def arrival_source(self) -> str:
        return self.stream.arrival_source

    async def recv(self) -> WsMessage:
        """The next message; raises ``WsClosed`` once the connection is closed."""
        item = await self._queue.get()
        if isinstance(item, WsClosed):
            self._queue.put_nowait(item)  # every later recv sees the close too
            raise item
        return item

    async def send_text(self, text: str) -> int:
        return await self._send(lambda: self._protocol.send_text(text.encode()))

    async def send_bytes(self, data: bytes) -> int:
        return await self._send(lambda: self._protocol.send_binary(data))

    async def _send(self, frame: Callable[[], None]) -> int:
        """Frame and write one message; returns when it was handed to the kernel."""
        if self.closed is not None or self._protocol.state is not State.OPEN:
            raise self.closed or WsClosed(None, "connection is not open", by_peer=False)
        async with self._write_lock:
            frame()
            t_ns = 0
            for chunk in self._protocol.data_to_send():
                if chunk:
                    sent = await self.stream.write(chunk)
                    t_ns = t_ns or sent
            return t_ns

    async def close(self, code: int = 1000, reason: str = "") -> None:
        """Close handshake (bounded by ``CLOSE_TIMEOUT_S``), then the TCP stream."""
        if self._protocol.state is State.OPEN:
            with contextlib.suppress(Exception):
                async with self._write_lock:
                    self._protocol.send_close(code, reason)
                    await self._flush()
            with contextlib.suppress(TimeoutError, asyncio.CancelledError):
                await asyncio.wait_for(asyncio.shield(self._reader), CLOSE_TIMEOUT_S)
        self._reader.cancel()
        self.stream.close()
        if self.closed is None:
            self.closed = WsClosed(code, reason, by_peer=False)

    async def _flush(self) -> None:
        for chunk in self._protocol.data_to_send():
            if chunk:
                await self.stream.write(chunk)
            else:
                self.stream.shutdown_write()

    async def _read_loop(self) -> None:
        try:
            while True:
                received = await self.stream.read()
                if received.data:
                    self._protocol.receive_data(received.data)
                else:
                    self._protocol.receive_eof()
                completed = 0
                for event in self._protocol.events_received():
                    if isinstance(event, Frame):
                        completed += self._on_frame(event, received.arrival_ns)
                self.reads += 1
                self.shared_reads += completed > 1
                async with self._write_lock:
                    await self._flush()
                if not received.data or self._protocol.state is State.CLOSED:
                    break
        except (OSError, ConnectionError) as exc:
            self._finish(WsClosed(None, str(exc)))
        finally:
            self._finish(self._close_info())

    def _on_frame(self, frame: Frame, arrival_ns: int) -> int:
        """Collect a message's frames; returns 1 when a message completed."""
        if frame.opcode in (Opcode.TEXT, Opcode.BINARY):
            self._parts, self._text = [bytes(frame.data)], frame.opcode is Opcode.TEXT
        elif frame.opcode is Opcode.CONT:
            self._parts.append(bytes(frame.data))
        else:
            return 0  # ping/pong are answered by the protocol; close is read at the end
        if not frame.fin:
            return 0
        data = b"".join(self._parts)
        self._parts = []
        if self._text:
            self._queue.put_nowait(WsMessage(data.decode("utf-8", errors="replace"), arrival_ns))
        else:
            self._queue.put_nowait(WsMessage(data, arrival_ns))
        return 1

    def _close_info(self) -> WsClosed:
        received = self._protocol.close_rcvd
        if received is not None:
            return WsClosed(int(received.code), received.reason)
        return WsClosed(None, "the peer closed the TCP connection")

    def _finish(self, closed: WsClosed) -> None:
        if self.closed is None:
            self.closed = closed
            self._queue.put_nowait(closed)
        self.stream.close()


async def ws_connect(url: str, headers: Mapping[str, str] | None = None, *,
                     ssl_context: ssl.SSLContext | None = None) -> WsConnection:
    """Open a client connection; ``WsHandshakeError`` for an HTTP refusal, ``OSError`` if unreachable.

    The caller bounds it with a timeout. Header values (keys) never appear in errors.
    """
    try:
        uri = parse_uri(url)
    except InvalidURI:
        raise ValueError("not a ws:// or wss:// URL") from None
    context = None
    if uri.secure:
        context = ssl_context or ssl.create_default_context()
    stream = await StampedStream.open(uri.host, uri.port, ssl_context=context, server_hostname=uri.host)
    protocol = ClientProtocol(uri, max_size=MAX_MESSAGE_BYTES)
    request = protocol.connect()
    for name, value in (headers or {}).items():
        request.headers[name] = value
    try:
        protocol.send_request(request)
        for chunk in protocol.data_to_send():
            await stream.write(chunk)
        leftover: list[WsMessage] = []
        response: Response | None = None
        while response is None:
            received = await stream.read()
            if received.data:
                protocol.receive_data(received.data)
            else:
                protocol.receive_eof()
            for event in protocol.events_received():
                if isinstance(event, Response):
                    response = event
                elif isinstance(event, Frame) and event.opcode in (Opcode.TEXT, Opcode.BINARY) and event.fin:
                    data = bytes(event.data)
                    leftover.append(WsMessage(data.decode("utf-8", "replace") if event.opcode is Opcode.TEXT
                                              else data, received.arrival_ns))
            if response is None and not received.data:
                raise ConnectionError("the server closed the connection during the WebSocket handshake")
        if protocol.handshake_exc is not None:
            body = (response.body or b"").decode("utf-8", errors="replace")
            if response.status_code == 101:
                raise ConnectionError(f"WebSocket handshake failed: {protocol.handshake_exc}")
            raise WsHandshakeError(int(response.status_code), body)
    except BaseException:
        stream.close()
        raise
    conn = WsConnection(stream, protocol, leftover)
    conn.response_headers = {name.lower(): value for name, value in response.headers.raw_items()}
    return conn


Decision = Response | tuple[int, str]
"""What a server does with an upgrade request: accept (a 101 ``Response``) or refuse."""


async def ws_accept(stream: StampedStream,
                    decide: Callable[[ServerProtocol, Request], Decision]) -> tuple[WsConnection, Request] | None:
    """Serve one upgrade on ``stream``; ``None`` if it was refused or broken (stream closed)."""
    protocol = ServerProtocol(max_size=MAX_MESSAGE_BYTES)
    request: Request | None = None
    try:
        while request is None:
            received = await stream.read()
            if not received.data:
                stream.close()
                return None
            protocol.receive_data(received.data)
            for event in protocol.events_received():
                if isinstance(event, Request):
                    request = event
        decision = decide(protocol, request)
        response = decision if isinstance(decision, Response) else protocol.reject(*decision)
        protocol.send_response(response)
        for chunk in protocol.data_to_send():
            if chunk:
                await stream.write(chunk)
        if protocol.state is not State.OPEN:
            stream.close()
            return None
    except (OSError, ConnectionError):
        stream.close()
        return None
    return WsConnection(stream, protocol), request

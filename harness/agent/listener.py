"""One port for every dialect: WebSocket upgrades to the agent, everything else to aiohttp.

The reference agent answers WebRTC signalling over HTTP (aiohttp) and the WebSocket
dialects on the same host:port, so one URL serves all of them. WebSocket calls must
keep kernel arrival times on the agent's side too (its truth log is what the harness
is held to), so their sockets are not aiohttp's: the listener peeks at each new
connection's request head and either keeps the socket for the WebSocket route
(``harness.ws``) or hands it to aiohttp with ``loop.connect_accepted_socket``, which
then reads the request as if it had accepted the connection itself.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import time
from collections.abc import Awaitable, Callable, Sequence

log = logging.getLogger(__name__)

HEAD_LIMIT = 16 * 1024
HEAD_TIMEOUT_S = 10.0
_PEEK_INTERVAL_S = 0.002

WsRoute = Callable[[socket.socket, str], Awaitable[None]]
"""Serves one WebSocket connection (its socket, the request path with query); it owns
the socket and closes it."""


class DialectListener:
    def __init__(self, http_factory: Callable[[], asyncio.BaseProtocol],
                 ws_route: Callable[[str], WsRoute | None], host: str, port: int) -> None:
        self._http_factory = http_factory
        self._ws_route = ws_route
        self._host, self._port = host, port
        self._socks: list[socket.socket] = []
        self._accepting: list[asyncio.Task[None]] = []
        self._tasks: set[asyncio.Task[None]] = set()

    async def start(self, sockets: Sequence[socket.socket] = ()) -> int:
        """Listen (on ``sockets`` already bound, e.g. an agent worker's shared and private
        ones, else on a new socket at host:port); returns the first one's port."""
        if not sockets:
            family = socket.getaddrinfo(self._host, self._port, type=socket.SOCK_STREAM)[0][0]
            sockets = [socket.create_server((self._host, self._port), family=family)]
        socks = list(sockets)
        loop = asyncio.get_running_loop()
        for sock in socks:
            sock.setblocking(False)
            self._accepting.append(loop.create_task(self._accept_loop(sock)))
        self._socks = socks
        return int(socks[0].getsockname()[1])

    async def close(self) -> None:
        for accepting in self._accepting:
            accepting.cancel()
        for task in list(self._tasks):
            task.cancel()
        for sock in self._socks:
            sock.close()

    async def _accept_loop(self, listener: socket.socket) -> None:
        loop = asyncio.get_running_loop()
        while True:
            try:
                conn, _addr = await loop.sock_accept(listener)
            except OSError as exc:
                log.warning("accept failed: %s", exc)
                await asyncio.sleep(0.05)
                continue
            task = loop.create_task(self._dispatch(conn))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _dispatch(self, conn: socket.socket) -> None:
        conn.setblocking(False)
        with contextlib.suppress(OSError):
            conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        try:
            head = await _peek_head(conn)
        except (OSError, TimeoutError):
            conn.close()
            return
        path = _websocket_path(head)
        route = self._ws_route(path) if path is not None else None
        if route is not None:
            await route(conn, path or "/")  # the route owns the socket from here on
            return
        try:
            await asyncio.get_running_loop().connect_accepted_socket(self._http_factory, conn)
        except OSError:
            conn.close()


async def _peek_head(conn: socket.socket) -> bytes:
    """The request head (up to the blank line) without consuming it from the socket."""
    deadline = time.monotonic() + HEAD_TIMEOUT_S
    while True:
        try:
            data = conn.recv(HEAD_LIMIT, socket.MSG_PEEK)
        except BlockingIOError:
            data = None
        if data is not None:
            if not data:
                raise OSError("closed before a request")
            if b"\r\n\r\n" in data or len(data) >= HEAD_LIMIT:
                return data
        if time.monotonic() > deadline:
            raise TimeoutError
        await asyncio.sleep(_PEEK_INTERVAL_S)


def _websocket_path(head: bytes) -> str | None:
    """The path of a ``GET`` that asks to upgrade to WebSocket, else ``None``."""
    lines = head.split(b"\r\n")
    parts = lines[0].split(b" ")
    if len(parts) != 3 or parts[0] != b"GET":
        return None
    for line in lines[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"upgrade" and value.strip().lower() == b"websocket":
            return parts[1].decode("latin-1")
    return None

"""WebSocket connections over loopback: kernel arrival times, refusals, closes, TLS.

The server runs in its own thread and event loop, as a remote endpoint would, so the
client's loop can be stalled on purpose: a message that arrived during the stall keeps
the time it reached the host, not the time Python read it.
"""

from __future__ import annotations

import asyncio
import datetime
import socket
import ssl
import threading
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from websockets.asyncio.server import ServerConnection, serve

from harness.ws.connection import WsClosed, WsConnection, WsHandshakeError, ws_accept, ws_connect
from harness.ws.stamped import StampedStream

pytestmark = pytest.mark.realclock  # asserts times on the real clock: never niced (Makefile)

Handler = Callable[[WsConnection], Awaitable[None]]


@contextmanager
def server(handler: Handler, refuse: tuple[int, str] | None = None) -> Iterator[str]:
    """A one-connection-at-a-time WebSocket server (ours) in a thread; yields its URL."""
    listener = socket.create_server(("127.0.0.1", 0))
    listener.setblocking(False)
    port = listener.getsockname()[1]
    stop = threading.Event()

    async def main() -> None:
        loop = asyncio.get_running_loop()
        tasks = set()
        while not stop.is_set():
            try:
                sock, _ = await asyncio.wait_for(loop.sock_accept(listener), 0.1)
            except TimeoutError:
                continue

            async def one(sock: socket.socket) -> None:
                accepted = await ws_accept(StampedStream.accepted(sock),
                                           lambda p, r: refuse if refuse else p.accept(r))
                if accepted is not None:
                    await handler(accepted[0])

            task = asyncio.ensure_future(one(sock))
            tasks.add(task)
        for task in tasks:
            task.cancel()

    thread = threading.Thread(target=lambda: asyncio.run(main()), daemon=True)
    thread.start()
    try:
        yield f"ws://127.0.0.1:{port}/path?key=SECRET"
    finally:
        stop.set()
        thread.join(5)
        listener.close()


def test_messages_keep_their_kernel_arrival_through_a_stalled_loop() -> None:
    sent: list[int] = []

    async def handler(conn: WsConnection) -> None:
        hello = await conn.recv()
        await asyncio.sleep(0.05)
        sent.append(await conn.send_bytes(b"\x01" * 640))
        sent.append(await conn.send_text("after:" + str(hello.data)))
        await asyncio.sleep(1.0)
        await conn.close(1000, "bye")

    async def client(url: str) -> None:
        conn = await asyncio.wait_for(ws_connect(url, {"Authorization": "Bearer SECRET"}), 5)
        await conn.send_text("hi")
        time.sleep(0.3)  # noqa: ASYNC251 - the loop is kept busy on purpose while both messages arrive
        first = await conn.recv()
        second = await conn.recv()
        assert first.data == b"\x01" * 640 and second.data == "after:hi"
        assert conn.arrival_source == "kernel"
        # Arrival is within a few ms of the server's send, not 300 ms later when read.
        assert 0 <= first.arrival_ns - sent[0] < 5_000_000, first.arrival_ns - sent[0]
        assert 0 <= second.arrival_ns - sent[1] < 5_000_000
        with pytest.raises(WsClosed) as closed:
            await asyncio.wait_for(conn.recv(), 5)
        assert (closed.value.code, closed.value.reason) == (1000, "bye")
        await conn.close()

    with server(handler) as url:
        asyncio.run(client(url))


def test_refused_upgrade_carries_status_and_body() -> None:
    async def handler(conn: WsConnection) -> None:
        raise AssertionError("refused connections never reach the handler")

    body = '{"error": {"message": "Incorrect API key provided"}}'
    with server(handler, refuse=(401, body)) as url, pytest.raises(WsHandshakeError) as refused:
        asyncio.run(asyncio.wait_for(ws_connect(url), 5))
    assert refused.value.status == 401
    assert "Incorrect API key" in refused.value.body
    assert "SECRET" not in str(refused.value)


def test_peer_close_code_and_reason_reach_recv() -> None:
    async def handler(conn: WsConnection) -> None:
        await conn.close(1008, "API key not valid")

    async def client(url: str) -> None:
        conn = await ws_connect(url)
        with pytest.raises(WsClosed) as closed:
            await asyncio.wait_for(conn.recv(), 5)
        assert (closed.value.code, closed.value.reason) == (1008, "API key not valid")
        with pytest.raises(WsClosed):  # and it stays closed
            await conn.send_text("late")

    with server(handler) as url:
        asyncio.run(client(url))


def _self_signed(tmp: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost")]), critical=False)
            .sign(key, hashes.SHA256()))
    cert_path, key_path = tmp / "cert.pem", tmp / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_path, key_path


def test_wss_runs_tls_over_the_stamped_socket(tmp_path: Path) -> None:
    cert, key = _self_signed(tmp_path)
    server_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_ctx.load_cert_chain(cert, key)
    client_ctx = ssl.create_default_context(cafile=str(cert))

    async def echo(ws: ServerConnection) -> None:
        async for message in ws:
            await ws.send(message)

    async def main() -> None:
        async with serve(echo, "localhost", 0, ssl=server_ctx) as srv:
            port = next(iter(srv.sockets)).getsockname()[1]
            conn = await asyncio.wait_for(ws_connect(f"wss://localhost:{port}/", ssl_context=client_ctx), 5)
            big = b"\x07" * 200_000  # several TLS records and TCP segments
            await conn.send_bytes(big)
            await conn.send_text("small")
            assert (await asyncio.wait_for(conn.recv(), 5)).data == big
            assert (await asyncio.wait_for(conn.recv(), 5)).data == "small"
            assert conn.arrival_source == "kernel"
            await conn.close()

    asyncio.run(main())

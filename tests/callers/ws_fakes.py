"""Fake vendor WebSocket servers for the WebSocket caller's fault and timing tests.

Each speaks only what a test needs, with message shapes from the vendors' documented
protocols (see tests/endpoints/fixtures/); they run in the test's own event loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field

import numpy as np
from websockets.asyncio.server import ServerConnection, serve
from websockets.http11 import Request, Response

from harness.corpus.model import Corpus
from harness.records import CallerKind, CallSpec, Dialect, EndpointSpec, Scenario
from harness.webrtc.audio import Float32Audio
from harness.ws.codecs import Encoding, b64decode, b64encode, decode, encode, to_wire_rate

Handler = Callable[[ServerConnection], Awaitable[None]]
Refusal = tuple[int, str]


@dataclass
class FakeServer:
    url: str
    requests: list[Request] = field(default_factory=list)


@contextlib.asynccontextmanager
async def fake_server(handler: Handler, refuse: Refusal | None = None, path: str = "/") -> AsyncIterator[FakeServer]:
    box: list[FakeServer] = []

    def process_request(connection: ServerConnection, request: Request) -> Response | None:
        box[0].requests.append(request)
        if refuse is not None:
            response = connection.respond(refuse[0], refuse[1])
            response.headers["Content-Type"] = "application/json"
            return response
        return None

    async with serve(handler, "127.0.0.1", 0, process_request=process_request) as server:
        port = next(iter(server.sockets)).getsockname()[1]
        box.append(FakeServer(url=f"ws://127.0.0.1:{port}{path}"))
        yield box[0]


def spec(url: str, dialect: Dialect, scenario: Scenario, *, key_env: str | None = None,
         options: dict[str, object] | None = None) -> CallSpec:
    endpoint = EndpointSpec(name=f"fake-{dialect}", dialect=dialect, url=url, api_key_env=key_env,
                            options=dict(options or {}))  # type: ignore[arg-type]
    return CallSpec(call_id=f"fake-{dialect}", scenario=scenario, endpoint=endpoint, caller=CallerKind.WEBSOCKET)


def speech_like(corpus: Corpus, utterance: str, seconds: float) -> Float32Audio:
    """The longest voiced run of a corpus utterance, looped to ``seconds`` at 48 kHz: speech
    with no pause long enough to end an agent burst."""
    from harness.corpus.model import load_audio

    item = corpus.get(utterance)
    start, end = max(item.voiced, key=lambda run: run[1] - run[0])
    audio = load_audio(item)[start:end]
    reps = int(np.ceil(seconds * 48000 / audio.size))
    return np.tile(audio, reps)[: int(seconds * 48000)].astype(np.float32)


def mulaw_chunks(audio48: Float32Audio, chunk_ms: int = 100) -> list[str]:
    """Base64 mu-law 8 kHz payloads of ``chunk_ms`` each."""
    wire = to_wire_rate(audio48, 8000)
    step = 8 * chunk_ms
    return [b64encode(encode(wire[i:i + step], Encoding.MULAW)) for i in range(0, wire.size, step)]


class LoudnessGate:
    """Says when the caller has been speaking for ``frames`` consecutive 20 ms chunks."""

    def __init__(self, threshold_dbfs: float = -35.0, frames: int = 3) -> None:
        self.threshold = threshold_dbfs
        self.frames = frames
        self.run = 0

    def push_twilio_media(self, message: str) -> bool:
        obj = json.loads(message)
        if obj.get("event") != "media":
            return False
        samples = decode(b64decode(obj["media"]["payload"]), Encoding.MULAW)
        level = 10 * np.log10(float(np.mean(samples.astype(np.float64) ** 2)) + 1e-12)
        self.run = self.run + 1 if level > self.threshold else 0
        return self.run >= self.frames


def now_ns() -> int:
    return time.monotonic_ns()


async def quietly(coro: Awaitable[None]) -> None:
    with contextlib.suppress(Exception, asyncio.CancelledError):
        await coro

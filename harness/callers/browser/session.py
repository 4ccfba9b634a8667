"""Python's end of one page's WebSocket: commands out, evidence in.

The page streams everything as it happens (encoded frames at the network edge, the
heard audio, data-channel messages, getStats readings, clips played, steps ended), so
whatever arrived before a crash is kept. Control messages (offer, connected, done,
errors) are queued for the caller's state machine; pongs are stamped the moment they
are read, for the clock calibration. Every text frame is parsed into its typed message
(``protocol``); one that does not parse is counted with its reason, never half-used.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import secrets
import struct
import time
from dataclasses import dataclass, field
from typing import assert_never

import numpy as np
from aiohttp import WSMsgType, web

from harness.callers.browser.clock_sync import PingSample
from harness.callers.browser.protocol import (
    BINARY_HEADER_BYTES,
    BinaryKind,
    CaptureMessage,
    ConnectedMessage,
    ControlMessage,
    DataChannelMessage,
    DoneMessage,
    ErrorMessage,
    OfferMessage,
    PageCommand,
    PingMessage,
    PlayedMessage,
    PlayoutMessage,
    PongMessage,
    ProtocolError,
    SpeechMessage,
    StateMessage,
    StatsMessage,
    StepMessage,
    WarningMessage,
    encode_command,
    parse_message,
)
from harness.webrtc.audio import Float32Audio

_FRAME_HEAD = struct.Struct("<dIHH")
MAX_KEPT_PROBLEMS = 10
"""Protocol errors are counted; the first few are kept with their reasons."""


@dataclass(frozen=True, slots=True)
class PageClosed:
    """The page's WebSocket closed (queued for the state machine after everything else)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class EncodedFrame:
    """One Opus frame at the page's network edge."""

    t_ms: float
    """Page ``performance.now()``: after encoding (sent) or at packet arrival (received)."""
    rtp_ts: int
    seq: int
    payload: bytes


@dataclass(frozen=True, slots=True, kw_only=True)
class HeardBlock:
    start_frame: int
    """AudioContext frame of the first sample."""
    samples: Float32Audio


def parse_frames(body: bytes) -> list[EncodedFrame]:
    """Decode one batch from ``transform.js``; a torn tail is dropped."""
    frames, off = [], 0
    while off + _FRAME_HEAD.size <= len(body):
        t_ms, ts, seq, length = _FRAME_HEAD.unpack_from(body, off)
        off += _FRAME_HEAD.size
        if off + length > len(body):
            break
        frames.append(EncodedFrame(t_ms=t_ms, rtp_ts=ts, seq=seq, payload=bytes(body[off : off + length])))
        off += length
    return frames


def parse_heard(body: bytes) -> HeardBlock | None:
    if len(body) < 8:
        return None
    (start,) = struct.unpack_from("<d", body, 0)
    if not math.isfinite(start):
        return None
    usable = (len(body) - 8) // 4 * 4
    samples = np.frombuffer(body[8 : 8 + usable], dtype="<f4").astype(np.float32)
    # Non-finite samples would make the call's heard.wav unwritable (and the call lost).
    return HeardBlock(start_frame=round(start), samples=np.nan_to_num(samples, nan=0.0, posinf=0.0, neginf=0.0))


@dataclass(slots=True)
class PageEvidence:
    """Everything the page reported, in arrival order, on the page's clocks."""

    sent: list[EncodedFrame] = field(default_factory=list)
    received: list[EncodedFrame] = field(default_factory=list)
    heard: list[HeardBlock] = field(default_factory=list)
    stats: list[StatsMessage] = field(default_factory=list)
    played: list[PlayedMessage] = field(default_factory=list)
    steps: list[StepMessage] = field(default_factory=list)
    datachannel: list[DataChannelMessage] = field(default_factory=list)
    speech: list[SpeechMessage] = field(default_factory=list)
    playout: list[tuple[int, float]] = field(default_factory=list)
    """(RTP timestamp, page ms) when Chromium first played each received packet out."""
    warnings: list[WarningMessage] = field(default_factory=list)
    errors: list[ErrorMessage] = field(default_factory=list)
    states: list[StateMessage] = field(default_factory=list)
    """Connection, ICE and DTLS state changes, in order."""
    connected: ConnectedMessage | None = None
    capture: CaptureMessage | None = None
    """getUserMedia mode: when capture started and the track's settings."""
    done: DoneMessage | None = None
    pings: list[PingSample] = field(default_factory=list)
    malformed: int = 0
    """Frames that were not messages of the protocol (text or binary)."""
    problems: list[str] = field(default_factory=list)
    """Why, for the first ``MAX_KEPT_PROBLEMS`` of them."""

    def refuse(self, reason: str) -> None:
        self.malformed += 1
        if len(self.problems) < MAX_KEPT_PROBLEMS:
            self.problems.append(reason[:300])


class PageSession:
    """One call's channel to its page; the server hands it the WebSocket."""

    def __init__(self, clips: dict[str, Float32Audio]) -> None:
        self.token = secrets.token_urlsafe(16)
        self.clips = clips
        self.evidence = PageEvidence()
        self.control: asyncio.Queue[ControlMessage | PageClosed] = asyncio.Queue()
        self.attached = asyncio.Event()
        self.closed = asyncio.Event()
        self._ws: web.WebSocketResponse | None = None
        self._pongs: dict[int, tuple[asyncio.Future[PingSample], int]] = {}
        self._ping_ids = 0

    async def handle(self, ws: web.WebSocketResponse) -> None:
        """Read the page's messages until it goes away."""
        if self._ws is not None:
            await ws.close(message=b"call already attached")
            return
        self._ws = ws
        self.attached.set()
        try:
            async for msg in ws:
                now = time.monotonic_ns()
                if msg.type == WSMsgType.TEXT:
                    self._on_text(msg.data, now)
                elif msg.type == WSMsgType.BINARY:
                    self._on_binary(msg.data)
                elif msg.type == WSMsgType.ERROR:
                    break
        finally:
            self.closed.set()
            self.control.put_nowait(PageClosed())

    async def send(self, msg: PageCommand) -> bool:
        ws = self._ws
        if ws is None or ws.closed:
            return False
        try:
            await ws.send_str(encode_command(msg))
        except (ConnectionError, RuntimeError):
            return False
        return True

    async def ping(self, count: int, *, gap_s: float = 0.01, timeout_s: float = 1.0) -> int:
        """Send ``count`` pings one after another; returns how many were answered."""
        answered = 0
        loop = asyncio.get_running_loop()
        for _ in range(count):
            self._ping_ids += 1
            ping_id = self._ping_ids
            fut: asyncio.Future[PingSample] = loop.create_future()
            sent = time.monotonic_ns()
            self._pongs[ping_id] = (fut, sent)
            if not await self.send(PingMessage(id=ping_id)):
                self._pongs.pop(ping_id, None)
                break
            with contextlib.suppress(TimeoutError):
                self.evidence.pings.append(await asyncio.wait_for(fut, timeout_s))
                answered += 1
            self._pongs.pop(ping_id, None)
            await asyncio.sleep(gap_s)
        return answered

    async def close(self) -> None:
        ws = self._ws
        if ws is not None and not ws.closed:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(ws.close(), 2.0)

    # ------------------------------------------------------------------ intake

    def _on_text(self, data: str, now_ns: int) -> None:
        try:
            msg = parse_message(data)
        except ProtocolError as exc:
            self.evidence.refuse(str(exc))
            return
        ev = self.evidence
        match msg:
            case PongMessage():
                pending = self._pongs.get(msg.id)
                if pending is not None and not pending[0].done():
                    pending[0].set_result(PingSample(sent_ns=pending[1], received_ns=now_ns, page_ms=msg.perf))
            case StatsMessage():
                ev.stats.append(msg)
            case PlayedMessage():
                ev.played.append(msg)
            case StepMessage():
                ev.steps.append(msg)
            case DataChannelMessage():
                ev.datachannel.append(msg)
            case PlayoutMessage():
                ev.playout.extend(msg.rows)
            case SpeechMessage():
                ev.speech.append(msg)
            case WarningMessage():
                ev.warnings.append(msg)
            case CaptureMessage():
                ev.capture = msg
            case ErrorMessage():
                ev.errors.append(msg)
                self.control.put_nowait(msg)
            case StateMessage():
                ev.states.append(msg)
                self.control.put_nowait(msg)
            case ConnectedMessage():
                ev.connected = msg
                self.control.put_nowait(msg)
            case DoneMessage():
                ev.done = msg
                self.control.put_nowait(msg)
            case OfferMessage():
                self.control.put_nowait(msg)
            case _:
                assert_never(msg)

    def _on_binary(self, data: bytes) -> None:
        if len(data) < BINARY_HEADER_BYTES:
            self.evidence.refuse(f"binary frame of {len(data)} bytes, shorter than its header")
            return
        kind, body = data[0], data[BINARY_HEADER_BYTES:]
        if kind == BinaryKind.SENT:
            self.evidence.sent.extend(parse_frames(body))
        elif kind == BinaryKind.RECEIVED:
            self.evidence.received.extend(parse_frames(body))
        elif kind == BinaryKind.HEARD:
            block = parse_heard(body)
            if block is not None:
                self.evidence.heard.append(block)
        else:
            self.evidence.refuse(f"binary frame of unknown kind {kind}")

"""Python's end of one page's WebSocket: commands out, evidence in.

The page streams everything as it happens (encoded frames at the network edge, the
heard audio, data-channel messages, getStats readings, clips played, steps ended), so
whatever arrived before a crash is kept. Control messages (offer, connected, done,
errors) are queued for the caller's state machine; pongs are stamped the moment they
are read, for the clock calibration.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import secrets
import struct
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from aiohttp import WSMsgType, web

from harness.callers.browser.clock_sync import PingSample
from harness.webrtc.audio import Float32Audio

KIND_SENT = 1
KIND_RECV = 2
KIND_HEARD = 3
_HEADER = 8
_FRAME_HEAD = struct.Struct("<dIHH")
CONTROL_TYPES = frozenset({"offer", "connected", "done", "error", "state"})


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
    stats: list[dict[str, Any]] = field(default_factory=list)
    played: list[dict[str, Any]] = field(default_factory=list)
    steps: list[dict[str, Any]] = field(default_factory=list)
    datachannel: list[dict[str, Any]] = field(default_factory=list)
    speech: list[dict[str, Any]] = field(default_factory=list)
    playout: list[list[float]] = field(default_factory=list)
    """[RTP timestamp, page ms] when Chromium first played each received packet out."""
    errors: list[dict[str, Any]] = field(default_factory=list)
    states: list[dict[str, Any]] = field(default_factory=list)
    """Connection, ICE and DTLS state changes, in order."""
    connected: dict[str, Any] | None = None
    capture: dict[str, Any] | None = None
    """getUserMedia mode: when capture started and the track's settings."""
    done: dict[str, Any] | None = None
    pings: list[PingSample] = field(default_factory=list)
    malformed: int = 0


class PageSession:
    """One call's channel to its page; the server hands it the WebSocket."""

    def __init__(self, clips: dict[str, Float32Audio]) -> None:
        self.token = secrets.token_urlsafe(16)
        self.clips = clips
        self.evidence = PageEvidence()
        self.control: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
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
            self.control.put_nowait({"type": "closed"})

    async def send(self, obj: dict[str, Any]) -> bool:
        ws = self._ws
        if ws is None or ws.closed:
            return False
        try:
            await ws.send_str(json.dumps(obj))
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
            if not await self.send({"type": "ping", "id": ping_id}):
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
            msg = json.loads(data)
        except (ValueError, RecursionError):
            self.evidence.malformed += 1
            return
        if not isinstance(msg, dict):
            self.evidence.malformed += 1
            return
        kind = msg.get("type")
        ev = self.evidence
        if kind == "pong":
            pending = self._pongs.get(msg.get("id", -1)) if isinstance(msg.get("id"), int) else None
            if pending is not None and not pending[0].done() and isinstance(msg.get("perf"), (int, float)):
                pending[0].set_result(PingSample(sent_ns=pending[1], received_ns=now_ns, page_ms=float(msg["perf"])))
            return
        if kind == "stats":
            ev.stats.append(msg)
        elif kind == "played":
            ev.played.append(msg)
        elif kind == "step":
            ev.steps.append(msg)
        elif kind == "dc":
            ev.datachannel.append(msg)
        elif kind == "playout":
            rows = msg.get("rows")
            if isinstance(rows, list):
                ev.playout.extend(r for r in rows if isinstance(r, list) and len(r) == 2)
        elif kind == "speech":
            ev.speech.append(msg)
        elif kind == "error":
            ev.errors.append(msg)
        elif kind == "state":
            ev.states.append(msg)
        elif kind == "connected":
            ev.connected = msg
        elif kind == "capture":
            ev.capture = msg
        elif kind == "done":
            ev.done = msg
        if kind in CONTROL_TYPES:
            self.control.put_nowait(msg)

    def _on_binary(self, data: bytes) -> None:
        if len(data) < _HEADER:
            self.evidence.malformed += 1
            return
        kind, body = data[0], data[_HEADER:]
        if kind == KIND_SENT:
            self.evidence.sent.extend(parse_frames(body))
        elif kind == KIND_RECV:
            self.evidence.received.extend(parse_frames(body))
        elif kind == KIND_HEARD:
            block = parse_heard(body)
            if block is not None:
                self.evidence.heard.append(block)
        else:
            self.evidence.malformed += 1

"""What the WebSocket caller hears, live: received audio handed on as it plays.

The scenario reacts to the agent (wait for its reply, barge in N ms after it starts), so
its live detector must hear the audio when a real-time client plays it, not when a
burst arrived: the feed releases the playout model's audio as its edge time comes, and
silence while nothing plays (or the detector would never see a reply end). Marks whose
audio has played are handed back for echoing (Twilio).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable

import numpy as np

from harness.callers.activity import AgentActivity
from harness.webrtc.audio import FRAME_NS, SAMPLE_RATE, samples_to_ns
from harness.ws.codecs import LiveUpsampler
from harness.ws.playout_model import Mark, PlayoutModel

_SILENT_FRAME = np.zeros(SAMPLE_RATE * FRAME_NS // 1_000_000_000, dtype=np.float32)


class LiveFeed:
    def __init__(self, model: PlayoutModel, activity: AgentActivity,
                 on_marks: Callable[[list[Mark]], Awaitable[None]]) -> None:
        self.model = model
        self.activity = activity
        self.on_marks = on_marks
        self._wake = asyncio.Event()
        self._upsamplers: dict[int, LiveUpsampler] = {}

    def wake(self) -> None:
        """New audio or marks were queued."""
        self._wake.set()

    async def run(self) -> None:
        fed_until = time.monotonic_ns()
        while True:
            now = time.monotonic_ns()
            released, marks = self.model.due(now)
            for piece in released:
                fed_until = self._silence(fed_until, piece.edge_ns)
                upsampler = self._upsamplers.setdefault(piece.rate, LiveUpsampler(piece.rate))
                self.activity.on_audio(upsampler.push(piece.samples), 0, piece.edge_ns)
                fed_until = max(fed_until, piece.edge_ns + samples_to_ns(piece.samples.size, piece.rate))
            if not self.model.playing(now):
                fed_until = self._silence(fed_until, now)
            if marks:
                await self.on_marks(marks)
            due = self.model.next_due_ns()
            wait_s = FRAME_NS / 1e9 if due is None else max(0.0, (due - time.monotonic_ns()) / 1e9)
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), min(wait_s, FRAME_NS / 1e9))

    def _silence(self, start_ns: int, end_ns: int) -> int:
        """Silence from ``start_ns`` to ``end_ns`` in whole 20 ms frames; returns where it stopped."""
        while end_ns - start_ns >= FRAME_NS:
            self.activity.on_audio(_SILENT_FRAME, 0, start_ns)
            start_ns += FRAME_NS
        return start_ns

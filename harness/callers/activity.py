"""Live knowledge of whether the agent is speaking, for steering the scenario.

The scenario must react to the agent (wait for its reply, barge in N ms after it starts),
so the received audio runs through a cheap streaming detector as it arrives. These live
times only steer the call; every reported number comes from the offline analysis.
"""

from __future__ import annotations

import asyncio
import contextlib

from harness.analysis.live import LiveSpeechDetector
from harness.records import SegmentationParams
from harness.webrtc.audio import SAMPLE_RATE, Float32Audio, samples_to_ns


class AgentActivity:
    """Onsets/offsets of agent speech on CLOCK_MONOTONIC, with waiters woken on change."""

    def __init__(self, params: SegmentationParams | None = None) -> None:
        self._detector = LiveSpeechDetector(SAMPLE_RATE, params or SegmentationParams())
        self.onsets: list[int] = []
        self.offsets: list[int] = []
        self.speaking = False
        self.packets = 0
        self._changed = asyncio.Event()

    def on_audio(self, samples: Float32Audio, index: int, arrival_ns: int) -> None:
        self.packets += 1
        for event in self._detector.push(samples, arrival_ns + samples_to_ns(samples.size)):
            if event.kind == "onset":
                self.onsets.append(event.t_ns)
                self.speaking = True
            else:
                self.offsets.append(event.t_ns)
                self.speaking = False
        self._changed.set()

    async def wait_change(self, timeout_s: float) -> None:
        self._changed.clear()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._changed.wait(), timeout=max(0.0, timeout_s))

    def onset_after(self, t_ns: int) -> int | None:
        return next((t for t in self.onsets if t > t_ns), None)

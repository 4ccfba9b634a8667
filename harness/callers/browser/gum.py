"""The getUserMedia mode: the caller as a real browser user with audio processing on.

Chromium applies its echo cancellation, noise suppression and automatic gain control
only to captured audio, not to a WebAudio stream, so in this mode the caller's speech
enters through ``getUserMedia`` from Chromium's fake capture device, which plays a WAV
file from the moment capture starts. What that costs, and why:

- **The schedule is fixed before the call.** The file is the whole call's caller audio,
  rendered here: a short lead-in, each ``say`` clip, ``reply_gap_ms`` of silence after a
  clip that awaits a reply (and for a ``listen`` step), ``silence`` steps as written.
  Nothing reacts to the agent, so replies longer than the gap are talked over, and
  ``barge_in``/``backchannel`` steps (live triggers) are refused as a bad scenario.
- **One browser process per call.** The file is a launch flag
  (``--use-file-for-fake-audio-capture``), so each call gets a dedicated browser.
- **Timing is still measured, not assumed**: the clips are found in the Opus frames
  the page sent (after Chromium's processing), so AGC gain changes or the capture
  path's buffering do not move any reported time. If noise suppression or echo
  cancellation mangles a clip past recognition, the call fails with that reason.
- Whether echo cancellation has anything to cancel depends on Chromium hearing its own
  output; headless Chromium's output device is a fake one, so treat AEC results as
  Chromium's behaviour on this machine, not on a user's laptop.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile

from harness.callers.script import ResolvedStep
from harness.records import StepKind
from harness.webrtc.audio import SAMPLE_RATE


class GumUnsupported(Exception):
    """The scenario needs something the fixed-schedule mode cannot do."""


@dataclass(frozen=True, slots=True, kw_only=True)
class GumSettings:
    lead_in_ms: float = 300.0
    """Silence at the start of the file, while capture settles."""
    reply_gap_ms: float = 3000.0
    """Silence left after a clip that awaits a reply (and for a listen step)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class PlannedStep:
    index: int
    kind: StepKind
    utterance: str | None
    start_ms: float
    """From capture start."""
    end_ms: float


@dataclass(frozen=True, slots=True, kw_only=True)
class GumPlan:
    path: Path
    steps: tuple[PlannedStep, ...]
    duration_ms: float

    def launch_args(self) -> tuple[str, ...]:
        return (
            "--use-fake-device-for-media-stream",
            "--use-fake-ui-for-media-stream",
            f"--use-file-for-fake-audio-capture={self.path}%noloop",
        )


def plan_capture(steps: list[ResolvedStep], settings: GumSettings, path: Path) -> GumPlan:
    """Render the call's caller audio into ``path`` and say when each step happens."""
    live = [s for s in steps if s.kind in (StepKind.BARGE_IN, StepKind.BACKCHANNEL)]
    if live:
        s = live[0]
        raise GumUnsupported(
            f"step {s.index} ({s.kind}) needs a live trigger, which the getUserMedia mode cannot "
            "play: its audio is a file fixed before the call (run it without use_get_user_media)"
        )
    per_ms = SAMPLE_RATE / 1000.0
    cursor = round(settings.lead_in_ms * per_ms)
    gap = round(settings.reply_gap_ms * per_ms)
    parts: list[tuple[int, np.ndarray]] = []
    planned = []
    for s in steps:
        start = cursor
        if s.kind is StepKind.SILENCE:
            cursor += round((s.duration_ms or 0) * per_ms)
        elif s.kind is StepKind.LISTEN:
            cursor += gap
        else:
            assert s.audio is not None and s.utterance is not None
            parts.append((cursor, s.audio))
            cursor += s.audio.size + (gap if s.await_reply else 0)
        planned.append(PlannedStep(index=s.index, kind=s.kind, utterance=s.utterance.id if s.utterance else None,
                                   start_ms=start / per_ms, end_ms=cursor / per_ms))
    audio = np.zeros(cursor, dtype=np.float32)
    for at, clip in parts:
        audio[at : at + clip.size] += clip
    path.parent.mkdir(parents=True, exist_ok=True)
    soundfile.write(str(path), audio, SAMPLE_RATE, subtype="PCM_16")
    return GumPlan(path=path, steps=tuple(planned), duration_ms=cursor / per_ms)

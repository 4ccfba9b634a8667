"""The contract between the driver and wherever calls run.

A ``FinishedCall`` is what crosses a process (or network) boundary: the recording and
its audio, compressed losslessly (FLAC), plus where the call ran. ``Executor`` is what
the run lifecycle drives: local worker processes and Ray actors both fit it.
"""

from __future__ import annotations

import collections
import io
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np
import soundfile as sf

from harness.callers.base import CallArtifacts
from harness.records import CallRecording, CallResult, CallSpec, WorkerInfo
from harness.webrtc.audio import Float32Audio


def encode_audio(audio: Float32Audio, sample_rate: int) -> bytes:
    """Mono float32 -> FLAC bytes (16-bit, as the run folder stores it): lossless for
    what is kept on disk, a third of the size on the wire."""
    if audio.size == 0:
        return b""
    buf = io.BytesIO()
    pcm = np.clip(np.asarray(audio, dtype=np.float32), -1.0, 1.0 - 1.0 / 32768)
    sf.write(buf, pcm, sample_rate, format="FLAC", subtype="PCM_16")
    return buf.getvalue()


def decode_audio(data: bytes) -> Float32Audio:
    if not data:
        return np.zeros(0, dtype=np.float32)
    audio, _ = sf.read(io.BytesIO(data), dtype="float32", always_2d=False)
    return np.asarray(audio, dtype=np.float32)


@dataclass(frozen=True, slots=True, kw_only=True)
class FinishedCall:
    """One call as a worker hands it to the driver: picklable and small."""

    recording: CallRecording
    """Carries ``validity`` (was the call disturbed by the harness?) and ``worker``."""
    caller_flac: bytes = b""
    received_flac: bytes = b""
    heard_flac: bytes = b""
    result: CallResult | None = None
    """Its measurements, when the worker's host scored it (``WorkerConfig.scoring_workers``);
    ``None``: the driver scores it."""

    @classmethod
    def from_artifacts(cls, artifacts: CallArtifacts) -> FinishedCall:
        rate = artifacts.recording.sample_rate
        return cls(
            recording=artifacts.recording,
            caller_flac=encode_audio(artifacts.caller_audio, rate),
            received_flac=encode_audio(artifacts.received_audio, rate),
            heard_flac=encode_audio(artifacts.heard_audio, rate),
        )

    def artifacts(self) -> CallArtifacts:
        return CallArtifacts(
            recording=self.recording,
            caller_audio=decode_audio(self.caller_flac),
            received_audio=decode_audio(self.received_flac),
            heard_audio=decode_audio(self.heard_flac),
        )


OnFinished = Callable[[FinishedCall], Awaitable[None]]
"""Called in the driver's event loop as each call ends (in the order calls end)."""
OnStarted = Callable[[CallSpec, WorkerInfo | None], Awaitable[None]]
"""Called in the driver's event loop when a worker starts a call (where, if known)."""


class SpecFeed:
    """Specs that arrive while an executor runs, for a soak whose load model starts calls
    one at a time: ``put`` adds one, ``close`` ends the run once the calls in flight end.

    An executor that supports it (``LocalExecutor``) takes a feed in place of the spec
    list and registers ``wake`` to hear of new specs at once.
    """

    def __init__(self) -> None:
        self.pending: collections.deque[CallSpec] = collections.deque()
        self.closed = False
        self.wake: Callable[[], None] | None = None

    def put(self, spec: CallSpec) -> None:
        if self.closed:
            raise RuntimeError("the feed is closed")
        self.pending.append(spec)
        if self.wake is not None:
            self.wake()

    def close(self) -> None:
        self.closed = True
        if self.wake is not None:
            self.wake()


class Executor(Protocol):
    """Runs planned calls somewhere; never raises for one call's failure."""

    async def run(self, specs: Sequence[CallSpec], on_finished: OnFinished,
                  on_started: OnStarted | None = None) -> None:
        """Run every spec; each ends as exactly one ``on_finished`` (a failed call too,
        with ``recording.failure`` saying why: a worker or node lost mid-call included).
        ``on_started``, when given, is called as each call starts."""
        ...

    async def aclose(self) -> None: ...

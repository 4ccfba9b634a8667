"""What every caller shares: the ``Caller`` protocol, its settings and its output.

The runner, the executors and ``endpoints check`` depend on this module only, never on
a particular caller, so a new transport (WebSocket, telephony) is one more module that
fits the protocol.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from harness.callers.script import PlayerSettings, ResolvedStep
from harness.corpus.errors import CorpusError
from harness.corpus.model import Corpus, load_audio
from harness.records import CallerKind, CallRecording, CallSpec, Failure, NetworkProfile
from harness.webrtc.audio import SAMPLE_RATE, Float32Audio


def _no_audio() -> Float32Audio:
    return np.zeros(0, dtype=np.float32)


@dataclass(frozen=True, slots=True, kw_only=True)
class CallArtifacts:
    """A finished call: its recording and the audio tracks it refers to."""

    recording: CallRecording
    caller_audio: Float32Audio
    received_audio: Float32Audio
    heard_audio: Float32Audio = dataclasses.field(default_factory=_no_audio)
    """Browser caller: what the page played, on the call clock like ``received_audio``
    (timed by ``recording.heard_anchors``); empty for callers that hear nothing else."""


@dataclass(frozen=True, slots=True, kw_only=True)
class CallerSettings:
    connect_timeout_s: float = 15.0
    signalling_timeout_s: float = 10.0
    stats_interval_s: float = 1.0
    player: PlayerSettings = dataclasses.field(default_factory=PlayerSettings)
    network: NetworkProfile | None = None
    """Emulated network between caller and endpoint (``--network``); a call's own
    ``CallSpec.network`` (a ladder step) wins over it. ``None``: the direct path."""


def network_of(spec: CallSpec, default: NetworkProfile | None) -> NetworkProfile | None:
    """The network a call runs over: its own (a ladder step), else the run's."""
    return spec.network if spec.network is not None else default


class Caller(Protocol):
    """What the runner needs of a caller: play one planned call, never raise."""

    async def run(self, spec: CallSpec) -> CallArtifacts: ...


def resolve_steps(spec: CallSpec, corpus: Corpus) -> list[ResolvedStep]:
    """Load every utterance the scenario needs, before any network: raises ``CorpusError``."""
    resolved = []
    for step in spec.scenario.steps:
        utt = corpus.get(step.utterance) if step.utterance else None
        audio = load_audio(utt) if utt is not None else None
        if utt is not None and utt.sample_rate != SAMPLE_RATE:
            raise CorpusError(f"{utt.id}: corpus audio must be {SAMPLE_RATE} Hz, is {utt.sample_rate}")
        resolved.append(
            ResolvedStep(
                index=step.index, kind=step.kind, utterance=utt, audio=audio,
                timeout_ms=step.timeout_ms, await_reply=step.await_reply,
                duration_ms=step.duration_ms, after_onset_ms=step.after_onset_ms,
                reply_quiet_ms=step.reply_quiet_ms,
            )
        )
    return resolved


def failed_artifacts(spec: CallSpec, kind: CallerKind, started_at: str, failure: Failure) -> CallArtifacts:
    """A call that ended before any audio: the failure and empty tracks."""
    empty = _no_audio()
    recording = CallRecording(
        call_id=spec.call_id, scenario_id=spec.scenario.id, endpoint=spec.endpoint.name,
        caller=kind, repeat=spec.repeat, started_at=started_at, failure=failure,
    )
    return CallArtifacts(recording=recording, caller_audio=empty, received_audio=empty)

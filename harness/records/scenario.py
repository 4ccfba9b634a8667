"""What a call is asked to do: corpus items, scenarios and their steps, endpoints, calls."""

from __future__ import annotations

from dataclasses import field
from pathlib import Path

from harness.records.base import JSONValue, record
from harness.records.kinds import CallerKind, Dialect, StepKind
from harness.records.network import NetworkProfile

__all__ = ["CallSpec", "EndpointSpec", "Expectation", "Scenario", "Step", "Utterance"]


@record
class Utterance:
    """One corpus item: a recorded or synthesised phrase with measured speech bounds."""

    id: str
    text: str
    """What is said; the reference for WER."""
    wav: Path
    """Absolute path of the 48 kHz mono 16-bit WAV."""
    sample_rate: int
    num_samples: int
    speech_start: int
    """Index of the first voiced sample, measured by the segmenter."""
    speech_end: int
    """One past the last voiced sample, measured by the segmenter."""
    voiced: tuple[tuple[int, int], ...]
    """Every voiced run [start, end) in samples; more than one for paused items."""
    tags: tuple[str, ...] = ()
    speaker: str = ""
    sha256: str = ""
    """Checksum of the WAV file, so a rebuilt corpus that differs is noticed."""


@record
class Expectation:
    """What a step requires of the agent; ``None`` or empty means not checked."""

    within_ms: float | None = None
    """The reply must start within this many ms of the caller's last voiced sample."""
    contains: tuple[str, ...] = ()
    """Keywords or ``re:``-prefixed regexes the reply's transcript must contain."""
    exact: str | None = None
    """Reference text of the reply, for WER/CER."""
    max_wer: float | None = None
    must_not_stop: bool = False
    """For backchannels: the agent must keep talking."""
    max_stop_ms: float | None = None
    """For barge-in: the agent must stop within this many ms of the interruption onset."""


@record
class Step:
    index: int
    kind: StepKind
    utterance: str | None = None
    """Corpus id for say/barge_in/backchannel."""
    duration_ms: int | None = None
    """For silence."""
    timeout_ms: int = 5000
    """How long to wait for the agent's reply (or greeting) before calling it no response."""
    await_reply: bool = True
    after_onset_ms: int | None = None
    """For barge_in/backchannel: start this long after the agent's speech onset."""
    reply_quiet_ms: int | None = None
    """The reply is over after this much agent silence (``None``: the caller's default)."""
    expect: Expectation = field(default_factory=Expectation)


@record
class Scenario:
    id: str
    steps: tuple[Step, ...]
    tags: tuple[str, ...] = ()
    description: str = ""
    source: str = ""
    """The file it was loaded from, for error messages and reports."""
    weight: float = 1.0
    """Its share of a soak's calls, relative to the others' (``voice-harness soak``)."""


@record
class EndpointSpec:
    """A named endpoint; secrets are referenced by environment variable name only."""

    name: str
    dialect: Dialect
    url: str
    api_key_env: str | None = None
    options: dict[str, JSONValue] = field(default_factory=dict)
    """Dialect-specific settings (model, voice, turn_detection, ...)."""


@record
class CallSpec:
    call_id: str
    scenario: Scenario
    endpoint: EndpointSpec
    caller: CallerKind
    repeat: int = 0
    network: NetworkProfile | None = None
    """This call's network (a ladder step); ``None``: the caller settings' profile, if any."""

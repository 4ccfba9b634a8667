"""The frozen records that flow between the harness's stages, and nothing else.

Each stage reads records and writes records; keeping them in one module means the
shape of the pipeline can be read in one place and every stage's state can be put on
disk and read back (``rescore`` re-runs everything after a ``CallRecording``).

Times are integers in nanoseconds on the call clock (``harness.clock``) unless a
field name says otherwise; audio positions are sample indices.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import TypeVar, dataclass_transform

import numpy as np
from numpy.typing import NDArray
from typing_extensions import TypeAliasType

SCHEMA_VERSION = 1
"""Written into every file the harness produces, so readers can refuse what they do not know."""

JSONScalar = str | int | float | bool | None
JSONValue = TypeAliasType(  # a named alias, so pydantic and mypy can follow the recursion
    "JSONValue", "JSONScalar | list[JSONValue] | dict[str, JSONValue]"
)

_T = TypeVar("_T")


@dataclass_transform(frozen_default=True, kw_only_default=True, field_specifiers=(field,))
def _record(cls: type[_T]) -> type[_T]:
    """Every record: frozen (stages never mutate each other's output), slotted, keyword-only."""
    wrap: Callable[[type[_T]], type[_T]] = dataclass(frozen=True, slots=True, kw_only=True)
    return wrap(cls)


class CallerKind(StrEnum):
    AIORTC = "aiortc"
    BROWSER = "browser"
    WEBSOCKET = "websocket"
    """Paced PCM over a WebSocket with a playout model; picked for WebSocket dialects."""


class Dialect(StrEnum):
    OPENAI_REALTIME = "openai-realtime"
    PIPECAT = "pipecat"
    WHIP = "whip"
    OPENAI_REALTIME_WS = "openai-realtime-ws"
    GEMINI_LIVE = "gemini-live"
    ELEVENLABS_AGENTS = "elevenlabs-agents"
    TWILIO_MEDIA_STREAMS = "twilio-media-streams"
    WEBSOCKET_PCM = "websocket-pcm"


class StepKind(StrEnum):
    SAY = "say"
    """Speak an utterance, then (unless ``await_reply`` is off) wait for the agent's reply."""
    LISTEN = "listen"
    """Say nothing and wait for the agent to speak (a greeting)."""
    SILENCE = "silence"
    """Stay silent for a fixed time."""
    BARGE_IN = "barge_in"
    """Speak over the agent a set time after its speech onset; the agent should stop."""
    BACKCHANNEL = "backchannel"
    """Speak over the agent briefly; the agent should keep talking."""


class FailureKind(StrEnum):
    OFFER_REFUSED = "offer_refused"
    SIGNALLING_ERROR = "signalling_error"
    CONNECT_ERROR = "connect_error"
    ICE_FAILED = "ice_failed"
    NO_AUDIO = "no_audio"
    ENDPOINT_HUNG = "endpoint_hung"
    DROPPED = "dropped"
    MALFORMED_EVENT = "malformed_event"
    BAD_SCENARIO = "bad_scenario"
    MISSING_CORPUS_ITEM = "missing_corpus_item"
    BROWSER_UNAVAILABLE = "browser_unavailable"
    CALLER_ERROR = "caller_error"


class EventKind(StrEnum):
    """The harness's own names for endpoint events; vendor names stay inside adapters."""

    SESSION_CREATED = "session_created"
    SPEECH_STARTED = "speech_started"
    SPEECH_STOPPED = "speech_stopped"
    INPUT_COMMITTED = "input_committed"
    RESPONSE_CREATED = "response_created"
    RESPONSE_DONE = "response_done"
    AUDIO_STARTED = "audio_started"
    AUDIO_STOPPED = "audio_stopped"
    AUDIO_CLEARED = "audio_cleared"
    INPUT_TRANSCRIPT = "input_transcript"
    OUTPUT_TRANSCRIPT = "output_transcript"
    METRICS = "metrics"
    ERROR = "error"
    OTHER = "other"


# --------------------------------------------------------------------------- corpus


@_record
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


# ------------------------------------------------------------------------- scenario


@_record
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


@_record
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


@_record
class Scenario:
    id: str
    steps: tuple[Step, ...]
    tags: tuple[str, ...] = ()
    description: str = ""
    source: str = ""
    """The file it was loaded from, for error messages and reports."""


# ------------------------------------------------------------------------ endpoints


@_record
class EndpointSpec:
    """A named endpoint; secrets are referenced by environment variable name only."""

    name: str
    dialect: Dialect
    url: str
    api_key_env: str | None = None
    options: dict[str, JSONValue] = field(default_factory=dict)
    """Dialect-specific settings (model, voice, turn_detection, ...)."""


@_record
class CallSpec:
    call_id: str
    scenario: Scenario
    endpoint: EndpointSpec
    caller: CallerKind
    repeat: int = 0


# ----------------------------------------------------------------------- recording


@_record
class Failure:
    kind: FailureKind
    reason: str
    """Human-readable; never contains a secret."""
    step_index: int | None = None
    t_ns: int | None = None


@_record
class SentUtterance:
    """One utterance the caller played, placed on the call clock to the sample."""

    step_index: int
    kind: StepKind
    utterance_id: str
    utterance_tags: tuple[str, ...] = ()
    """The corpus item's tags (e.g. ``pause_700``), so metrics can group by them."""
    start_sample: int
    """Where its first sample sits in caller.wav (caller.wav starts at t=0)."""
    start_ns: int
    speech_start_ns: int
    speech_end_ns: int
    """End of the last voiced sample: the reference point of turn latency."""
    voiced_ns: tuple[tuple[int, int], ...]
    trigger_ns: int | None = None
    """For live-triggered steps: when the trigger (agent onset + offset) fired."""
    agent_onset_ns: int | None = None
    """For live-triggered steps: the live detector's agent onset the trigger counted from."""


@_record
class StepLog:
    """When a step began and ended in the live call, and why it ended."""

    step_index: int
    kind: StepKind
    started_ns: int
    ended_ns: int
    outcome: str
    """reply_ended | timeout | done | failed | skipped"""


@_record
class EndpointEvent:
    t_ns: int
    """Arrival time on the call clock."""
    kind: EventKind
    vendor_type: str
    """The endpoint's own event name, kept as evidence."""
    data: dict[str, JSONValue] = field(default_factory=dict)
    """A small, known subset of the event (transcript text, audio_end_ms, status)."""


@_record
class TransportSample:
    """One reading of the transport statistics."""

    t_ns: int
    packets_received: int
    packets_lost: int
    jitter_ms: float | None = None
    rtt_ms: float | None = None
    concealed_samples: int | None = None
    jitter_buffer_ms: float | None = None
    """Receiver buffering (browser: jitterBufferDelay/EmittedCount); never part of latency."""


@_record
class SendTiming:
    """How well the caller kept to its 20 ms frame schedule."""

    frames: int
    late_frames: int
    """Frames handed to the transport more than 5 ms after their slot."""
    error_p50_ms: float
    error_p99_ms: float
    error_max_ms: float


@_record
class WorkerInfo:
    """Where a call ran: the process that paced its audio."""

    host: str
    pid: int
    node: str = "local"
    """Ray node id for calls run on a cluster; ``local`` for this machine's workers."""
    region: str = ""
    """A region label (from the Ray node's labels or resources), for per-region latency."""


@_record
class CallValidity:
    """Whether the harness itself disturbed the call (validity guard), with the figures.

    A disturbed call's numbers say more about the harness than about the endpoint: it
    is flagged on every row and report and left out of SLO verdicts and regressions.
    """

    disturbed: bool
    reasons: tuple[str, ...] = ()
    """One line per threshold crossed, with the observed figure and the limit."""
    send_error_p50_ms: float | None = None
    send_error_p99_ms: float | None = None
    send_error_max_ms: float | None = None
    max_frame_gap_ms: float | None = None
    """Largest interval between two consecutive sent frames (20 ms when on time)."""
    loop_lag_p99_ms: float | None = None
    loop_lag_max_ms: float | None = None
    """How late the caller's event loop woke a periodic probe (its own responsiveness)."""
    injection_p99_ms: float | None = None
    """Browser caller: how late clips were scheduled into WebAudio."""


@_record
class CallRecording:
    """Everything a call produced; the last stage that needed real time."""

    schema_version: int = SCHEMA_VERSION
    call_id: str
    scenario_id: str
    endpoint: str
    caller: CallerKind
    repeat: int = 0
    sample_rate: int = 48000
    started_at: str = ""
    """Wall-clock ISO time of the call start, for humans only."""
    origin_monotonic_ns: int | None = None
    """CLOCK_MONOTONIC of t=0, so host-local ground truth (agent logs) can be compared."""
    connected_ns: int | None = None
    """When media was connected (ICE + DTLS), on the call clock (negative: before t=0)."""
    duration_ns: int = 0
    caller_wav: str = "caller.wav"
    received_wav: str = "received.wav"
    received_anchors: tuple[tuple[int, int], ...] = ()
    """(sample index in received.wav, arrival ns) per received packet: maps audio to time."""
    arrival_source: str = ""
    """Where arrival times came from: ``kernel`` (SO_TIMESTAMPNS, immune to a busy event
    loop) or ``loop`` (when Python read the packet)."""
    sent: tuple[SentUtterance, ...] = ()
    steps: tuple[StepLog, ...] = ()
    events: tuple[EndpointEvent, ...] = ()
    transport: tuple[TransportSample, ...] = ()
    send_timing: SendTiming | None = None
    failure: Failure | None = None
    dialect_info: dict[str, JSONValue] = field(default_factory=dict)
    """Non-secret facts from signalling (session id, Location), for the report."""
    heard_anchors: tuple[tuple[int, int], ...] = ()
    """Browser caller: (sample index in received.wav, call-clock ns when Chromium played that
    packet out of its jitter buffer): the same audio timed as a listener hears it."""
    heard_wav: str = ""
    """Browser caller: the page's own recording of what it played (with Chromium's loss
    concealment), roughly on the call clock; for listening, not timing. Empty if none."""
    caller_info: dict[str, JSONValue] = field(default_factory=dict)
    """Facts about the caller itself: browser version, clock calibration error, ..."""
    validity: CallValidity | None = None
    """The validity guard's judgement; ``None`` for recordings made before it existed."""
    worker: WorkerInfo | None = None
    """Where the call ran."""


# ------------------------------------------------------------------------ analysis


@_record
class SegmentationParams:
    """Every threshold of the speech detector, recorded with the results it produced."""

    frame_ms: float = 10.0
    threshold_db: float = 12.0
    """Onset threshold above the adaptive noise floor."""
    release_db: float = 6.0
    """Hysteresis: a frame stays voiced while above floor + release_db."""
    absolute_floor_dbfs: float = -60.0
    """Frames quieter than this are never speech, whatever the noise floor."""
    min_speech_ms: float = 50.0
    hangover_ms: float = 250.0
    merge_gap_ms: float = 400.0
    """Segments closer than this are one turn."""
    floor_rise_db_per_s: float = 3.0
    """How fast the noise floor may rise (it falls at once to a quieter frame); starts at
    ``absolute_floor_dbfs``, so speech at the first sample is never learnt as noise."""
    envelope_ms: float = 2.0
    """Window of the short RMS envelope that refines onsets/ends to the sample."""


@_record
class SpeechSegment:
    start: int
    """First voiced sample (backdated to the envelope's threshold crossing)."""
    end: int
    """One past the last voiced sample."""
    peak_dbfs: float = 0.0


@_record
class TimedSegment:
    start_ns: int
    end_ns: int


@_record
class Timeline:
    """Speech of both sides and the endpoint's events on one call clock."""

    call_id: str
    caller_speech: tuple[SentUtterance, ...]
    agent_speech: tuple[TimedSegment, ...]
    """Agent speech bursts (before merging)."""
    agent_turns: tuple[TimedSegment, ...]
    """Agent bursts merged by ``merge_gap_ms``."""
    events: tuple[EndpointEvent, ...]
    params: SegmentationParams
    connected_ns: int | None = None
    end_ns: int = 0


def _no_audio() -> NDArray[np.float32]:
    return np.zeros(0, dtype=np.float32)


@_record
class CallAudio:
    """Both tracks of a call, for metric families that judge the audio itself (quality,
    accuracy); kept out of ``CallRecording`` because it lives in the WAV files beside it."""

    caller: NDArray[np.float32] = field(default_factory=_no_audio)
    """What was sent (caller.wav), mono float32 at the recording's sample rate; empty if unknown."""
    received: NDArray[np.float32] = field(default_factory=_no_audio)
    """What arrived (received.wav), mono float32 at the recording's sample rate."""
    texts: dict[str, str] = field(default_factory=dict)
    """Corpus text per utterance id the caller said: the script that the endpoint's own
    transcript of the caller is compared with; empty when the corpus is not at hand."""


@_record
class Measurement:
    """One number about one turn (or call); ``results.jsonl`` has one line per instance."""

    call_id: str
    scenario: str
    endpoint: str
    caller: CallerKind
    repeat: int
    turn: int | None
    """Step index the number belongs to; ``None`` for call-level numbers."""
    metric: str
    value: float | None
    unit: str
    passed: bool | None = None
    """Whether the step's expectation held; ``None`` when there was none."""
    reason: str | None = None
    """Why value is missing or an expectation failed."""


@_record
class CallResult:
    spec_call_id: str
    scenario: str
    endpoint: str
    caller: CallerKind
    repeat: int
    measurements: tuple[Measurement, ...]
    failure: Failure | None = None

    @property
    def ok(self) -> bool:
        return self.failure is None and all(m.passed is not False for m in self.measurements)


@_record
class MetricSummary:
    """Percentiles of one metric over one group of measurements."""

    metric: str
    unit: str
    group: str
    """``all`` or ``scenario=<id>`` etc."""
    n: int
    p50: float | None
    p90: float | None
    p95: float | None
    p99: float | None
    max: float | None
    mean: float | None
    p50_ci: tuple[float, float] | None = None
    p95_ci: tuple[float, float] | None = None


# ------------------------------------------------------------------------- verdicts


class VerdictStatus(StrEnum):
    PASS = "pass"
    FAIL = "fail"
    INSUFFICIENT_SAMPLES = "insufficient_samples"
    """Too few values to judge: its own verdict, never a silent pass."""


class VerdictKind(StrEnum):
    SLO = "slo"
    """An absolute threshold from the SLO file."""
    REGRESSION = "regression"
    """A change against a baseline run."""


@_record
class Verdict:
    """One gate decision, with the evidence a reader needs to check it."""

    kind: VerdictKind = VerdictKind.SLO
    rule: str
    """The rule's name (from the SLO file, or ``regression``)."""
    metric: str
    stat: str
    """p50 | p90 | p95 | p99 | pNN | max | min | mean | rate."""
    group: str = "all"
    """Which measurements: ``all`` or ``endpoint=x,caller=y`` etc."""
    op: str = "<="
    """How observed is compared with threshold: ``<=`` or ``>=``."""
    threshold: float
    observed: float | None
    """``None`` when there were no values at all."""
    n: int
    """Sample size behind ``observed``."""
    min_samples: int = 1
    status: VerdictStatus
    unit: str = ""
    detail: str = ""
    """For regressions: baseline value, difference, its 95% CI and the rank-test p-value."""

"""What a call produced: the recording and the parts it is made of (the last stage that
needed real time; everything after it can be recomputed from it)."""

from __future__ import annotations

from dataclasses import field

from harness.records.base import SCHEMA_VERSION, JSONValue, record
from harness.records.kinds import CallerKind, EventKind, FailureKind, StepKind, StepOutcome
from harness.records.network import NetworkApplied

__all__ = [
    "CallRecording", "CallValidity", "EndpointEvent", "Failure", "SendTiming", "SentUtterance",
    "StepLog", "TransportSample", "WorkerInfo",
]


@record
class Failure:
    kind: FailureKind
    reason: str
    """Human-readable; never contains a secret."""
    step_index: int | None = None
    t_ns: int | None = None


@record
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
    """End of the last voiced sample (the corpus detector's release): the reference point
    of turn latency, unless scoring is asked to end the caller's speech at a level
    (``SegmentationParams.caller_end_dbfs``)."""
    voiced_ns: tuple[tuple[int, int], ...]
    trigger_ns: int | None = None
    """For live-triggered steps: when the trigger (agent onset + offset) fired."""
    agent_onset_ns: int | None = None
    """For live-triggered steps: the live detector's agent onset the trigger counted from."""
    speech_end_sample: int | None = None
    """Where ``speech_end_ns`` sits in caller.wav (one past the last voiced sample), so a
    scorer can read the caller audio around the end; ``None`` in recordings made before
    it was recorded (then derived from the times, as ``caller_turn_audio`` does)."""


@record
class StepLog:
    """When a step began and ended in the live call, and why it ended."""

    step_index: int
    kind: StepKind
    started_ns: int
    ended_ns: int
    outcome: StepOutcome


@record
class EndpointEvent:
    t_ns: int
    """Arrival time on the call clock."""
    kind: EventKind
    vendor_type: str
    """The endpoint's own event name, kept as evidence."""
    data: dict[str, JSONValue] = field(default_factory=dict)
    """A small, known subset of the event (transcript text, audio_end_ms, status)."""


@record
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


@record
class SendTiming:
    """How well the caller kept to its 20 ms frame schedule."""

    frames: int
    late_frames: int
    """Frames handed to the transport more than 5 ms after their slot."""
    error_p50_ms: float
    error_p99_ms: float
    error_max_ms: float
    max_gap_ms: float | None = None
    """Largest interval between two consecutive sent frames (20 ms when on time); ``None``
    in recordings made before it was recorded."""


@record
class WorkerInfo:
    """Where a call ran: the process that paced its audio."""

    host: str
    pid: int
    node: str = "local"
    """Ray node id for calls run on a cluster; ``local`` for this machine's workers."""
    region: str = ""
    """A region label (from the Ray node's labels or resources), for per-region latency."""
    scheduling: str = ""
    """The worker loop's scheduling (``realtime SCHED_RR 3``, ``nice 0``): whether the
    kernel protected its real-time path (``priority.py``); empty in old files."""


@record
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


@record
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
    network: NetworkApplied | None = None
    """The emulated network the call ran over and what it did; ``None`` without one."""

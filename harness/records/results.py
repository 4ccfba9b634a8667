"""The numbers: one per metric per turn, a call's result, and summaries over many."""

from __future__ import annotations

from harness.records.analysis import CallerSpeechEnd
from harness.records.base import record
from harness.records.kinds import CallerKind
from harness.records.recording import CallValidity, Failure

__all__ = ["CallResult", "Measurement", "MetricSummary", "SpeechEndSummary"]


@record
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
    disturbed: bool = False
    """The call this number comes from was disturbed by the harness itself (validity
    guard, ``CallRecording.validity``): reported, but left out of SLO verdicts and
    baseline comparisons unless asked for."""


@record
class CallResult:
    spec_call_id: str
    scenario: str
    endpoint: str
    caller: CallerKind
    repeat: int
    measurements: tuple[Measurement, ...]
    failure: Failure | None = None
    validity: CallValidity | None = None
    """The validity guard's verdict on the call (from its recording)."""
    caller_ends: tuple[CallerSpeechEnd, ...] = ()
    """Where each sent utterance's speech ended for the metrics, and the detector's end
    with its level (run.json's ``speech_end`` summarises them); not in results.jsonl."""

    @property
    def disturbed(self) -> bool:
        return self.validity is not None and self.validity.disturbed

    @property
    def ok(self) -> bool:
        return self.failure is None and all(m.passed is not False for m in self.measurements)


@record
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


@record
class SpeechEndSummary:
    """What "the end of the caller's speech" meant in a run, in dBFS (run.json).

    Turn latency counts from that end, so a number is only read right with its
    definition: the detector's release (whose level depends on the corpus and is
    stated as the median *effective* level) or the last sample at a chosen level.
    """

    level_dbfs: float | None = None
    """``SegmentationParams.caller_end_dbfs``: ``None`` for the detector's release."""
    utterances: int = 0
    """Sent utterances of the scored calls."""
    effective_dbfs_p50: float | None = None
    """Median level of the end envelope at the detector's end (``None`` without caller audio)."""
    effective_dbfs_min: float | None = None
    effective_dbfs_max: float | None = None
    shift_ms_p50: float | None = None
    """With a level: median of (end used − detector's end), negative when earlier."""
    kept: int = 0
    """Utterances whose detector end was kept although a level was asked for."""
    kept_because: tuple[str, ...] = ()
    """Why, once per distinct reason."""

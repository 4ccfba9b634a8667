"""The numbers: one per metric per turn, a call's result, and summaries over many."""

from __future__ import annotations

from harness.records.base import record
from harness.records.kinds import CallerKind
from harness.records.recording import CallValidity, Failure

__all__ = ["CallResult", "Measurement", "MetricSummary"]


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

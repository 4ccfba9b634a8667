"""The frozen records that flow between the harness's stages, and nothing else.

Each stage reads records and writes records; every stage's state can be put on disk
and read back (``rescore`` re-runs everything after a ``CallRecording``). The records
are grouped by stage in the modules below, and every one is importable from here
(``from harness.records import CallRecording``), which is how the rest of the harness
imports them, so the shape of the pipeline can still be read from this list:

- ``base``: ``SCHEMA_VERSION``, ``JSONValue`` and the ``record`` decorator;
- ``kinds``: the enumerations (callers, dialects, steps and their outcomes, failures,
  endpoint events);
- ``scenario``: corpus items, scenarios and steps, endpoints, calls to make;
- ``network``: the emulated network a call asked for and what it got;
- ``recording``: what a call produced (``CallRecording`` and its parts);
- ``analysis``: speech on one call clock (``Timeline``) and the call's audio;
- ``results``: measurements, a call's result, summaries;
- ``verdicts``: gate decisions and the statistics they are stated in.

Times are integers in nanoseconds on the call clock (``harness.clock``) unless a
field name says otherwise; audio positions are sample indices.
"""

from harness.records.analysis import (
    CallAudio,
    CallerSpeechEnd,
    SegmentationParams,
    SpeechSegment,
    TimedSegment,
    Timeline,
)
from harness.records.base import SCHEMA_VERSION, JSONScalar, JSONValue, record
from harness.records.kinds import CallerKind, Dialect, EventKind, FailureKind, StepKind, StepOutcome
from harness.records.network import LinkApplied, LinkProfile, NetworkApplied, NetworkProfile
from harness.records.recording import (
    CallRecording,
    CallValidity,
    EndpointEvent,
    Failure,
    SendTiming,
    SentUtterance,
    StepLog,
    TransportSample,
    WorkerInfo,
)
from harness.records.results import CallResult, Measurement, MetricSummary, SpeechEndSummary
from harness.records.scenario import CallSpec, EndpointSpec, Expectation, Scenario, Step, Utterance
from harness.records.verdicts import Stat, StatName, Verdict, VerdictKind, VerdictOp, VerdictStatus

__all__ = [
    "SCHEMA_VERSION",
    "CallAudio",
    "CallRecording",
    "CallResult",
    "CallSpec",
    "CallValidity",
    "CallerKind",
    "CallerSpeechEnd",
    "Dialect",
    "EndpointEvent",
    "EndpointSpec",
    "EventKind",
    "Expectation",
    "Failure",
    "FailureKind",
    "JSONScalar",
    "JSONValue",
    "LinkApplied",
    "LinkProfile",
    "Measurement",
    "MetricSummary",
    "NetworkApplied",
    "NetworkProfile",
    "Scenario",
    "SegmentationParams",
    "SendTiming",
    "SentUtterance",
    "SpeechEndSummary",
    "SpeechSegment",
    "Stat",
    "StatName",
    "Step",
    "StepKind",
    "StepLog",
    "StepOutcome",
    "TimedSegment",
    "Timeline",
    "TransportSample",
    "Utterance",
    "Verdict",
    "VerdictKind",
    "VerdictOp",
    "VerdictStatus",
    "WorkerInfo",
    "record",
]

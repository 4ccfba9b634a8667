"""What the driver and a local caller worker process say to each other over their pipe.

Plain picklable records. The driver sends calls and a stop; the worker answers with
readiness, the start and end of each call, and its admission state (also as a
heartbeat, so a hung worker is noticed).
"""

from __future__ import annotations

from dataclasses import dataclass

from harness.executors.admission import Admission
from harness.executors.base import FinishedCall
from harness.records import CallSpec, WorkerInfo


@dataclass(frozen=True, slots=True, kw_only=True)
class RunCall:
    spec: CallSpec


@dataclass(frozen=True, slots=True, kw_only=True)
class Stop:
    """Finish: the driver sends it once no call is left in the worker."""


@dataclass(frozen=True, slots=True, kw_only=True)
class WorkerReady:
    info: WorkerInfo


@dataclass(frozen=True, slots=True, kw_only=True)
class WorkerFailed:
    """The worker could not start (no corpus, a broken install): its reason, then it exits."""

    reason: str


@dataclass(frozen=True, slots=True, kw_only=True)
class CallBegan:
    call_id: str
    t_ns: int
    """CLOCK_MONOTONIC when the worker started the call."""


@dataclass(frozen=True, slots=True, kw_only=True)
class CallDone:
    finished: FinishedCall


@dataclass(frozen=True, slots=True, kw_only=True)
class Health:
    admission: Admission
    active: int
    received: int
    """Calls the worker has been sent so far: the driver trusts an ``admitting`` only
    once it covers every call it dispatched (no stale "yes" right after a dispatch)."""


ToWorker = RunCall | Stop
FromWorker = WorkerReady | WorkerFailed | CallBegan | CallDone | Health

__all__ = [
    "CallBegan",
    "CallDone",
    "FromWorker",
    "Health",
    "RunCall",
    "Stop",
    "ToWorker",
    "WorkerFailed",
    "WorkerReady",
]

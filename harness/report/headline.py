"""Passed or not, and why: the line every report of a run starts with.

A run passes when every call ended and met its expectations, no gate verdict failed
and the validity guard disturbed no call (a disturbed call is the harness's own
trouble, so the run cannot vouch for the endpoint). The headline counts each of those
and says which one failed, so the reader does not scroll to find out; the HTML page and
the Markdown summary render this same record.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from harness.records import Verdict, VerdictKind, VerdictStatus
from harness.report.context import CallEntry, ReportContext
from harness.scoring import CALL_FAILED

__all__ = ["EXPECTATION_NOT_MET", "GateCount", "Headline", "failure_reason", "headline"]

EXPECTATION_NOT_MET = "expectation not met"
UNREADABLE = "call folder unreadable"

_KIND_NAMES = {VerdictKind.SLO: "SLO", VerdictKind.REGRESSION: "baseline", VerdictKind.DRIFT: "drift"}


@dataclass(frozen=True, slots=True, kw_only=True)
class GateCount:
    kind: str
    """``SLO``, ``baseline`` or ``drift``."""
    passed: int
    failed: int
    insufficient: int


@dataclass(frozen=True, slots=True, kw_only=True)
class Headline:
    passed: bool
    calls: int
    failed_calls: int
    """Calls that failed or missed an expectation (disturbed ones included)."""
    reasons: tuple[tuple[str, int], ...]
    """Failed calls by reason (a failure kind, :data:`EXPECTATION_NOT_MET`, ...), most first."""
    disturbed: int
    disturbed_counted: bool
    """Whether disturbed calls' numbers are in the statistics and the gate."""
    gates: tuple[GateCount, ...]
    """Verdict counts per kind, for the kinds the run has."""
    failing: tuple[Verdict, ...]
    """Failed verdicts, in run.json's order."""


def failure_reason(call: CallEntry) -> str:
    """Why a call is not ok, in one short name: its failure kind, an unreadable folder,
    or an expectation it missed."""
    if call.recording is not None and call.recording.failure is not None:
        return str(call.recording.failure.kind)
    if call.error:
        return UNREADABLE
    for m in call.measurements:
        if m.metric == CALL_FAILED and m.value == 1.0:
            return (m.reason or "call failed").split(":", 1)[0].strip() or "call failed"
    return EXPECTATION_NOT_MET


def _gate_counts(verdicts: Sequence[Verdict]) -> tuple[GateCount, ...]:
    out = []
    for kind, name in _KIND_NAMES.items():
        mine = [v for v in verdicts if v.kind is kind]
        if mine:
            out.append(GateCount(
                kind=name,
                passed=sum(1 for v in mine if v.status is VerdictStatus.PASS),
                failed=sum(1 for v in mine if v.status is VerdictStatus.FAIL),
                insufficient=sum(1 for v in mine if v.status is VerdictStatus.INSUFFICIENT_SAMPLES),
            ))
    return tuple(out)


def headline(ctx: ReportContext) -> Headline:
    failed = [c for c in ctx.calls if not c.ok]
    reasons: dict[str, int] = {}
    for call in failed:
        why = failure_reason(call)
        reasons[why] = reasons.get(why, 0) + 1
    failing = tuple(v for v in ctx.verdicts if v.status is VerdictStatus.FAIL)
    disturbed = len(ctx.disturbed_calls)
    return Headline(
        passed=not failed and not failing and not disturbed,
        calls=len(ctx.calls), failed_calls=len(failed),
        reasons=tuple(sorted(reasons.items(), key=lambda kv: (-kv[1], kv[0]))),
        disturbed=disturbed, disturbed_counted=ctx.include_disturbed,
        gates=_gate_counts(ctx.verdicts), failing=failing,
    )

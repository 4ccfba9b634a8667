"""Drift rules of the SLO file -> verdicts, from a soak's drift entries.

A rule ``max_drift_per_hour = 30`` on ``turn_latency_ms`` ``p50`` fails when the
windows show a *significant* rise (Mann–Kendall and the Theil–Sen interval agree,
``DriftEntry.significant``) whose slope exceeds 30 ms per hour. The rule is the user's
size bound, so the entry's own size tolerance (what makes it ``drifting``) is not applied. A slope
over the bound that is not significant passes, with the interval in the detail: the
gate never fails on noise. Too few windows is ``insufficient_samples``, and a rule
whose metric the windows do not carry says so (n = 0) rather than passing quietly.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Sequence
from pathlib import Path

from harness.records import Verdict, VerdictKind, VerdictStatus
from harness.slo.baseline import drift_tolerance
from harness.slo.rules import DriftRule
from harness.stats.drift import MIN_WINDOWS, DriftEntry, DriftVerdict, window_drift
from harness.store.run_folder import RunFolderError, read_run_info
from harness.store.serialize import SerializationError
from harness.store.windows import read_windows

__all__ = ["drift_entries", "evaluate_drift"]


def drift_entries(run_dir: Path) -> list[DriftEntry]:
    """The run's drift entries: run.json's (the soak keeps them current at every window),
    else computed from windows.jsonl (a folder whose run.json is missing or older)."""
    try:
        stored = list(read_run_info(run_dir).drift)
    except (RunFolderError, SerializationError, OSError):
        stored = []
    return stored or window_drift(read_windows(run_dir), tolerance=drift_tolerance)


def _make(rule: DriftRule, *, observed: float | None, n: int, status: VerdictStatus,
          unit: str = "", detail: str = "") -> Verdict:
    return Verdict(kind=VerdictKind.DRIFT, rule=rule.name, metric=rule.metric, stat=rule.stat,
                   op=rule.op, threshold=rule.threshold_per_hour, observed=observed, n=n,
                   min_samples=MIN_WINDOWS, status=status, unit=unit, detail=detail)


def _verdict(rule: DriftRule, entry: DriftEntry | None) -> Verdict:
    if entry is None:
        return _make(rule, observed=None, n=0, status=VerdictStatus.INSUFFICIENT_SAMPLES,
                     detail="no window carries this metric")
    unit = f"{entry.unit}/hour" if entry.unit else "/hour"
    if entry.verdict is DriftVerdict.INSUFFICIENT or entry.slope_per_hour is None:
        return _make(rule, observed=None, n=entry.windows, unit=unit,
                     status=VerdictStatus.INSUFFICIENT_SAMPLES, detail=entry.text)
    slope = entry.slope_per_hour
    beyond = not rule.op.holds(slope, rule.threshold_per_hour)
    detail = entry.text + ("" if entry.p_value is None else f", Mann-Kendall p={entry.p_value:.2g}")
    status = VerdictStatus.FAIL if beyond and entry.significant else VerdictStatus.PASS
    return _make(rule, observed=slope, n=entry.windows, unit=unit, status=status, detail=detail)


def evaluate_drift(rules: Sequence[DriftRule], entries: Sequence[DriftEntry]) -> list[Verdict]:
    """One verdict per rule and matching entry (``metric`` may be a glob)."""
    out: list[Verdict] = []
    for rule in rules:
        matched = [e for e in entries
                   if fnmatch.fnmatchcase(e.metric, rule.metric) and e.stat == rule.stat]
        out += [_verdict(rule, e) for e in matched] if matched else [_verdict(rule, None)]
    return out

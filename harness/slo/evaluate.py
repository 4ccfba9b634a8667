"""SLO rules + a run's measurements -> one Verdict per rule and group.

Too few values is ``insufficient_samples``, never a pass: three lucky turns do not
show a p95. A rule that selects nothing at all also says so (n = 0), which is how a
misspelt metric or filter shows up instead of passing quietly.
"""

from __future__ import annotations

from collections.abc import Sequence

from harness.records import Verdict, VerdictKind, VerdictStatus
from harness.slo.data import RunData, filter_label, group_key, select, values_of
from harness.slo.rules import SloFile, SloRule
from harness.stats.stat import StatError, compute

__all__ = ["evaluate", "evaluate_rule", "gate_failed"]


def evaluate_rule(rule: SloRule, data: RunData) -> list[Verdict]:
    chosen = select(data, rule.metric, rule.where)
    groups: dict[str, list[float]] = {}
    units: dict[str, str] = {}
    for m in chosen:
        key = group_key(m, data.context(m.call_id), rule.by)
        groups.setdefault(key, [])
        units.setdefault(key, m.unit)
    for m in chosen:
        groups[group_key(m, data.context(m.call_id), rule.by)].extend(values_of([m]))
    if not groups:
        groups["all" if not rule.by else "(no measurements)"] = []
    where = filter_label(rule.where)
    out = []
    for key, values in sorted(groups.items()):
        label = key if not where else (where if key == "all" else f"{where};{key}")
        n = len(values)
        detail = ""
        try:
            observed = compute(rule.stat, values)
        except StatError as exc:
            observed, detail = None, str(exc)
        if observed is None or n < rule.min_samples:
            status = VerdictStatus.INSUFFICIENT_SAMPLES
            detail = detail or f"{n} value(s), rule needs at least {rule.min_samples}"
        elif rule.op.holds(observed, rule.threshold):
            status = VerdictStatus.PASS
        else:
            status = VerdictStatus.FAIL
        if data.excluded_calls:
            detail = (detail + "; " if detail else "") + (
                f"{data.excluded_calls} disturbed call(s) left out (--include-disturbed counts them)")
        out.append(
            Verdict(
                kind=VerdictKind.SLO, rule=rule.name, metric=rule.metric, stat=rule.stat,
                group=label, op=rule.op, threshold=rule.threshold, observed=observed, n=n,
                min_samples=rule.min_samples, status=status, unit=units.get(key, ""),
                detail=detail,
            )
        )
    return out


def evaluate(slo: SloFile, data: RunData) -> tuple[Verdict, ...]:
    return tuple(v for rule in slo.rules for v in evaluate_rule(rule, data))


def gate_failed(verdicts: Sequence[Verdict]) -> bool:
    """Only a failed verdict fails the gate; insufficient samples are reported, not failed."""
    return any(v.status is VerdictStatus.FAIL for v in verdicts)

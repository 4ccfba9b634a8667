"""Endpoints of one run side by side, with the significance of each difference.

A run against two or more endpoints is a vendor comparison; the reader's question is
"is B really slower than A, or is that noise?". Each scorecard row is compared per
caller, every endpoint against the first (run.json's order), with the regression
gate's own test (:func:`harness.stats.regression.compare_samples`): the bootstrap CI of
the difference, a one-sided rank test, and the metric's direction and tolerance from
:func:`harness.slo.baseline.policy_for`. A difference is called better or worse only
when it is beyond the tolerance and both tests support it, exactly as a regression
against a baseline is; no statistic here is new.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from harness.records import Measurement, Stat
from harness.report.scorecard import RowSpec, Scorecard
from harness.slo.baseline import policy_for
from harness.slo.data import values_of
from harness.slo.rules import Direction
from harness.stats.regression import Change, Comparison, compare_samples

__all__ = ["CHANGE_WORDS", "CompareGroup", "CompareRow", "compare_endpoints"]

CHANGE_WORDS = {
    Change.REGRESSION: "worse",
    Change.IMPROVEMENT: "better",
    Change.UNCHANGED: "no supported difference",
    Change.INSUFFICIENT: "too few samples",
    Change.UNGATED: "no better direction",
}
"""How a :class:`Change` of endpoint B against endpoint A reads on the page."""


@dataclass(frozen=True, slots=True, kw_only=True)
class CompareRow:
    spec: RowSpec
    unit: str
    direction: Direction
    comparisons: tuple[Comparison, ...]
    """One per endpoint after the first: that endpoint (``b``) against the first (``a``)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class CompareGroup:
    caller: str
    endpoints: tuple[str, ...]
    """The first is the reference every other endpoint is compared with."""
    rows: tuple[CompareRow, ...]


def _stat(spec: RowSpec) -> Stat:
    return Stat("mean" if spec.stat == "rate" else spec.stat)


def compare_endpoints(measurements: Sequence[Measurement], card: Scorecard, *,
                      n_resamples: int = 2000, seed: int = 0) -> tuple[CompareGroup, ...]:
    """Per caller with two or more endpoints: each scorecard row, endpoints 2.. vs the first.

    ``measurements`` are the counted ones (disturbed calls left out as the gate does).
    """
    endpoints_of: dict[str, list[str]] = {}
    for cell in card.cells:
        endpoints_of.setdefault(cell.caller, []).append(cell.endpoint)
    wanted = {r.metric for r in card.rows}
    samples: dict[tuple[str, str, str], list[Measurement]] = {}
    units: dict[str, str] = {}
    for m in measurements:
        if m.metric in wanted:
            samples.setdefault((m.metric, m.endpoint, str(m.caller)), []).append(m)
            units.setdefault(m.metric, m.unit)
    groups = []
    for caller, endpoints in endpoints_of.items():
        if len(endpoints) < 2:
            continue
        rows = []
        for spec in card.rows:
            policy = policy_for(spec.metric)
            direction = policy.direction or Direction.NONE
            ref = values_of(samples.get((spec.metric, endpoints[0], caller), []))
            comparisons = tuple(
                compare_samples(
                    ref, values_of(samples.get((spec.metric, other, caller), [])),
                    stat=_stat(spec), direction=str(direction),
                    abs_tolerance=policy.abs_tolerance or 0.0, rel_tolerance=policy.rel_tolerance or 0.0,
                    n_resamples=n_resamples, seed=seed,
                    key=f"{spec.metric}|{spec.stat}|{caller}|{other}",
                )
                for other in endpoints[1:]
            )
            rows.append(CompareRow(spec=spec, unit=units.get(spec.metric, ""), direction=direction,
                                   comparisons=comparisons))
        groups.append(CompareGroup(caller=caller, endpoints=tuple(endpoints), rows=tuple(rows)))
    return tuple(groups)

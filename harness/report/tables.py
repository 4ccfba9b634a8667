"""Every metric of the run, grouped by family, per endpoint × caller.

Two kinds of row, because two kinds of metric: a distribution (latency, PESQ, WER) is
percentiles with bootstrap CIs; a 0/1 metric (cutoff, no response, handled) is a rate
with its Wilson interval. Percentiles of 0/1 values (a p95 of 1.0) say nothing a rate
does not say better, so they are never shown.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from harness.records import Measurement, MetricSummary
from harness.report.families import FAMILY_ORDER, family_of, family_rank
from harness.stats.rates import Rate, rates

__all__ = ["RATE_UNIT", "DistributionRow", "FamilyTable", "RateRow", "family_tables", "rate_metrics"]

RATE_UNIT = "bool"
"""The unit of a 0/1 metric (``harness.metrics``): shown as a rate."""


@dataclass(frozen=True, slots=True, kw_only=True)
class DistributionRow:
    endpoint: str
    caller: str
    summary: MetricSummary


@dataclass(frozen=True, slots=True, kw_only=True)
class RateRow:
    endpoint: str
    caller: str
    rate: Rate


@dataclass(frozen=True, slots=True, kw_only=True)
class FamilyTable:
    family: str
    distributions: tuple[DistributionRow, ...]
    rates: tuple[RateRow, ...]


def rate_metrics(measurements: Iterable[Measurement]) -> frozenset[str]:
    """The metrics shown as rates: unit ``bool`` and no value but 0 and 1 (``None``/NaN
    are reasons). A ``bool`` metric with another value is summarised like any number,
    so the odd value is seen rather than hidden."""
    bools: dict[str, bool] = {}
    for m in measurements:
        if m.unit == RATE_UNIT:
            fine = m.value is None or math.isnan(m.value) or m.value in (0.0, 1.0)
            bools[m.metric] = bools.get(m.metric, True) and fine
    return frozenset(name for name, fine in bools.items() if fine)


def family_tables(measurements: Sequence[Measurement], summaries: Sequence[MetricSummary],
                  rate_names: frozenset[str]) -> tuple[FamilyTable, ...]:
    """``summaries`` of the metrics not in ``rate_names`` (:func:`rate_metrics`), grouped
    by ``("metric", "endpoint", "caller")``; the rates are counted here."""
    pairs = {f"endpoint={m.endpoint},caller={m.caller}": (m.endpoint, str(m.caller)) for m in measurements}
    dists: dict[str, list[DistributionRow]] = {}
    for s in sorted(summaries, key=lambda s: family_rank(s.metric)):
        if s.metric in rate_names or s.group not in pairs:
            continue
        endpoint, caller = pairs[s.group]
        dists.setdefault(family_of(s.metric), []).append(
            DistributionRow(endpoint=endpoint, caller=caller, summary=s))
    rate_rows: dict[str, list[RateRow]] = {}
    for metric in sorted(rate_names, key=family_rank):
        for r in rates(measurements, metric, by=("endpoint", "caller")):
            if r.group in pairs:
                endpoint, caller = pairs[r.group]
                rate_rows.setdefault(family_of(metric), []).append(RateRow(endpoint=endpoint, caller=caller, rate=r))
    return tuple(
        FamilyTable(family=f, distributions=tuple(dists.get(f, ())), rates=tuple(rate_rows.get(f, ())))
        for f in FAMILY_ORDER if f in dists or f in rate_rows
    )

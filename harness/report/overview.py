"""The figures every report of a run leads with, computed once for all of them.

The HTML page and the Markdown summary both start with the headline and the scorecard
(and, with two or more endpoints, the comparison); computing them once and handing the
same record to both keeps their numbers identical (bootstrap CIs included) and the
report fast.
"""

from __future__ import annotations

from dataclasses import dataclass

from harness.records import MetricSummary
from harness.report.comparison import CompareGroup, compare_endpoints
from harness.report.context import ReportContext
from harness.report.headline import Headline, headline
from harness.report.scorecard import Scorecard, scorecard
from harness.report.tables import FamilyTable, family_tables, rate_metrics
from harness.stats.percentiles import summarize

__all__ = ["N_RESAMPLES", "Overview", "overview"]

N_RESAMPLES = 500
"""Bootstrap resamples behind the report's percentile CIs (the regression gate uses 2000:
a report shows the interval, the gate decides on it)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Overview:
    headline: Headline
    scorecard: Scorecard
    comparison: tuple[CompareGroup, ...]
    """Empty unless some caller reached two or more endpoints."""
    summaries: tuple[MetricSummary, ...]
    """Distribution metrics per metric × endpoint × caller (rates are in ``families``)."""
    families: tuple[FamilyTable, ...]


def overview(ctx: ReportContext) -> Overview:
    counted = ctx.counted_measurements
    rate_names = rate_metrics(counted)
    summaries = summarize([m for m in counted if m.metric not in rate_names],
                          by=("metric", "endpoint", "caller"), n_resamples=N_RESAMPLES)
    card = scorecard(ctx, summaries)
    return Overview(
        headline=headline(ctx), scorecard=card, comparison=compare_endpoints(counted, card),
        summaries=summaries, families=family_tables(counted, summaries, rate_names),
    )

"""A run against a baseline run: per metric (and group), the change and its verdict.

Which way is worse depends on the metric; :data:`DIRECTIONS` is the built-in table,
matched by glob in order, so a metric family added later is gated as soon as its name
fits a pattern (``*_latency_ms``, ``pesq*``) and is reported-but-not-gated otherwise.
The SLO file's ``[regression.metrics]`` entries come first and override it.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Sequence
from dataclasses import dataclass

from harness.fmt import fmt_value
from harness.records import Stat, StatName, Verdict, VerdictKind, VerdictOp, VerdictStatus
from harness.slo.data import RunData, group_key, values_of
from harness.slo.rules import Direction, MetricPolicy, RegressionSettings
from harness.stats.regression import Change, Comparison, compare_samples

__all__ = ["DIRECTIONS", "MetricRow", "compare_runs", "drift_tolerance", "policy_for", "regression_verdicts"]

P50 = Stat("p50")
MEAN = Stat(StatName.MEAN)

DIRECTIONS: tuple[tuple[str, MetricPolicy], ...] = (
    # informational: how much the agent talked is not better or worse
    ("agent_speech_ms", MetricPolicy(direction=Direction.NONE)),
    ("agent_turns", MetricPolicy(direction=Direction.NONE)),
    # quality / accuracy: higher is better
    ("*pesq*", MetricPolicy(direction=Direction.HIGHER, stat=P50, abs_tolerance=0.1, rel_tolerance=0.0)),
    ("*stoi*", MetricPolicy(direction=Direction.HIGHER, stat=P50, abs_tolerance=0.02, rel_tolerance=0.0)),
    ("*mos*", MetricPolicy(direction=Direction.HIGHER, stat=P50, abs_tolerance=0.1, rel_tolerance=0.0)),
    ("*handled*", MetricPolicy(direction=Direction.HIGHER, stat=MEAN, abs_tolerance=0.05, rel_tolerance=0.0)),
    # error rates (0/1 or fractions): lower is better
    ("*wer*", MetricPolicy(direction=Direction.LOWER, stat=MEAN, abs_tolerance=0.02, rel_tolerance=0.0)),
    ("*cer*", MetricPolicy(direction=Direction.LOWER, stat=MEAN, abs_tolerance=0.02, rel_tolerance=0.0)),
    ("no_response", MetricPolicy(direction=Direction.LOWER, stat=MEAN, abs_tolerance=0.05, rel_tolerance=0.0)),
    ("call_failed", MetricPolicy(direction=Direction.LOWER, stat=MEAN, abs_tolerance=0.05, rel_tolerance=0.0)),
    ("cutoff*", MetricPolicy(direction=Direction.LOWER, stat=MEAN, abs_tolerance=0.05, rel_tolerance=0.0)),
    ("*ignored*", MetricPolicy(direction=Direction.LOWER, stat=MEAN, abs_tolerance=0.05, rel_tolerance=0.0)),
    ("*false*", MetricPolicy(direction=Direction.LOWER, stat=MEAN, abs_tolerance=0.05, rel_tolerance=0.0)),
    ("*loss*", MetricPolicy(direction=Direction.LOWER, stat=MEAN, abs_tolerance=0.01, rel_tolerance=0.0)),
    # times: lower is better (latency, stop latency, talk-over, jitter)
    ("*_ms", MetricPolicy(direction=Direction.LOWER, stat=P50, abs_tolerance=30.0, rel_tolerance=0.10)),
)
"""(glob, policy) in match order; unknown metrics are reported, never gated."""

_FALLBACK = MetricPolicy(direction=Direction.NONE, stat=P50, abs_tolerance=0.0, rel_tolerance=0.0)


def policy_for(metric: str, settings: RegressionSettings | None = None) -> MetricPolicy:
    """The policy of ``metric``: the SLO file's entries first, then :data:`DIRECTIONS`."""
    builtin = next((p for pat, p in DIRECTIONS if fnmatch.fnmatchcase(metric, pat)), _FALLBACK)
    user = next(
        (p for pat, p in (settings.metrics.items() if settings else ())
         if fnmatch.fnmatchcase(metric, pat)),
        None,
    )
    if user is None:
        return builtin
    return MetricPolicy(
        direction=user.direction or builtin.direction,
        stat=user.stat or builtin.stat,
        abs_tolerance=user.abs_tolerance if user.abs_tolerance is not None else builtin.abs_tolerance,
        rel_tolerance=user.rel_tolerance if user.rel_tolerance is not None else builtin.rel_tolerance,
    )


HARNESS_RSS_REL_TOLERANCE = 0.05
"""The harness's own memory may move 5 % over a soak before it is called drift."""


def drift_tolerance(metric: str, stat: str, level: float) -> float:
    """The smallest change over a soak worth calling drift: the absolute tolerance a run
    must move against its baseline to be a regression (30 ms for times, 5 points for
    rates), so "drifting" and "regressed" mean the same size of change. Not the relative
    part: a soak's turn latency sits on the agent's endpointing (500+ ms), and 10 % of
    that would hide a real 70 ms rise in a short soak. The harness's RSS (not a call
    metric) gets 5 % of its level."""
    if metric == "harness_rss_mb":
        return HARNESS_RSS_REL_TOLERANCE * abs(level)
    return policy_for(metric).abs_tolerance or 0.0


@dataclass(frozen=True, slots=True, kw_only=True)
class MetricRow:
    metric: str
    group: str
    unit: str
    direction: Direction
    comparison: Comparison


def _grouped(data: RunData, by: Sequence[str]) -> dict[tuple[str, str], list[float]]:
    out: dict[tuple[str, str], list[float]] = {}
    for m in data.measurements:
        vals = out.setdefault((m.metric, group_key(m, data.context(m.call_id), by)), [])
        vals.extend(values_of([m]))
    return out


def compare_runs(
    baseline: RunData, current: RunData, settings: RegressionSettings | None = None, *, seed: int = 0
) -> list[MetricRow]:
    """One row per metric (overall, plus per ``settings.by`` group) present in either run.

    Groups are matched by label, so comparing two vendors (different endpoint names)
    works overall; group by ``scenario`` rather than ``endpoint`` for a vendor table.
    """
    settings = settings or RegressionSettings()
    units = {m.metric: m.unit for m in (*baseline.measurements, *current.measurements)}
    rows = []
    for by in ((), settings.by) if settings.by else ((),):
        a, b = _grouped(baseline, by), _grouped(current, by)
        for metric, group in sorted(set(a) | set(b)):
            policy = policy_for(metric, settings)
            direction = policy.direction or Direction.NONE
            cmp = compare_samples(
                a.get((metric, group), []), b.get((metric, group), []),
                stat=policy.stat or P50, direction=str(direction),
                abs_tolerance=policy.abs_tolerance or 0.0, rel_tolerance=policy.rel_tolerance or 0.0,
                alpha=settings.alpha, min_samples=settings.min_samples,
                n_resamples=settings.n_resamples, seed=seed, key=f"{metric}|{group}",
            )
            rows.append(MetricRow(metric=metric, group=group, unit=units.get(metric, ""),
                                  direction=direction, comparison=cmp))
    return rows


def describe(row: MetricRow) -> str:
    c = row.comparison
    ci = "-" if c.ci is None else f"[{fmt_value(c.ci[0], digits=4)}, {fmt_value(c.ci[1], digits=4)}]"
    p = "-" if c.p_worse is None else f"{c.p_worse:.3g}"
    return (f"baseline {c.stat}={fmt_value(c.a, digits=4)} (n={c.n_a}), now {fmt_value(c.b, digits=4)} (n={c.n_b}), "
            f"diff {fmt_value(c.diff, digits=4)} 95% CI {ci}, tolerance {fmt_value(c.tolerance, digits=4)}, "
            f"rank-test p(worse)={p}: {c.change}")


def regression_verdicts(rows: Sequence[MetricRow]) -> tuple[Verdict, ...]:
    """Gated rows as Verdicts: fail = regression; ungated metrics are left out."""
    out = []
    for row in rows:
        c = row.comparison
        if c.change is Change.UNGATED:
            continue
        status = {
            Change.REGRESSION: VerdictStatus.FAIL,
            Change.INSUFFICIENT: VerdictStatus.INSUFFICIENT_SAMPLES,
        }.get(c.change, VerdictStatus.PASS)
        lower = row.direction is Direction.LOWER
        base = c.a if c.a is not None else 0.0
        out.append(Verdict(
            kind=VerdictKind.REGRESSION, rule=f"no regression vs baseline ({row.direction} is better)",
            metric=row.metric, stat=c.stat, group=row.group, op=VerdictOp.AT_MOST if lower else VerdictOp.AT_LEAST,
            threshold=base + c.tolerance if lower else base - c.tolerance,
            observed=c.b, n=c.n_b, min_samples=0, status=status, unit=row.unit,
            detail=describe(row),
        ))
    return tuple(out)

"""The report's first screen: per endpoint × caller, the figures a reader checks first.

One card per endpoint × caller with the same rows in the same order, so cards side by
side read as a comparison: turn latency p50/p95 (bootstrap CIs, the SLO verdicts that
judge exactly that figure), no-response rate, barge-in stop p50 and handled rate,
false stops, cutoffs (overall and per pause length: the curve), PESQ/STOI, reply WER,
call failures by reason and the calls the validity guard disturbed.

Every figure is computed from the run's measurements with the statistics the rest of
the harness uses: percentiles from :func:`~harness.stats.percentiles.summarize`, rates
of 0/1 metrics with Wilson intervals (:mod:`harness.stats.rates`), never percentiles
of 0/1 values. Disturbed calls are left out of the figures unless the run counts them,
exactly as the gate does, and are counted on the card either way.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from harness.metrics.latency import NO_RESPONSE, TURN_LATENCY
from harness.metrics.quality import PESQ_NB, PESQ_WB, STOI
from harness.records import FailureKind, Measurement, MetricSummary, Verdict, VerdictKind
from harness.report.context import CallEntry, ReportContext
from harness.report.families import family_of
from harness.report.plots import CUTOFF_PAUSE
from harness.scoring import CALL_FAILED
from harness.stats.rates import Rate, rates

__all__ = ["ROWS", "Cell", "CutoffPoint", "Figure", "RowSpec", "Scorecard",
           "call_key", "cell_keys", "cell_label", "pause_of", "scorecard"]

NO_ENDPOINT = "-"
"""The endpoint of a scenario file that could not be loaded (``harness.plan``): no call
was placed, so it gets no card (the headline counts it as a failed call)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class RowSpec:
    key: str
    label: str
    metric: str
    stat: str
    """``p50``/``p95`` (a percentile with its bootstrap CI), ``mean``, or ``rate`` (a 0/1
    metric's rate with its Wilson interval)."""

    @property
    def family(self) -> str:
        return family_of(self.metric)


ROWS: tuple[RowSpec, ...] = (
    RowSpec(key="latency_p50", label="latency p50", metric=TURN_LATENCY, stat="p50"),
    RowSpec(key="latency_p95", label="latency p95", metric=TURN_LATENCY, stat="p95"),
    RowSpec(key="no_response", label="no response", metric=NO_RESPONSE, stat="rate"),
    RowSpec(key="barge_in_stop", label="barge-in stop p50", metric="barge_in_stop_ms", stat="p50"),
    RowSpec(key="barge_in_handled", label="barge-in handled", metric="barge_in_handled", stat="rate"),
    RowSpec(key="false_stop", label="false stops", metric="false_stop", stat="rate"),
    RowSpec(key="cutoff", label="cutoffs", metric="cutoff", stat="rate"),
    RowSpec(key="pesq_wb", label="PESQ wb p50", metric=PESQ_WB, stat="p50"),
    RowSpec(key="pesq_nb", label="PESQ nb p50", metric=PESQ_NB, stat="p50"),
    RowSpec(key="stoi", label="STOI p50", metric=STOI, stat="p50"),
    RowSpec(key="reply_wer", label="WER mean", metric="reply_wer", stat="mean"),
    RowSpec(key="call_failed", label="call failures", metric=CALL_FAILED, stat="rate"),
)
"""The scorecard's rows, in page order. Metric names are the metric families' own."""

_RATE_STATS = frozenset({"rate", "mean"})
_FAILURE_KINDS = frozenset(k.value for k in FailureKind)


@dataclass(frozen=True, slots=True, kw_only=True)
class Figure:
    value: float | None
    unit: str
    ci: tuple[float, float] | None = None
    n: int = 0
    hits: int | None = None
    """For rates: how many of the ``n`` values were 1."""
    verdicts: tuple[Verdict, ...] = ()
    """The SLO verdicts on exactly this figure (same metric, statistic and calls)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class CutoffPoint:
    pause_ms: int
    hits: int
    n: int
    rate: float
    ci: tuple[float, float]


@dataclass(frozen=True, slots=True, kw_only=True)
class Cell:
    endpoint: str
    caller: str
    calls: int
    """Calls placed with this endpoint and caller (disturbed ones included)."""
    disturbed: int
    counted: int
    """Calls whose numbers are in the figures."""
    unmet: int
    """Counted calls that ended but missed an expectation."""
    failures: tuple[tuple[str, int], ...] = ()
    """Counted failed calls by failure kind, most frequent first."""
    figures: Mapping[str, Figure] = field(default_factory=dict)
    """``RowSpec.key`` -> figure (absent when the metric was not measured)."""
    cutoff_curve: tuple[CutoffPoint, ...] = ()
    left_out: frozenset[str] = frozenset()
    """Row keys without a figure that disturbed calls did measure: "left out", not "not measured"."""

    @property
    def label(self) -> str:
        return cell_label(self.endpoint, self.caller)


@dataclass(frozen=True, slots=True, kw_only=True)
class Scorecard:
    cells: tuple[Cell, ...]
    rows: tuple[RowSpec, ...]
    """Rows measured in at least one cell, disturbed calls included (every card shows all
    of them)."""
    missing: tuple[RowSpec, ...]
    """Rows no cell measured: named once, under the cards."""
    disturbed_counted: bool
    wide_verdicts: tuple[Verdict, ...] = ()
    """SLO verdicts on a scorecard figure that span several cards (run-wide, or one
    endpoint over two callers): shown once, under the cards."""


def cell_label(endpoint: str, caller: str) -> str:
    return f"endpoint={endpoint},caller={caller}"


def call_key(call: CallEntry) -> tuple[str, str] | None:
    """The (endpoint, caller) a call belongs to, from its recording or its rows."""
    if call.recording is not None:
        return call.recording.endpoint, str(call.recording.caller)
    if call.measurements:
        return call.measurements[0].endpoint, str(call.measurements[0].caller)
    return None


def pause_of(metric: str) -> int | None:
    """The pause length of a ``cutoff_pause_<ms>ms`` metric, else ``None``."""
    match = CUTOFF_PAUSE.match(metric)
    return int(match.group(1)) if match else None


def _failure_kind(m: Measurement) -> str:
    """``call_failed`` rows carry ``"<kind>: <reason>"``; anything else is ``other``."""
    head = (m.reason or "").split(":", 1)[0].strip()
    return head if head in _FAILURE_KINDS else "other"


def _verdict_labels(endpoint: str, caller: str) -> set[str]:
    return {"all", f"endpoint={endpoint}", f"caller={caller}", cell_label(endpoint, caller),
            f"caller={caller},endpoint={endpoint}"}


def _covers(v: Verdict, keys: Sequence[tuple[str, str]]) -> int:
    """How many cards' calls the verdict's group spans (0: a group the cards do not have,
    such as a scenario or a ``where`` filter)."""
    return sum(1 for e, c in keys if v.group in _verdict_labels(e, c))


def _judges(v: Verdict, row: RowSpec) -> bool:
    """Whether an SLO verdict is stated on this row's metric and statistic."""
    same_stat = v.stat == row.stat or (row.stat in _RATE_STATS and v.stat in _RATE_STATS)
    return v.kind is VerdictKind.SLO and v.metric == row.metric and same_stat


def _marks(verdicts: Sequence[Verdict], row: RowSpec, keys: Sequence[tuple[str, str]],
           endpoint: str, caller: str) -> tuple[Verdict, ...]:
    """The SLO verdicts that judge exactly this card's figure: this row's metric and
    statistic, over this card's calls and no others. A verdict over several cards (a rule
    without ``by`` in a two-endpoint run) is not this card's: it is listed once, under them."""
    mine = _verdict_labels(endpoint, caller)
    return tuple(v for v in verdicts if _judges(v, row) and v.group in mine and _covers(v, keys) == 1)


def _figure(row: RowSpec, label: str, summaries: Mapping[tuple[str, str], MetricSummary],
            rate_rows: Mapping[tuple[str, str], Rate], marks: tuple[Verdict, ...]) -> Figure | None:
    if row.stat == "rate":
        r = rate_rows.get((row.metric, label))
        if r is None or r.n == 0:
            return None
        return Figure(value=r.rate, unit="bool", ci=r.ci, n=r.n, hits=r.hits, verdicts=marks)
    s = summaries.get((row.metric, label))
    if s is None or s.n == 0:
        return None
    if row.stat == "p50":
        return Figure(value=s.p50, unit=s.unit, ci=s.p50_ci, n=s.n, verdicts=marks)
    if row.stat == "p95":
        return Figure(value=s.p95, unit=s.unit, ci=s.p95_ci, n=s.n, verdicts=marks)
    return Figure(value=s.mean, unit=s.unit, n=s.n, verdicts=marks)


def _rate_rows(measurements: Sequence[Measurement], metrics: Sequence[str]) -> dict[tuple[str, str], Rate]:
    out: dict[tuple[str, str], Rate] = {}
    for metric in metrics:
        try:
            found = rates(measurements, metric, by=("endpoint", "caller"))
        except ValueError:  # not a 0/1 metric after all: no rate shown rather than a wrong one
            continue
        out.update({(metric, r.group): r for r in found})
    return out


def cell_keys(ctx: ReportContext) -> list[tuple[str, str]]:
    """Every endpoint × caller of the run: endpoints in run.json's order, then by name."""
    order = {e.name: i for i, e in enumerate(ctx.info.endpoints)} if ctx.info else {}
    keys = {k for c in ctx.calls if (k := call_key(c)) is not None and k[0] != NO_ENDPOINT}
    return sorted(keys, key=lambda k: (order.get(k[0], len(order)), k[0], k[1]))


def scorecard(ctx: ReportContext, summaries: Sequence[MetricSummary]) -> Scorecard:
    """The scorecard of a run; ``summaries`` grouped by ``("metric", "endpoint", "caller")``."""
    counted = ctx.counted_measurements
    keys = cell_keys(ctx)
    by_label = {(s.metric, s.group): s for s in summaries}
    pauses = {m.metric: p for m in counted if (p := pause_of(m.metric)) is not None}
    pause_metrics = sorted(pauses, key=lambda n: pauses[n])
    rate_rows = _rate_rows(counted, [r.metric for r in ROWS if r.stat == "rate"] + pause_metrics)
    calls_by_key: dict[tuple[str, str], list[CallEntry]] = {}
    for call in ctx.calls:
        if (k := call_key(call)) is not None:
            calls_by_key.setdefault(k, []).append(call)
    cells = []
    for endpoint, caller in keys:
        label = cell_label(endpoint, caller)
        members = calls_by_key.get((endpoint, caller), [])
        kept = [c for c in members if ctx.include_disturbed or not c.disturbed]
        kept_ids = {c.call_id for c in kept}
        failures: dict[str, int] = {}
        for m in counted:
            if (m.metric == CALL_FAILED and m.value == 1.0 and m.call_id in kept_ids):
                kind = _failure_kind(m)
                failures[kind] = failures.get(kind, 0) + 1
        figures = {}
        for row in ROWS:
            fig = _figure(row, label, by_label, rate_rows,
                          _marks(ctx.verdicts, row, keys, endpoint, caller))
            if fig is not None:
                figures[row.key] = fig
        curve = []
        for metric in pause_metrics:
            r = rate_rows.get((metric, label))
            if r is not None and r.n and r.rate is not None and r.ci is not None:
                curve.append(CutoffPoint(pause_ms=pauses[metric], hits=r.hits, n=r.n, rate=r.rate, ci=r.ci))
        dropped = {m.metric for c in members if c.call_id not in kept_ids for m in c.measurements
                   if m.value is not None}
        cells.append(Cell(
            endpoint=endpoint, caller=caller, calls=len(members),
            disturbed=sum(1 for c in members if c.disturbed), counted=len(kept),
            unmet=sum(1 for c in kept if not c.ok and (c.recording is None or c.recording.failure is None)
                      and any(m.passed is False for m in c.measurements)),
            failures=tuple(sorted(failures.items(), key=lambda kv: (-kv[1], kv[0]))),
            figures=figures, cutoff_curve=tuple(curve),
            left_out=frozenset(r.key for r in ROWS if r.key not in figures and r.metric in dropped),
        ))
    measured = {k for c in cells for k in (*c.figures, *c.left_out)}
    wide = tuple(v for v in ctx.verdicts
                 if any(_judges(v, r) for r in ROWS) and _covers(v, keys) > 1)
    return Scorecard(cells=tuple(cells), rows=tuple(r for r in ROWS if r.key in measured),
                     missing=tuple(r for r in ROWS if r.key not in measured),
                     disturbed_counted=ctx.include_disturbed, wide_verdicts=wide)

"""The SLO file (TOML): rules with thresholds, and the regression settings.

Example (``ci/slo.toml`` is the annotated one)::

    schema_version = 1
    [[slo]]
    name = "turn latency p95"
    metric = "turn_latency_ms"       # a metric name or a glob (cutoff_pause_*)
    stat = "p95"                     # p50 p90 p95 p99 pNN max min mean rate
    max = 800                        # or: min = 3.5 (higher is better)
    min_samples = 10                 # fewer values -> insufficient_samples, not a pass
    by = ["endpoint"]                # one verdict per endpoint (default: one overall)
    where = { suite = "smoke", tags = ["latency"], turn = [1, 2] }

    include_disturbed = false        # top level: count calls the validity guard flagged

    [[slo]]                          # soaks: a trend over the windows (windows.jsonl)
    metric = "turn_latency_ms"
    stat = "p50"                     # a window statistic: p50 p95 p99 mean rate
    max_drift_per_hour = 30          # fail on a significant rise faster than this
                                     # (min_drift_per_hour for higher-is-better metrics)

    [regression]                     # how a run is compared with a baseline
    alpha = 0.05
    [regression.metrics.turn_latency_ms]
    direction = "lower"              # lower is better; "higher" (PESQ); "none" = never gated
    abs_tolerance = 50
    rel_tolerance = 0.10

Parsing goes through pydantic so a typo (``maxx = 800``) is an error naming the file,
the rule and the field, not a rule silently never checked.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from harness.records import Stat, VerdictOp
from harness.safe_io import TomlInputError, parse_toml, read_regular_text
from harness.slo.data import MEASUREMENT_FIELDS, FilterValue

__all__ = [
    "Direction",
    "DriftRule",
    "MetricPolicy",
    "RegressionSettings",
    "SloError",
    "SloFile",
    "SloRule",
    "load_slo_file",
    "parse_slo",
]

SLO_SCHEMA_VERSION = 1
FILTER_FIELDS = (*MEASUREMENT_FIELDS, "suite", "tags")

MAX_SLO_BYTES = 1_000_000
MAX_RESAMPLES = 100_000
"""Bootstrap resamples per comparison: 50x the default; more only burns CI minutes."""
MAX_MIN_SAMPLES = 1_000_000
MAX_RULES = 1_000


class SloError(Exception):
    """An SLO file that cannot be used; the message names the file and the field."""


class Direction(StrEnum):
    LOWER = "lower"
    """Lower is better (latency, error rates): an increase is a regression."""
    HIGHER = "higher"
    """Higher is better (PESQ, STOI, handled rate): a decrease is a regression."""
    NONE = "none"
    """Informational (agent speech duration): reported, never gated."""


@dataclass(frozen=True, slots=True, kw_only=True)
class SloRule:
    name: str
    metric: str
    stat: Stat
    op: VerdictOp
    threshold: float
    min_samples: int = 5
    by: tuple[str, ...] = ()
    where: Mapping[str, FilterValue] = field(default_factory=dict)


@dataclass(frozen=True, slots=True, kw_only=True)
class DriftRule:
    """A bound on a metric's trend over a soak's windows (``harness.slo.drift``)."""

    name: str
    metric: str
    stat: Stat
    op: VerdictOp
    threshold_per_hour: float


@dataclass(frozen=True, slots=True, kw_only=True)
class MetricPolicy:
    """How one metric is compared with a baseline; ``None`` fields take the defaults."""

    direction: Direction | None = None
    stat: Stat | None = None
    abs_tolerance: float | None = None
    rel_tolerance: float | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class RegressionSettings:
    alpha: float = 0.05
    """Significance level of the rank test; the bootstrap CI is at 1 - alpha."""
    min_samples: int = 5
    n_resamples: int = 2000
    by: tuple[str, ...] = ()
    """Compare per group too (e.g. ``["scenario"]``); always compared overall."""
    metrics: Mapping[str, MetricPolicy] = field(default_factory=dict)
    """Per metric name or glob; first match wins over the built-in table."""


@dataclass(frozen=True, slots=True, kw_only=True)
class SloFile:
    rules: tuple[SloRule, ...] = ()
    drift_rules: tuple[DriftRule, ...] = ()
    """Rules with ``max_drift_per_hour`` / ``min_drift_per_hour``: judged on a soak's
    windows, never on a run's measurements."""
    regression: RegressionSettings = field(default_factory=RegressionSettings)
    source: str = ""
    include_disturbed: bool = False
    """Count calls the validity guard marked disturbed in verdicts and regressions
    (default: they are left out, and each verdict says how many were)."""


# ------------------------------------------------------------------ TOML shape

Scalar = str | int | float | bool


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


Finite = Annotated[float, Field(allow_inf_nan=False)]
"""A threshold or tolerance: NaN would make every verdict fail (or pass), inf is no bound."""


class _RuleModel(_Strict):
    name: Annotated[str, Field(max_length=200)] | None = None
    metric: Annotated[str, Field(min_length=1, max_length=200)]
    stat: Stat = Stat("p95")
    max: Finite | None = None
    min: Finite | None = None
    max_drift_per_hour: Finite | None = None
    min_drift_per_hour: Finite | None = None
    min_samples: Annotated[int, Field(ge=1, le=MAX_MIN_SAMPLES)] | None = None
    by: list[str] = []
    where: dict[str, Scalar | list[Scalar]] = {}

    @field_validator("by")
    @classmethod
    def _by(cls, v: list[str]) -> list[str]:
        bad = [x for x in v if x not in FILTER_FIELDS or x == "tags"]
        if bad:
            raise ValueError(f"cannot group by {bad}; use {[f for f in FILTER_FIELDS if f != 'tags']}")
        return v

    @field_validator("where")
    @classmethod
    def _where(cls, v: dict[str, Scalar | list[Scalar]]) -> dict[str, Scalar | list[Scalar]]:
        bad = [x for x in v if x not in FILTER_FIELDS]
        if bad:
            raise ValueError(f"unknown filter field {bad}; use {list(FILTER_FIELDS)}")
        return v

    @model_validator(mode="after")
    def _one_bound(self) -> _RuleModel:
        bounds = (self.max, self.min, self.max_drift_per_hour, self.min_drift_per_hour)
        if sum(b is not None for b in bounds) != 1:
            raise ValueError("give exactly one of 'max' (upper bound), 'min' (lower bound), "
                             "'max_drift_per_hour' or 'min_drift_per_hour' (soak trends)")
        if self.drift and (self.by or self.where or self.min_samples is not None):
            raise ValueError("a drift rule takes no 'by', 'where' or 'min_samples' "
                             "(it is judged on the soak's windows)")
        return self

    @property
    def drift(self) -> bool:
        return self.max_drift_per_hour is not None or self.min_drift_per_hour is not None


class _PolicyModel(_Strict):
    direction: Direction | None = None
    stat: Stat | None = None
    abs_tolerance: Annotated[Finite, Field(ge=0)] | None = None
    rel_tolerance: Annotated[Finite, Field(ge=0)] | None = None


class _RegressionModel(_Strict):
    alpha: Annotated[Finite, Field(gt=0, lt=1)] = 0.05
    min_samples: Annotated[int, Field(ge=2, le=MAX_MIN_SAMPLES)] = 5
    n_resamples: Annotated[int, Field(ge=100, le=MAX_RESAMPLES)] = 2000
    by: list[str] = []
    metrics: dict[str, _PolicyModel] = {}


class _DefaultsModel(_Strict):
    min_samples: Annotated[int, Field(ge=1, le=MAX_MIN_SAMPLES)] = 5


class _FileModel(_Strict):
    schema_version: Literal[1] = 1
    include_disturbed: bool = False
    defaults: _DefaultsModel = _DefaultsModel()
    slo: Annotated[list[_RuleModel], Field(max_length=MAX_RULES)] = []
    regression: _RegressionModel = _RegressionModel()


def _where_value(v: Scalar | list[Scalar]) -> FilterValue:
    return tuple(v) if isinstance(v, list) else v


def parse_slo(text: str, source: str = "<slo>") -> SloFile:
    try:
        raw = parse_toml(text)
    except TomlInputError as exc:
        raise SloError(f"{source}: {exc}") from None
    try:
        model = _FileModel.model_validate(raw)
    except ValidationError as exc:
        problems = []
        for err in exc.errors(include_url=False):
            loc = list(err["loc"])
            where = ".".join(str(p) for p in loc)
            if len(loc) >= 2 and loc[0] == "slo" and isinstance(loc[1], int):
                rules = raw.get("slo")
                rule = rules[loc[1]] if isinstance(rules, list) and loc[1] < len(rules) else {}
                label = rule.get("name") or rule.get("metric") if isinstance(rule, dict) else None
                rest = ".".join(str(p) for p in loc[2:]) or "(rule)"
                where = f"slo rule {loc[1]}" + (f" ({label})" if label else "") + f": field '{rest}'"
            else:
                where = f"field '{where or '(top level)'}'"
            msg = err["msg"].removeprefix("Value error, ")
            problems.append(f"{source}: {where}: {msg}")
        raise SloError("\n".join(problems)) from None
    rules = []
    drift_rules = []
    for i, r in enumerate(model.slo):
        if r.drift:
            upper = r.max_drift_per_hour is not None
            bound = r.max_drift_per_hour if upper else r.min_drift_per_hour
            assert bound is not None
            drift_op = VerdictOp.AT_MOST if upper else VerdictOp.AT_LEAST
            drift_rules.append(DriftRule(
                name=r.name or f"{r.metric} {r.stat} drift {drift_op} {bound:g}/hour",
                metric=r.metric, stat=r.stat, op=drift_op, threshold_per_hour=bound))
            continue
        op = VerdictOp.AT_MOST if r.max is not None else VerdictOp.AT_LEAST
        threshold = r.max if r.max is not None else r.min
        assert threshold is not None
        rules.append(
            SloRule(
                name=r.name or f"{r.metric} {r.stat} {op} {threshold:g}"
                + (f" [{i}]" if any(x.metric == r.metric and x.stat == r.stat and x is not r
                                    for x in model.slo) and r.name is None else ""),
                metric=r.metric,
                stat=r.stat,
                op=op,
                threshold=float(threshold),
                min_samples=r.min_samples or model.defaults.min_samples,
                by=tuple(r.by),
                where={k: _where_value(v) for k, v in r.where.items()},
            )
        )
    reg = model.regression
    bad_by = [x for x in reg.by if x not in FILTER_FIELDS or x == "tags"]
    if bad_by:
        raise SloError(f"{source}: field 'regression.by': cannot group by {bad_by}")
    return SloFile(
        rules=tuple(rules),
        drift_rules=tuple(drift_rules),
        regression=RegressionSettings(
            alpha=reg.alpha,
            min_samples=reg.min_samples,
            n_resamples=reg.n_resamples,
            by=tuple(reg.by),
            metrics={
                k: MetricPolicy(direction=p.direction, stat=p.stat,
                                abs_tolerance=p.abs_tolerance, rel_tolerance=p.rel_tolerance)
                for k, p in reg.metrics.items()
            },
        ),
        source=source,
        include_disturbed=model.include_disturbed,
    )


def load_slo_file(path: Path) -> SloFile:
    try:
        text = read_regular_text(path, max_bytes=MAX_SLO_BYTES)
    except OSError as exc:
        raise SloError(f"{path}: cannot read SLO file: {exc.strerror or exc}") from None
    except UnicodeDecodeError as exc:
        raise SloError(f"{path}: cannot read SLO file: not UTF-8 text ({exc.reason})") from None
    return parse_slo(text, str(path))

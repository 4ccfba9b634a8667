"""Gate decisions and the statistics they are stated in."""

from __future__ import annotations

import re
from enum import StrEnum

from harness.records.base import record

__all__ = ["Stat", "StatName", "Verdict", "VerdictKind", "VerdictOp", "VerdictStatus"]


class VerdictStatus(StrEnum):
    PASS = "pass"
    FAIL = "fail"
    INSUFFICIENT_SAMPLES = "insufficient_samples"
    """Too few values to judge: its own verdict, never a silent pass."""


class VerdictOp(StrEnum):
    """How a verdict compares observed with threshold."""

    AT_MOST = "<="
    """Lower is better: pass while observed <= threshold."""
    AT_LEAST = ">="
    """Higher is better: pass while observed >= threshold."""

    def holds(self, observed: float, threshold: float) -> bool:
        return observed <= threshold if self is VerdictOp.AT_MOST else observed >= threshold


class StatName(StrEnum):
    """The statistics that are not percentiles."""

    MAX = "max"
    MIN = "min"
    MEAN = "mean"
    RATE = "rate"
    """The mean of a 0/1 metric: how often it was 1."""


_PERCENTILE = re.compile(r"^p(\d{1,2}(?:\.\d+)?)$")


class Stat(str):
    """A statistic an SLO or a regression is stated in: a ``StatName`` or a percentile
    ``pNN`` (``p50``, ``p95``, ``p99.9``). A ``str`` (it is written as its text), but only
    a valid one can be made, so a typo fails where the name is read, not in a verdict."""

    __slots__ = ()

    def __new__(cls, text: str) -> Stat:
        if text in _STAT_NAMES or _PERCENTILE.match(text):
            return super().__new__(cls, text)
        raise ValueError(
            f"unknown stat {text!r}; use p50, p90, p95, p99 (any pNN), max, min, mean or rate"
        )

    @property
    def named(self) -> StatName | None:
        """The ``StatName`` this is, or ``None`` for a percentile."""
        return StatName(self) if self in _STAT_NAMES else None

    @property
    def percentile(self) -> float | None:
        """The percentile (95.0 for ``p95``), or ``None`` for a ``StatName``."""
        match = _PERCENTILE.match(self)
        return float(match.group(1)) if match else None

    @classmethod
    def __get_pydantic_core_schema__(cls, source: object, handler: object) -> object:
        """Read from and written as plain JSON text, validated on the way in."""
        from pydantic_core import core_schema

        return core_schema.no_info_after_validator_function(
            cls, core_schema.str_schema(), serialization=core_schema.to_string_ser_schema()
        )


_STAT_NAMES = frozenset(str(n) for n in StatName)


class VerdictKind(StrEnum):
    SLO = "slo"
    """An absolute threshold from the SLO file."""
    REGRESSION = "regression"
    """A change against a baseline run."""
    DRIFT = "drift"
    """A trend over a soak's windows (``max_drift_per_hour`` in the SLO file)."""


@record
class Verdict:
    """One gate decision, with the evidence a reader needs to check it."""

    kind: VerdictKind = VerdictKind.SLO
    rule: str
    """The rule's name (from the SLO file, or ``regression``)."""
    metric: str
    stat: Stat
    group: str = "all"
    """Which measurements: ``all`` or ``endpoint=x,caller=y`` etc."""
    op: VerdictOp = VerdictOp.AT_MOST
    """How observed is compared with threshold."""
    threshold: float
    observed: float | None
    """``None`` when there were no values at all."""
    n: int
    """Sample size behind ``observed``."""
    min_samples: int = 1
    status: VerdictStatus
    unit: str = ""
    detail: str = ""
    """For regressions: baseline value, difference, its 95% CI and the rank-test p-value."""

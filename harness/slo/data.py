"""A run folder's measurements with the context SLO filters need (tags, suite).

``Measurement`` lines carry call, scenario, endpoint, caller, repeat and turn; a rule
may also select by the scenario's tags or the suite (folder) it came from, which live
in each call's ``scenario.json``. Reading them once here keeps every filter a plain
lookup, and a metric added later needs nothing from this module.
"""

from __future__ import annotations

import fnmatch
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from harness.records import Measurement, Scenario
from harness.store.run_folder import (
    CALLS_DIR,
    RUN_JSON,
    SCENARIO_JSON,
    RunFolderError,
    load_scenario,
    read_results,
)
from harness.store.serialize import SerializationError

__all__ = [
    "MEASUREMENT_FIELDS",
    "CallContext",
    "RunData",
    "filter_label",
    "load_run",
    "select",
    "values_of",
]

MEASUREMENT_FIELDS = ("call_id", "scenario", "endpoint", "caller", "repeat", "turn", "metric", "unit")
"""Measurement fields a filter or a grouping may name (besides ``suite`` and ``tags``)."""

FilterValue = str | int | float | bool | Sequence[str | int | float | bool]


@dataclass(frozen=True, slots=True, kw_only=True)
class CallContext:
    tags: tuple[str, ...] = ()
    suite: str = ""
    """The folder the scenario file sat in (``smoke`` for ``suites/smoke/x.yaml``)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class RunData:
    path: Path
    measurements: tuple[Measurement, ...]
    """The rows that count: without disturbed calls' rows unless ``includes_disturbed``."""
    contexts: Mapping[str, CallContext] = field(default_factory=dict)
    """call_id -> context; calls without a scenario.json have none."""
    disturbed_calls: frozenset[str] = frozenset()
    """Calls the validity guard marked disturbed (whether or not their rows are kept)."""
    includes_disturbed: bool = False

    @property
    def excluded_calls(self) -> int:
        """Disturbed calls whose numbers were left out."""
        return 0 if self.includes_disturbed else len(self.disturbed_calls)

    def context(self, call_id: str) -> CallContext:
        return self.contexts.get(call_id, CallContext())


def suite_of(scenario: Scenario) -> str:
    return Path(scenario.source).parent.name if scenario.source else ""


def load_run(run_dir: Path, *, include_disturbed: bool = False) -> RunData:
    """The run folder's measurements and call contexts; ``RunFolderError`` if it is none.

    Rows of calls the validity guard marked disturbed are left out unless
    ``include_disturbed``: their numbers describe the harness's own trouble, so they
    judge neither an SLO nor a regression by default.
    """
    if not (run_dir / RUN_JSON).is_file() and not (run_dir / "results.jsonl").is_file():
        raise RunFolderError(f"{run_dir}: not a run folder (no run.json or results.jsonl)")
    every = tuple(read_results(run_dir))
    disturbed = frozenset(m.call_id for m in every if m.disturbed)
    measurements = every if include_disturbed else tuple(m for m in every if not m.disturbed)
    contexts: dict[str, CallContext] = {}
    calls = run_dir / CALLS_DIR
    for call_dir in sorted(calls.iterdir()) if calls.is_dir() else ():
        if not (call_dir / SCENARIO_JSON).is_file():
            continue
        try:
            scenario = load_scenario(call_dir)
        except (RunFolderError, SerializationError, OSError):
            continue  # a call killed before its scenario was written: no tags, still counted
        contexts[call_dir.name] = CallContext(tags=scenario.tags, suite=suite_of(scenario))
    return RunData(path=run_dir, measurements=measurements, contexts=contexts,
                   disturbed_calls=disturbed, includes_disturbed=include_disturbed)


def _field(m: Measurement, ctx: CallContext, name: str) -> object:
    if name == "suite":
        return ctx.suite
    return getattr(m, name)


def _matches(actual: object, wanted: FilterValue) -> bool:
    options = wanted if isinstance(wanted, list | tuple) else (wanted,)
    for option in options:
        if isinstance(option, str) and isinstance(actual, str):
            if fnmatch.fnmatchcase(actual, option):
                return True
        elif (actual is not None and not isinstance(actual, str) and actual == option) or (isinstance(actual, str) and not isinstance(option, str) and actual == str(option)):
            return True
    return False


def select(
    data: RunData, metric: str, where: Mapping[str, FilterValue] | None = None
) -> list[Measurement]:
    """Measurements of ``metric`` (a name or glob) that satisfy every ``where`` condition.

    A condition is ``field = value`` or ``field = [any, of, these]``; string values are
    globs. ``tags = [...]`` requires every listed tag on the call's scenario.
    """
    where = where or {}
    out = []
    for m in data.measurements:
        if not fnmatch.fnmatchcase(m.metric, metric):
            continue
        ctx = data.context(m.call_id)
        ok = True
        for name, wanted in where.items():
            if name == "tags":
                tags = [wanted] if isinstance(wanted, str) else list(wanted)  # type: ignore[arg-type]
                ok = all(str(t) in ctx.tags for t in tags)
            else:
                ok = _matches(_field(m, ctx, name), wanted)
            if not ok:
                break
        if ok:
            out.append(m)
    return out


def group_key(m: Measurement, ctx: CallContext, by: Sequence[str]) -> str:
    parts = [f"{name}={_field(m, ctx, name)}" for name in by]
    return ",".join(parts) if parts else "all"


def values_of(measurements: Iterable[Measurement]) -> list[float]:
    """The finite values; ``None``/NaN are reasons, not numbers."""
    return [float(m.value) for m in measurements if m.value is not None and not math.isnan(m.value)]


def filter_label(where: Mapping[str, FilterValue] | None) -> str:
    if not where:
        return ""
    return ",".join(f"{k}={v}" for k, v in sorted(where.items()))

"""The one error of the scenario stage, phrased for the person who wrote the file.

A scenario author fixes a file from the message alone, so every problem names the
file, the step (index and kind) and the field, plus the line where YAML put it. All
problems of a file are reported together so one edit-run cycle fixes them all.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from harness.records import Failure, FailureKind


@dataclass(frozen=True, slots=True, kw_only=True)
class Problem:
    """One thing wrong in a scenario file."""

    message: str
    step_index: int | None = None
    """Index of the step (counted from 0, as ``Step.index`` and reports count turns)."""
    step_kind: str | None = None
    """The step's kind as written (may be an unknown kind)."""
    field: str | None = None
    """Dotted path inside the step (or the file, for top-level fields): ``expect.within_ms``."""
    line: int | None = None
    """1-based line of the offending key or item."""
    column: int | None = None
    missing_item: str | None = None
    """Set when the problem is an utterance id the corpus does not have."""

    def describe(self, path: Path | str) -> str:
        parts = [str(path)]
        if self.step_index is not None:
            kind = f" ({self.step_kind})" if self.step_kind else ""
            parts.append(f"step {self.step_index}{kind}")
        if self.field is not None:
            parts.append(f"field {self.field!r}")
        where = ""
        if self.line is not None:
            where = f" (line {self.line}" + (f", column {self.column})" if self.column else ")")
        return ": ".join([*parts, self.message]) + where


class ScenarioError(Exception):
    """A scenario file that cannot be used; ``str()`` is the full, line-per-problem text."""

    def __init__(self, path: Path | str, problems: Sequence[Problem]) -> None:
        if not problems:
            raise ValueError("ScenarioError needs at least one problem")
        self.path = Path(path)
        self.source = str(path)
        self.problems: tuple[Problem, ...] = tuple(problems)
        super().__init__("\n".join(p.describe(self.source) for p in self.problems))

    @property
    def step_index(self) -> int | None:
        return self.problems[0].step_index

    @property
    def field(self) -> str | None:
        return self.problems[0].field

    @property
    def missing_items(self) -> tuple[str, ...]:
        return tuple(p.missing_item for p in self.problems if p.missing_item is not None)

    @property
    def kind(self) -> FailureKind:
        """MISSING_CORPUS_ITEM when unknown ids are the only problem, else BAD_SCENARIO."""
        if all(p.missing_item is not None for p in self.problems):
            return FailureKind.MISSING_CORPUS_ITEM
        return FailureKind.BAD_SCENARIO

    def to_failure(self) -> Failure:
        """The runner records a bad file as a result instead of stopping the run."""
        return Failure(kind=self.kind, reason=str(self), step_index=self.step_index)

"""``--json``: a command's outcome as one JSON object on stdout, for a program to read.

The human console stays on stderr, so ``voice-harness run ... --json > outcome.json``
holds the object alone. It is read back from the run folder's run.json once the
command is done (the summary, counts and verdicts the reports show), so it says what
the folder says; a bad invocation is an object too, with ``error`` and exit code 2.
Every byte passes the redactor, as everything else the harness prints.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import NoReturn

import typer

from harness.cli.common import usage_error
from harness.console import RedactingStream
from harness.exit_codes import EXIT_USAGE
from harness.records import SCHEMA_VERSION, MetricSummary, Verdict
from harness.slo.baseline import MetricRow
from harness.store.run_info import RunCounts, RunFailure

__all__ = ["CompareOutcome", "ComparedRun", "RunOutcome", "exit_with", "json_usage_error", "print_json",
           "run_outcome"]


@dataclass(frozen=True, slots=True, kw_only=True)
class RunOutcome:
    """What ``run``, ``report`` and ``rescore`` print with ``--json``."""

    schema_version: int = SCHEMA_VERSION
    command: str
    exit_code: int
    """The command's exit code (see the README's table)."""
    passed: bool
    """Exit code 0: every call completed, every expectation held, the gate (if any) passed."""
    run_dir: str | None = None
    run_id: str | None = None
    counts: RunCounts | None = None
    summary: tuple[MetricSummary, ...] = ()
    """Per metric x endpoint x caller, as run.json has it (disturbed calls left out unless counted)."""
    verdicts: tuple[Verdict, ...] = ()
    """SLO and regression verdicts (when the command gated)."""
    failures: tuple[RunFailure, ...] = ()
    report: str | None = None
    """The HTML report, when it was written."""
    error: str | None = None
    """Why nothing (or not everything) could be read: a bad invocation or an unreadable run.json."""


@dataclass(frozen=True, slots=True, kw_only=True)
class ComparedRun:
    run_dir: str
    rows: tuple[MetricRow, ...]
    """Each metric against the first run (the baseline), with its change."""


@dataclass(frozen=True, slots=True, kw_only=True)
class CompareOutcome:
    """What ``compare`` prints with ``--json``."""

    schema_version: int = SCHEMA_VERSION
    command: str = "compare"
    exit_code: int
    passed: bool
    """Exit code 0 (with ``--gate``: nothing regressed)."""
    baseline: str | None = None
    runs: tuple[ComparedRun, ...] = ()
    error: str | None = None


def print_json(outcome: RunOutcome | CompareOutcome) -> None:
    from harness.store.serialize import to_json

    RedactingStream(stderr=False).write(to_json(outcome, indent=2) + "\n")


def run_outcome(command: str, run_dir: Path, exit_code: int) -> RunOutcome:
    """The outcome of a command that left ``run_dir``, from its run.json."""
    from harness.store.run_folder import RunFolderError, read_run_info
    from harness.store.run_info import RunInfo

    code = int(exit_code)
    html = run_dir / "index.html"
    info: RunInfo | None = None
    error = None
    try:
        info = read_run_info(run_dir)
    except (RunFolderError, OSError) as exc:
        error = str(exc)
    return RunOutcome(
        command=command, exit_code=code, passed=code == 0, run_dir=str(run_dir),
        report=str(html) if html.is_file() else None, error=error,
        run_id=None if info is None else info.run_id, counts=None if info is None else info.counts,
        summary=() if info is None else info.summary, verdicts=() if info is None else info.verdicts,
        failures=() if info is None else info.failures,
    )


def json_usage_error(command: str, message: str, as_json: bool) -> NoReturn:
    """Exit 2: the message on stderr, and with ``--json`` an outcome that carries it."""
    if as_json:
        print_json(CompareOutcome(exit_code=EXIT_USAGE, passed=False, error=message) if command == "compare"
                   else RunOutcome(command=command, exit_code=EXIT_USAGE, passed=False, error=message))
    usage_error(message)


def exit_with(command: str, run_dir: Path, code: int, as_json: bool) -> NoReturn:
    """Print the outcome (with ``--json``) and exit with ``code``."""
    if as_json:
        print_json(run_outcome(command, run_dir, code))
    raise typer.Exit(code)

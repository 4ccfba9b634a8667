"""The commands that read run folders: ``report``, ``compare`` and ``rescore``.

Each takes a run folder or a folder that holds runs (the latest is used, and the
console says which: ``harness.cli.run_dirs``), and with ``--json`` prints its outcome
on stdout (``harness.cli.json_out``).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from harness.cli.common import JsonOption, SpeechEndOption, console, speech_end_level
from harness.cli.json_out import (
    ComparedRun,
    CompareOutcome,
    exit_with,
    json_usage_error,
    print_json,
)
from harness.cli.run_dirs import NoRunFolder, pick_run
from harness.console import make_console
from harness.exit_codes import EXIT_GATE_FAILED, EXIT_OK

__all__ = ["compare_command", "report_command", "rescore_command"]

RunArgument = Annotated[Path, typer.Argument(
    help="A run folder, or a folder of runs (the latest is used).", show_default=False)]


def _run_dir(command: str, path: Path, as_json: bool) -> Path:
    try:
        picked = pick_run(path)
    except NoRunFolder as exc:
        json_usage_error(command, str(exc), as_json)
    if picked.note is not None:
        console.print(f"[dim]using[/dim] {escape(picked.note)}")
    return picked.path


def rescore_command(
    run_dir: RunArgument, speech_end_dbfs: SpeechEndOption = None, as_json: JsonOption = False
) -> None:
    """Recompute every measurement from the saved recordings (no new calls).

    The caller's speech ends as the run defined it (run.json) unless --speech-end-dbfs
    gives another definition, which run.json then records.
    """
    from harness.rescore import SpeechEnd, rescore_run

    speech_end = None
    if speech_end_dbfs is not None:
        try:
            speech_end = SpeechEnd(speech_end_level(speech_end_dbfs))
        except ValueError as exc:
            json_usage_error("rescore", str(exc), as_json)
    run_dir = _run_dir("rescore", run_dir, as_json)
    exit_with("rescore", run_dir, rescore_run(run_dir, console, speech_end), as_json)


def report_command(
    run_dir: RunArgument,
    slo: Annotated[Path | None, typer.Option(help="SLO file (TOML) to evaluate.")] = None,
    baseline: Annotated[Path | None, typer.Option(
        help="Baseline run folder (or folder of runs) to compare with.")] = None,
    include_disturbed: Annotated[bool, typer.Option(
        "--include-disturbed", help="Count disturbed calls in the statistics and the gate.")] = False,
    as_json: JsonOption = False,
) -> None:
    """Rebuild junit.xml, allure-results/, index.html and summary.md from a run folder.

    Exit 0, or 3 when --slo/--baseline are given and the gate fails; 2 on bad input.
    """
    from harness.gate import GateError, finish_run, load_run_data

    run_dir = _run_dir("report", run_dir, as_json)
    if baseline is not None:
        baseline = _run_dir("report", baseline, as_json)
    try:
        load_run_data(run_dir)
    except GateError as exc:
        json_usage_error("report", str(exc), as_json)
    code = finish_run(run_dir, EXIT_OK, console, slo=slo, baseline=baseline, include_disturbed=include_disturbed)
    exit_with("report", run_dir, code, as_json)


def compare_command(
    runs: Annotated[list[Path], typer.Argument(
        help="Run folders (or folders of runs: the latest of each); the first is the baseline.")],
    slo: Annotated[Path | None, typer.Option(help="SLO file whose [regression] settings apply.")] = None,
    gate: Annotated[bool, typer.Option("--gate", help="Exit 3 if any later run regressed.")] = False,
    include_disturbed: Annotated[bool, typer.Option(
        "--include-disturbed", help="Count calls the validity guard marked disturbed.")] = False,
    as_json: JsonOption = False,
) -> None:
    """Side-by-side table of runs (e.g. one per vendor), each against the first.

    Exit 0; with --gate, 3 when any run regressed against the first; 2 on bad input.
    """
    from harness.gate import GateError, compare_table, load_slo
    from harness.stats.regression import Change

    if len(runs) < 2:
        json_usage_error("compare", "compare needs at least two run folders", as_json)
    runs = [_run_dir("compare", r, as_json) for r in runs]
    try:
        table, per_run = compare_table(runs, load_slo(slo), include_disturbed=include_disturbed)
    except GateError as exc:
        json_usage_error("compare", str(exc), as_json)
    if as_json:
        console.print(table)  # stdout is the JSON's
    else:
        out = make_console(width=None if sys.stdout.isatty() else 200)
        out.quiet = console.quiet
        out.print(table)
    regressed = [(runs[i + 1], r) for i, rows in enumerate(per_run) for r in rows
                 if r.comparison.change is Change.REGRESSION]
    for path, r in regressed:
        console.print("[red]regression[/red] " + escape(f"{path.name}: {r.metric} [{r.group}]"))
    code = EXIT_GATE_FAILED if gate and regressed else EXIT_OK
    if as_json:
        print_json(CompareOutcome(
            exit_code=int(code), passed=code == EXIT_OK, baseline=str(runs[0]),
            runs=tuple(ComparedRun(run_dir=str(p), rows=tuple(rows)) for p, rows in zip(runs[1:], per_run,
                                                                                       strict=True))))
    raise typer.Exit(code)

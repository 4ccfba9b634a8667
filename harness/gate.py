"""Gating a run folder (SLOs, baseline) and comparing runs side by side, for the CLI.

Exit codes (documented in the CLI help and ci/README.md):
  0  ok
  1  the run finished but some call failed or some expectation did not hold
  2  bad invocation or unreadable input (SLO file, run folder)
  3  the gate failed: an SLO verdict failed or a regression against the baseline
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from harness.exit_codes import EXIT_GATE_FAILED, EXIT_OK, EXIT_USAGE
from harness.fmt import fmt_value
from harness.records import Verdict, VerdictStatus
from harness.report.write import ReportPaths, ReportSettings, write_reports
from harness.slo.baseline import MetricRow, compare_runs, regression_verdicts
from harness.slo.data import RunData, load_run
from harness.slo.drift import drift_entries, evaluate_drift
from harness.slo.evaluate import evaluate, gate_failed
from harness.slo.rules import SloError, SloFile, load_slo_file
from harness.stats.regression import Change
from harness.store.run_folder import RunFolder, RunFolderError, read_run_info
from harness.store.serialize import SerializationError
from harness.store.windows import WindowsFileError

__all__ = [
    "EXIT_GATE_FAILED",
    "GateError",
    "GateResult",
    "check_gate_inputs",
    "compare_table",
    "finish_run",
    "gate_and_report",
    "gate_run",
    "print_verdicts",
]



class GateError(Exception):
    """Input that cannot be gated; the message names the file."""


@dataclass(frozen=True, slots=True, kw_only=True)
class GateResult:
    verdicts: tuple[Verdict, ...]
    rows: tuple[MetricRow, ...] = ()
    """Baseline comparison rows (empty without a baseline)."""

    @property
    def failed(self) -> bool:
        return gate_failed(self.verdicts)


def load_run_data(path: Path, *, include_disturbed: bool = False) -> RunData:
    try:
        return load_run(path, include_disturbed=include_disturbed)
    except (RunFolderError, OSError) as exc:
        raise GateError(str(exc)) from None


def load_slo(path: Path | None) -> SloFile | None:
    if path is None:
        return None
    try:
        return load_slo_file(path)
    except SloError as exc:
        raise GateError(str(exc)) from None


def gate_run(
    run_dir: Path, slo: SloFile | None = None, baseline: Path | None = None, *, write: bool = True,
    include_disturbed: bool = False,
) -> GateResult:
    """Evaluate the SLOs and the baseline comparison; store the verdicts in run.json.

    Disturbed calls (validity guard) are left out of both unless ``include_disturbed``
    or the SLO file's ``include_disturbed`` says to count them.
    """
    include = include_disturbed or (slo is not None and slo.include_disturbed)
    data = load_run_data(run_dir, include_disturbed=include)
    verdicts: list[Verdict] = list(evaluate(slo, data)) if slo else []
    if slo is not None and slo.drift_rules:
        try:
            verdicts.extend(evaluate_drift(slo.drift_rules, drift_entries(run_dir)))
        except WindowsFileError as exc:
            raise GateError(str(exc)) from None
    rows: list[MetricRow] = []
    if baseline is not None:
        rows = compare_runs(load_run_data(baseline, include_disturbed=include), data,
                            slo.regression if slo else None)
        verdicts.extend(regression_verdicts(rows))
    if write and (run_dir / "run.json").is_file():
        try:
            info = read_run_info(run_dir)
            RunFolder.open(run_dir).write_run_json(dataclasses.replace(info, verdicts=tuple(verdicts)))
        except (RunFolderError, SerializationError, OSError) as exc:
            raise GateError(f"{run_dir}: cannot record verdicts in run.json: {exc}") from None
    return GateResult(verdicts=tuple(verdicts), rows=tuple(rows))


_STATUS_STYLE = {
    VerdictStatus.PASS: "[green]pass[/green]",
    VerdictStatus.FAIL: "[red]FAIL[/red]",
    VerdictStatus.INSUFFICIENT_SAMPLES: "[yellow]insufficient samples[/yellow]",
}


def print_verdicts(console: Console, verdicts: Sequence[Verdict]) -> None:
    if not verdicts:
        return
    table = Table(title="gate verdicts")
    for col in ("status", "kind", "metric", "stat", "group", "observed", "threshold", "n"):
        table.add_column(col)
    for v in verdicts:
        table.add_row(_STATUS_STYLE[v.status], str(v.kind), escape(v.metric), v.stat, escape(v.group),
                      fmt_value(v.observed, v.unit), f"{v.op} {fmt_value(v.threshold, v.unit)}", str(v.n))
    console.print(table)
    for v in verdicts:
        if v.status is VerdictStatus.FAIL:
            console.print("  [red]FAIL[/red] " + escape(
                f"{v.metric} {v.stat} [{v.group}]: observed {fmt_value(v.observed, v.unit)} {v.unit}, "
                f"threshold {v.op} {fmt_value(v.threshold, v.unit)} (n={v.n}) {v.detail}"))


_CHANGE_STYLE = {
    Change.REGRESSION: "[red]regression[/red]",
    Change.IMPROVEMENT: "[green]improvement[/green]",
    Change.UNCHANGED: "unchanged",
    Change.INSUFFICIENT: "[yellow]insufficient[/yellow]",
    Change.UNGATED: "[dim]not gated[/dim]",
}


def compare_table(
    runs: Sequence[Path], slo: SloFile | None = None, *, include_disturbed: bool = False
) -> tuple[Table, list[list[MetricRow]]]:
    """A side-by-side table: per metric, each run's value; runs 2.. against run 1
    (disturbed calls left out unless ``include_disturbed`` or the SLO file says so)."""
    include = include_disturbed or (slo is not None and slo.include_disturbed)
    datas = [load_run_data(p, include_disturbed=include) for p in runs]
    settings = slo.regression if slo else None
    per_run = [compare_runs(datas[0], d, settings) for d in datas[1:]]
    table = Table(title="voice-harness compare (first run is the baseline)")
    table.add_column("metric")
    table.add_column("group")
    table.add_column("stat")
    labels = [escape(_run_label(p)) for p in runs]
    table.add_column(f"{labels[0]} (n)", justify="right")
    for label in labels[1:]:
        table.add_column(f"{label} (n)", justify="right")
        table.add_column("diff [95% CI]", justify="right")
        table.add_column("p", justify="right")
        table.add_column("change")
    indexed = [{(r.metric, r.group): r for r in rows} for rows in per_run]
    keys = sorted({k for rows in indexed for k in rows})
    for key in keys:
        first = next(rows[key] for rows in indexed if key in rows)
        c0 = first.comparison
        cells = [escape(first.metric), escape(first.group), c0.stat, f"{fmt_value(c0.a, first.unit)} ({c0.n_a})"]
        for rows in indexed:
            row = rows.get(key)
            if row is None:
                cells += ["-", "-", "-", "-"]
                continue
            c = row.comparison
            ci = "" if c.ci is None else f" [{fmt_value(c.ci[0], row.unit)}, {fmt_value(c.ci[1], row.unit)}]"
            cells += [f"{fmt_value(c.b, row.unit)} ({c.n_b})",
                      ("-" if c.diff is None else f"{c.diff:+.3g}") + ci,
                      "-" if c.p_worse is None else f"{c.p_worse:.2g}", _CHANGE_STYLE[c.change]]
        table.add_row(*cells)
    return table, per_run


def _run_label(path: Path) -> str:
    try:
        info = read_run_info(path)
        names = ",".join(e.name for e in info.endpoints)
        return f"{path.name}" + (f" [{names}]" if names else "")
    except (RunFolderError, SerializationError, OSError):
        return path.name


def check_gate_inputs(slo: Path | None, baseline: Path | None) -> SloFile | None:
    """Fail fast, before any call is made, on an unreadable SLO file or baseline."""
    slo_file = load_slo(slo)
    if baseline is not None:
        load_run_data(baseline)
    return slo_file


def gate_and_report(
    run_dir: Path, *, slo: SloFile | Path | None = None, baseline: Path | None = None,
    settings: ReportSettings | None = None, include_disturbed: bool = False,
) -> ReportPaths:
    """Gate first (verdicts stored in run.json), then render every report from the folder.

    Without ``slo``/``baseline`` the verdicts already in run.json (from an earlier gate)
    are shown. Raises ``GateError`` for an unreadable SLO file or baseline.
    """
    rows: tuple[MetricRow, ...] = ()
    if slo is not None or baseline is not None:
        slo_file = load_slo(slo) if isinstance(slo, Path) else slo
        include_disturbed = include_disturbed or (slo_file is not None and slo_file.include_disturbed)
        rows = gate_run(run_dir, slo_file, baseline, include_disturbed=include_disturbed).rows
    settings = settings or ReportSettings()
    if include_disturbed and not settings.include_disturbed:
        settings = dataclasses.replace(settings, include_disturbed=True)
    return write_reports(run_dir, rows=rows, baseline=baseline, settings=settings)


def finish_run(
    run_dir: Path, code: int, console: Console, *, slo: SloFile | Path | None = None,
    baseline: Path | None = None, include_disturbed: bool = False,
) -> int:
    """Write every report of a finished run and fold the gate into the exit code.

    A report that cannot be written is an error message, not a lost run: the run
    folder's results stand and the exit code still reflects the calls (never 0, though:
    a CI step must not pass without its reports).
    """
    try:
        paths = gate_and_report(run_dir, slo=slo, baseline=baseline, include_disturbed=include_disturbed)
    except GateError as exc:
        console.print(f"[red]gate error:[/red] {escape(str(exc))}")
        return EXIT_USAGE
    except (OSError, ValueError, RunFolderError) as exc:
        console.print(f"[red]could not write the reports:[/red] {escape(str(exc))}")
        return EXIT_USAGE if code == EXIT_OK else code  # missing reports are never a success
    if slo is not None or baseline is not None:
        print_verdicts(console, paths.verdicts)
    console.print(f"report: {escape(str(paths.html))}")
    if paths.gate_failed:
        console.print("[red]gate failed[/red] (exit code 3)")
        return EXIT_GATE_FAILED
    return code

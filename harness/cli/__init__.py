"""``voice-harness``: run | rescore | demo | agent | corpus.

Exit codes (documented for CI in the README):
  0  every call completed and every expectation held
  1  the run finished but some call failed, some expectation did not hold, or the
     harness disturbed some call (validity guard: its numbers are not the endpoint's)
  2  bad invocation: nothing to run (unknown endpoint, no scenario found, bad option,
     unreadable SLO file or baseline run folder)
  3  the gate failed: an SLO verdict failed (--slo) or a metric regressed against the
     baseline (--baseline; compare --gate); takes precedence over 1
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from harness.agent.cli import agent_app
from harness.cli.endpoints import endpoints_app
from harness.cli.soak import soak_command
from harness.console import make_console
from harness.corpus.cli import corpus_app
from harness.exit_codes import EXIT_OK, EXIT_USAGE
from harness.redact import install_log_redaction

DEMO_SUITES = [Path("suites/smoke"), Path("suites/barge_in"), Path("suites/endpointing"),
               Path("suites/quality"), Path("suites/accuracy")]

app = typer.Typer(
    help="Evaluation and conformance harness for realtime voice AI.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
app.add_typer(agent_app, name="agent")
app.add_typer(corpus_app, name="corpus")
app.add_typer(endpoints_app, name="endpoints")
app.command("soak")(soak_command)
console = make_console(stderr=True)


@app.callback()
def _everywhere() -> None:
    """Evaluation and conformance harness for realtime voice AI."""
    install_log_redaction()  # every library's log line is scrubbed of keys on its way out


@app.command("run")
def run_command(
    paths: Annotated[list[Path], typer.Argument(help="Scenario files or folders.")],
    endpoint: Annotated[list[str], typer.Option("--endpoint", "-e",
                                                help="Name in endpoints.toml or DIALECT+URL.")],
    caller: Annotated[list[str], typer.Option(help="aiortc and/or browser.")] = ["aiortc"],  # noqa: B006
    repeat: Annotated[int, typer.Option(min=1)] = 1,
    concurrency: Annotated[int, typer.Option(min=1)] = 1,
    out: Annotated[Path, typer.Option(help="Folder that receives the run folder.")] = Path("reports"),
    endpoints_file: Annotated[Path | None, typer.Option(help="endpoints.toml")] = None,
    corpus: Annotated[Path | None, typer.Option(help="Corpus folder (default: built-in).")] = None,
    signalling_timeout: Annotated[float, typer.Option(help="Seconds to wait for the SDP answer.")] = 10.0,
    connect_timeout: Annotated[float, typer.Option(help="Seconds to wait for media to connect.")] = 15.0,
    slo: Annotated[Path | None, typer.Option(help="SLO file (TOML) to gate on: exit 3 on a failed verdict.")] = None,
    baseline: Annotated[Path | None, typer.Option(help="Baseline run folder: exit 3 on a regression.")] = None,
    run_id: Annotated[str | None, typer.Option(help="Run folder name (default: time + random).")] = None,
    workers: Annotated[int | None, typer.Option(
        min=1, help="Caller worker processes (default: one per core); with --ray, actors.")] = None,
    ray: Annotated[str | None, typer.Option(
        help="Run the caller workers as Ray actors on this cluster (an address, or 'auto').")] = None,
    scoring_workers: Annotated[int | None, typer.Option(
        min=1, help="Niced processes that score finished calls (default: one per core).")] = None,
    include_disturbed: Annotated[bool, typer.Option(
        "--include-disturbed", help="Count calls the validity guard marked disturbed in the summary, "
        "SLO verdicts and baseline comparison (default: left out, still reported).")] = False,
    guard: Annotated[list[str] | None, typer.Option(
        help="Validity guard threshold NAME=MS or NAME=off (repeatable), e.g. send_p99_ms=8; "
        "see docs/validity.md.")] = None,
    network: Annotated[str | None, typer.Option(
        help="Emulated network between caller and endpoint: a profile name (wifi-good, 4g, 3g-lossy, "
             "congested) or fields like delay=50ms,jitter=10ms,loss=2% (docs/network.md).")] = None,
    network_ladder: Annotated[str | None, typer.Option(
        help="Run every call once per profile, e.g. clean,4g,3g-lossy,congested.")] = None,
) -> None:
    """Run scenarios against endpoints and write a run folder.

    A call the harness itself disturbed (validity guard: late frames, a stalled loop)
    is flagged in every report and counts like a failed call for the exit code (1).
    """
    from harness.callers.base import CallerSettings
    from harness.network.profiles import ProfileError, parse_ladder, parse_profile
    from harness.session import RunRequest, UsageError, run_and_report
    from harness.validity import ValiditySettings

    try:
        validity = ValiditySettings().with_overrides(guard or [])
    except ValueError as exc:
        console.print(f"[red]error:[/red] --guard: {exc}")
        raise typer.Exit(EXIT_USAGE) from None
    try:
        if network is not None and network_ladder is not None:
            raise ProfileError("give --network or --network-ladder, not both")
        profile = parse_profile(network) if network is not None else None
        ladder = parse_ladder(network_ladder) if network_ladder is not None else ()
    except ProfileError as exc:
        console.print(f"[red]error:[/red] {escape(str(exc))}")
        raise typer.Exit(EXIT_USAGE) from None
    request = RunRequest(
        paths=tuple(paths), endpoints=tuple(endpoint), callers=tuple(caller), repeat=repeat,
        concurrency=concurrency, out=out, endpoints_file=endpoints_file, corpus=corpus,
        argv=tuple(sys.argv),
        caller_settings=CallerSettings(signalling_timeout_s=signalling_timeout,
                                       connect_timeout_s=connect_timeout, network=profile),
        slo=slo, baseline=baseline, run_id=run_id, workers=workers, ray=ray, network_ladder=ladder,
        scoring_workers=scoring_workers, validity=validity, include_disturbed=include_disturbed,
    )
    try:
        code = asyncio.run(run_and_report(request, console))
    except UsageError as exc:
        console.print(f"[red]error:[/red] {escape(str(exc))}")
        raise typer.Exit(EXIT_USAGE) from None
    raise typer.Exit(code)


@app.command("rescore")
def rescore_command(run_dir: Annotated[Path, typer.Argument(help="A run folder.")]) -> None:
    """Recompute every measurement from the saved recordings (no new calls)."""
    from harness.rescore import rescore_run

    raise typer.Exit(rescore_run(run_dir, console))


@app.command("demo")
def demo_command(
    out: Annotated[Path, typer.Option()] = Path("reports"),
    suites: Annotated[list[Path] | None, typer.Option(help="Suites to run.")] = None,
) -> None:
    """Build the corpus, start the reference agent, run the shipped suites, report."""
    from harness.session import demo

    raise typer.Exit(asyncio.run(demo(out, suites or DEMO_SUITES, console)))


@app.command("report")
def report_command(
    run_dir: Annotated[Path, typer.Argument(help="A run folder.")],
    slo: Annotated[Path | None, typer.Option(help="SLO file (TOML) to evaluate.")] = None,
    baseline: Annotated[Path | None, typer.Option(help="Baseline run folder to compare with.")] = None,
    include_disturbed: Annotated[bool, typer.Option(
        "--include-disturbed", help="Count disturbed calls in the statistics and the gate.")] = False,
) -> None:
    """Rebuild junit.xml, allure-results/, index.html and summary.md from a run folder.

    Exit 0, or 3 when --slo/--baseline are given and the gate fails; 2 on bad input.
    """
    from harness.gate import GateError, finish_run, load_run_data

    try:
        load_run_data(run_dir)
    except GateError as exc:
        console.print(f"[red]error:[/red] {escape(str(exc))}")
        raise typer.Exit(EXIT_USAGE) from None
    raise typer.Exit(finish_run(run_dir, EXIT_OK, console, slo=slo, baseline=baseline,
                                include_disturbed=include_disturbed))


@app.command("compare")
def compare_command(
    runs: Annotated[list[Path], typer.Argument(help="Run folders; the first is the baseline.")],
    slo: Annotated[Path | None, typer.Option(help="SLO file whose [regression] settings apply.")] = None,
    gate: Annotated[bool, typer.Option("--gate", help="Exit 3 if any later run regressed.")] = False,
    include_disturbed: Annotated[bool, typer.Option(
        "--include-disturbed", help="Count calls the validity guard marked disturbed.")] = False,
) -> None:
    """Side-by-side table of runs (e.g. one per vendor), each against the first.

    Exit 0; with --gate, 3 when any run regressed against the first; 2 on bad input.
    """
    from harness.gate import EXIT_GATE_FAILED, GateError, compare_table, load_slo
    from harness.stats.regression import Change

    if len(runs) < 2:
        console.print("[red]error:[/red] compare needs at least two run folders")
        raise typer.Exit(EXIT_USAGE)
    try:
        table, per_run = compare_table(runs, load_slo(slo), include_disturbed=include_disturbed)
    except GateError as exc:
        console.print(f"[red]error:[/red] {escape(str(exc))}")
        raise typer.Exit(EXIT_USAGE) from None
    make_console(width=None if sys.stdout.isatty() else 200).print(table)
    regressed = [(runs[i + 1], r) for i, rows in enumerate(per_run) for r in rows
                 if r.comparison.change is Change.REGRESSION]
    for path, r in regressed:
        console.print("[red]regression[/red] " + escape(f"{path.name}: {r.metric} [{r.group}]"))
    raise typer.Exit(EXIT_GATE_FAILED if gate and regressed else EXIT_OK)

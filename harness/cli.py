"""``voice-harness``: run | rescore | demo | agent | corpus.

Exit codes (documented for CI in the README):
  0  every call completed and every expectation held
  1  the run finished but some call failed or some expectation did not hold
  2  bad invocation: nothing to run (unknown endpoint, no scenario found, bad option)
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from harness.agent.cli import agent_app
from harness.corpus.cli import corpus_app

EXIT_OK, EXIT_FAILURES, EXIT_USAGE = 0, 1, 2

app = typer.Typer(
    help="Evaluation and conformance harness for realtime voice AI.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
app.add_typer(agent_app, name="agent")
app.add_typer(corpus_app, name="corpus")
console = Console(stderr=True, width=None if sys.stderr.isatty() else 160)


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
) -> None:
    """Run scenarios against endpoints and write a run folder."""
    from harness.callers.aiortc_caller import CallerSettings
    from harness.session import RunRequest, UsageError, run_and_report

    request = RunRequest(
        paths=tuple(paths), endpoints=tuple(endpoint), callers=tuple(caller), repeat=repeat,
        concurrency=concurrency, out=out, endpoints_file=endpoints_file, corpus=corpus,
        argv=tuple(sys.argv),
        caller_settings=CallerSettings(signalling_timeout_s=signalling_timeout,
                                       connect_timeout_s=connect_timeout),
    )
    try:
        code = asyncio.run(run_and_report(request, console))
    except UsageError as exc:
        console.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(EXIT_USAGE) from None
    raise typer.Exit(code)


@app.command("rescore")
def rescore_command(run_dir: Annotated[Path, typer.Argument(help="A run folder.")]) -> None:
    """Recompute every measurement from the saved recordings (no new calls)."""
    from harness.session import UsageError, rescore_run

    try:
        code = rescore_run(run_dir, console)
    except UsageError as exc:
        console.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(EXIT_USAGE) from None
    raise typer.Exit(code)


@app.command("demo")
def demo_command(
    out: Annotated[Path, typer.Option()] = Path("reports"),
    suites: Annotated[list[Path] | None, typer.Option(help="Suites to run.")] = None,
) -> None:
    """Build the corpus, start the reference agent, run the shipped suites, report."""
    from harness.session import demo

    raise typer.Exit(asyncio.run(demo(out, suites or [Path("suites/smoke")], console)))

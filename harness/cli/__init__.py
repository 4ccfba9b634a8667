"""``voice-harness``: run | soak | compare | report | rescore | demo | init | agent | corpus | endpoints.

Habits of a command-line tool: ``--version``; ``-v``/``-q`` before the command;
``--json`` on the commands that summarise a run (the outcome on stdout, the console on
stderr); ``compare``/``report``/``rescore`` take a run folder or the folder ``run --out``
wrote runs into (the latest).

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
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Annotated

import typer

from harness.agent.cli import agent_app
from harness.cli.common import (
    CallerChoice,
    CallerOption,
    JsonOption,
    SpeechEndOption,
    console,
    set_verbosity,
    speech_end_level,
)
from harness.cli.endpoints import endpoints_app
from harness.cli.folders import compare_command, report_command, rescore_command
from harness.cli.init_cmd import init_command
from harness.cli.json_out import json_usage_error, print_json, run_outcome
from harness.cli.run_dirs import NoRunFolder, pick_run
from harness.cli.selection import SkipTagOption, TagOption
from harness.cli.soak import soak_command
from harness.corpus.cli import corpus_app
from harness.redact import install_log_redaction

DEMO_SUITES = ("smoke", "barge_in", "endpointing", "quality", "accuracy")
"""The shipped suites ``demo`` runs: found beside the package (harness.resources), not in the current folder."""

app = typer.Typer(
    help="Evaluation and conformance harness for realtime voice AI.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
app.add_typer(agent_app, name="agent")
app.add_typer(corpus_app, name="corpus")
app.add_typer(endpoints_app, name="endpoints")
app.command("soak")(soak_command)
app.command("report")(report_command)
app.command("compare")(compare_command)
app.command("rescore")(rescore_command)
app.command("init")(init_command)
PACKAGE = "voice-harness"


def _print_version(value: bool) -> None:
    if value:
        try:
            print(f"{PACKAGE} {version(PACKAGE)}")
        except PackageNotFoundError:  # a checkout run without installing it
            print(f"{PACKAGE} (not installed)")
        raise typer.Exit()


@app.callback()
def _everywhere(
    verbose: Annotated[int, typer.Option(
        "--verbose", "-v", count=True, help="Log INFO to stderr (-vv: DEBUG).")] = 0,
    quiet: Annotated[bool, typer.Option(
        "--quiet", "-q", help="No progress, tables or notes; errors and --json output only.")] = False,
    _version: Annotated[bool, typer.Option(
        "--version", callback=_print_version, is_eager=True, help="Print the version and exit.")] = False,
) -> None:
    """Evaluation and conformance harness for realtime voice AI."""
    install_log_redaction()  # every library's log line is scrubbed of keys on its way out
    set_verbosity(verbose, quiet)


@app.command("run")
def run_command(
    paths: Annotated[list[Path], typer.Argument(help="Scenario files or folders.")],
    endpoint: Annotated[list[str], typer.Option("--endpoint", "-e",
                                                help="Name in endpoints.toml or DIALECT+URL.")],
    caller: CallerOption = [CallerChoice.AIORTC],  # noqa: B006
    repeat: Annotated[int, typer.Option(min=1)] = 1,
    concurrency: Annotated[int, typer.Option(min=1)] = 1,
    out: Annotated[Path, typer.Option(help="Folder that receives the run folder.")] = Path("reports"),
    endpoints_file: Annotated[Path | None, typer.Option(help="endpoints.toml")] = None,
    corpus: Annotated[Path | None, typer.Option(help="Corpus folder (default: built-in).")] = None,
    signalling_timeout: Annotated[float, typer.Option(help="Seconds to wait for the SDP answer.")] = 10.0,
    connect_timeout: Annotated[float, typer.Option(help="Seconds to wait for media to connect.")] = 15.0,
    slo: Annotated[Path | None, typer.Option(help="SLO file (TOML) to gate on: exit 3 on a failed verdict.")] = None,
    baseline: Annotated[Path | None, typer.Option(
        help="Baseline run folder (or folder of runs: the latest): exit 3 on a regression.")] = None,
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
    tag: TagOption = None,
    skip_tag: SkipTagOption = None,
    route: Annotated[list[str] | None, typer.Option(
        metavar="TAG=ENDPOINT", help="Repeatable: scenarios tagged TAG run on that endpoint only (one of the "
             "-e endpoints, as given or by name), and it runs nothing else, e.g. --route tts=my-tts-bot.")] = None,
    speech_end_dbfs: SpeechEndOption = None,
    as_json: JsonOption = False,
) -> None:
    """Run scenarios against endpoints and write a run folder.

    A call the harness itself disturbed (validity guard: late frames, a stalled loop)
    is flagged in every report and counts like a failed call for the exit code (1).
    """
    from harness.callers.base import CallerSettings
    from harness.network.profiles import ProfileError, parse_ladder, parse_profile
    from harness.plan import PlanError, parse_route
    from harness.records import SegmentationParams
    from harness.session import RunRequest, UsageError, run_and_report
    from harness.store.run_folder import new_run_id
    from harness.validity import ValiditySettings

    try:
        validity = ValiditySettings().with_overrides(guard or [])
    except ValueError as exc:
        json_usage_error("run", f"--guard: {exc}", as_json)
    try:
        if network is not None and network_ladder is not None:
            raise ProfileError("give --network or --network-ladder, not both")
        profile = parse_profile(network) if network is not None else None
        ladder = parse_ladder(network_ladder) if network_ladder is not None else ()
    except ProfileError as exc:
        json_usage_error("run", str(exc), as_json)
    try:
        routes = tuple(parse_route(text) for text in route or [])
    except PlanError as exc:
        json_usage_error("run", str(exc), as_json)
    try:
        level = None if speech_end_dbfs is None else speech_end_level(speech_end_dbfs)
    except ValueError as exc:
        json_usage_error("run", str(exc), as_json)
    if baseline is not None:
        try:
            baseline = pick_run(baseline).path
        except NoRunFolder as exc:
            json_usage_error("run", str(exc), as_json)
    if as_json and run_id is None:
        run_id = new_run_id()  # named here, so that the folder can be read back for --json
    request = RunRequest(
        paths=tuple(paths), endpoints=tuple(endpoint), callers=tuple(str(c) for c in caller), repeat=repeat,
        concurrency=concurrency, out=out, endpoints_file=endpoints_file, corpus=corpus,
        argv=tuple(sys.argv),
        caller_settings=CallerSettings(signalling_timeout_s=signalling_timeout,
                                       connect_timeout_s=connect_timeout, network=profile),
        slo=slo, baseline=baseline, run_id=run_id, workers=workers, ray=ray, network_ladder=ladder,
        scoring_workers=scoring_workers, validity=validity, include_disturbed=include_disturbed,
        routes=routes, tags=tuple(tag or ()), skip_tags=tuple(skip_tag or ()),
        segmentation=SegmentationParams(caller_end_dbfs=level),
    )
    try:
        code = asyncio.run(run_and_report(request, console))
    except UsageError as exc:
        json_usage_error("run", str(exc), as_json)
    if as_json and run_id is not None:
        print_json(run_outcome("run", out / run_id, code))
    raise typer.Exit(code)


@app.command("demo")
def demo_command(
    out: Annotated[Path, typer.Option()] = Path("reports"),
    suites: Annotated[list[Path] | None, typer.Option(help="Suites to run.")] = None,
) -> None:
    """Build the corpus, start the reference agent, run the shipped suites, report."""
    from harness.cli.common import usage_error
    from harness.resources import SUITES, ResourceError, shipped_path
    from harness.session import demo

    try:
        suites = suites or [shipped_path(SUITES) / name for name in DEMO_SUITES]
    except ResourceError as exc:
        usage_error(str(exc))
    raise typer.Exit(asyncio.run(demo(out, suites, console)))

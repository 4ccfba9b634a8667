"""What ``voice-harness run`` and ``demo`` do, behind the CLI's option parsing.

Loads the inputs (corpus, scenarios, endpoints), plans, executes with a progress bar,
summarises, and writes the run folder; bad inputs become recorded failures (scenario
files) or a ``UsageError`` when there is nothing to run at all.
"""

from __future__ import annotations

import contextlib
import dataclasses
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from harness.callers.base import CallerSettings
from harness.corpus.defaults import default_corpus
from harness.corpus.errors import CorpusError
from harness.corpus.model import Corpus, load_corpus
from harness.endpoints.config import EndpointConfigError, resolve_endpoint
from harness.exit_codes import EXIT_FAILURES, EXIT_OK
from harness.gate import GateError, check_gate_inputs, finish_run
from harness.records import CallerKind, CallResult, EndpointSpec, MetricSummary, SegmentationParams
from harness.runner import execute, open_callers, plan
from harness.scenario.loader import load_all
from harness.slo.rules import SloFile
from harness.stats.percentiles import summarize
from harness.store.run_folder import RunFolder, RunFolderError
from harness.store.run_info import build_run_info, utc_now_iso

SUMMARY_GROUPS = ("metric", "endpoint", "caller")


class UsageError(Exception):
    """Nothing can run: the message tells the user what to fix."""


@dataclass(frozen=True, slots=True, kw_only=True)
class RunRequest:
    paths: tuple[Path, ...]
    endpoints: tuple[str, ...]
    callers: tuple[str, ...] = ("aiortc",)
    repeat: int = 1
    concurrency: int = 1
    out: Path = Path("reports")
    endpoints_file: Path | None = None
    corpus: Path | None = None
    argv: tuple[str, ...] = ()
    run_id: str | None = None
    caller_settings: CallerSettings = dataclasses.field(default_factory=CallerSettings)
    routes: tuple[tuple[str, str], ...] = ()
    """(scenario tag, endpoint name): tagged scenarios run on that endpoint only."""
    slo: Path | None = None
    """SLO file to gate the run on (exit code 3 when a verdict fails)."""
    baseline: Path | None = None
    """Baseline run folder to check for regressions (exit code 3 on a regression)."""


def _gate_inputs(slo: Path | None, baseline: Path | None) -> SloFile | None:
    try:
        return check_gate_inputs(slo, baseline)
    except GateError as exc:
        raise UsageError(str(exc)) from None


def _load_corpus(path: Path | None) -> Corpus:
    try:
        return load_corpus(path) if path is not None else default_corpus(build=True)
    except CorpusError as exc:
        raise UsageError(str(exc)) from None


def _endpoints(names: Sequence[str], config: Path | None) -> list[EndpointSpec]:
    if config is None and Path("endpoints.toml").exists():
        config = Path("endpoints.toml")
    try:
        return [resolve_endpoint(name, config) for name in names]
    except EndpointConfigError as exc:
        raise UsageError(str(exc)) from None


def _callers(names: Sequence[str]) -> list[CallerKind]:
    try:
        return [CallerKind(n) for n in names]
    except ValueError:
        raise UsageError(f"unknown caller in {list(names)}; use aiortc or browser") from None


async def run_and_report(request: RunRequest, console: Console) -> int:
    corpus = _load_corpus(request.corpus)
    endpoints = _endpoints(request.endpoints, request.endpoints_file)
    callers = _callers(request.callers)
    scenarios, errors = load_all(list(request.paths), corpus)
    if not scenarios and not errors:
        raise UsageError(f"no scenario files found under {', '.join(map(str, request.paths))}")
    run_plan = plan(scenarios, endpoints, callers, request.repeat, errors, request.routes)
    slo = _gate_inputs(request.slo, request.baseline)
    try:
        folder = RunFolder.create(request.out, request.run_id)
    except RunFolderError as exc:
        raise UsageError(str(exc)) from None
    started = utc_now_iso()

    def info(results: Sequence[CallResult], finished: str | None) -> None:
        summary = summarize([m for r in results for m in r.measurements], by=SUMMARY_GROUPS)
        folder.write_run_json(build_run_info(
            run_id=folder.run_id, started_at=started, finished_at=finished, argv=request.argv,
            endpoints=endpoints, callers=callers, scenarios=scenarios, repeats=request.repeat,
            planned=len(run_plan.specs), results=results, summary=summary,
            segmentation=SegmentationParams(), scenario_errors=len(errors),
        ))

    info([], None)  # a killed run still leaves a readable run.json
    console.print(f"run folder: {escape(str(folder.path))}")
    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                  TimeElapsedColumn(), console=console, transient=False) as progress:
        task = progress.add_task("calls", total=len(run_plan.specs) + len(errors))

        def advance(result: CallResult) -> None:
            mark = "[green]ok[/green]" if result.ok else "[red]FAIL[/red]"
            progress.console.print(f"  {mark} " + escape(
                result.spec_call_id + (f"  ({result.failure.reason})" if result.failure else "")))
            progress.advance(task)

        async with open_callers(callers, corpus, request.caller_settings) as available:
            results = await execute(run_plan, corpus, folder, concurrency=request.concurrency,
                                    callers=available, on_result=advance)
    info(results, utc_now_iso())
    summary = summarize([m for r in results for m in r.measurements], by=SUMMARY_GROUPS)
    print_summary(console, summary, results)
    console.print(f"\nrun folder: [bold]{escape(str(folder.path))}[/bold]")
    code = EXIT_OK if all(r.ok for r in results) else EXIT_FAILURES
    return finish_run(folder.path, code, console, slo=slo, baseline=request.baseline)


def print_summary(console: Console, summary: Sequence[MetricSummary], results: Sequence[CallResult]) -> None:
    table = Table(title="voice-harness summary")
    for col in ("metric", "group", "n", "p50", "p90", "p95", "p99", "max", "p50 95% CI"):
        table.add_column(col, justify="right" if col not in ("metric", "group") else "left")

    def fmt(v: float | None) -> str:
        return "-" if v is None else f"{v:.1f}"

    for s in summary:
        ci = "-" if s.p50_ci is None else f"{s.p50_ci[0]:.1f}..{s.p50_ci[1]:.1f}"
        table.add_row(escape(s.metric), escape(s.group), str(s.n), fmt(s.p50), fmt(s.p90), fmt(s.p95), fmt(s.p99),
                      fmt(s.max), ci)
    console.print(table)
    failed = [r for r in results if not r.ok]
    console.print(f"calls: {len(results)}, ok: {len(results) - len(failed)}, failed: {len(failed)}")
    for r in failed:
        why = r.failure.reason if r.failure else "; ".join(
            f"{m.metric} turn {m.turn}: {m.reason or 'expectation failed'}" for m in r.measurements
            if m.passed is False)
        console.print("  [red]FAIL[/red] " + escape(f"{r.spec_call_id}: {why}"))


async def demo(out: Path, suites: Sequence[Path], console: Console) -> int:
    """The README's main job: corpus, reference agents, the shipped suites, a report.

    Two reference agents: an echo agent (exact references for latency, barge-in,
    cutoffs, PESQ and WER) and a tts-mode cascade agent for the scenarios tagged
    ``tts``, whose questions need real answers.
    """
    from harness.agent.process import AgentProcess
    from harness.endpoints.config import resolve_endpoint

    t0 = time.monotonic()
    console.print("building the corpus (cached after the first time) ...")
    corpus = default_corpus(build=True)
    console.print(escape(f"corpus: {len(corpus)} items at {corpus.root} ({time.monotonic() - t0:.1f} s)"))
    console.print("starting the reference agents (the tts agent loads Whisper and Piper) ...")
    with AgentProcess(["--delay", "300"]) as echo, AgentProcess(["--mode", "tts"]) as tts:
        echo_url, tts_url = f"openai-realtime+{echo.url}", f"openai-realtime+{tts.url}"
        console.print(f"reference agents: echo {echo.url}, tts {tts.url}")
        callers = _demo_callers(console)
        request = RunRequest(
            paths=tuple(suites), endpoints=(echo_url, tts_url), callers=tuple(callers),
            out=out, argv=("voice-harness", "demo"), concurrency=2,
            routes=(("tts", resolve_endpoint(tts_url).name),),
        )
        with contextlib.suppress(KeyboardInterrupt):
            return await run_and_report(request, console)
    return EXIT_FAILURES


def _demo_callers(console: Console) -> list[str]:
    """Both callers when a Chromium can be found, else the aiortc caller alone (said so)."""
    from harness.callers.browser.discovery import ChromiumNotFound, find_chromium

    try:
        find_chromium()
    except ChromiumNotFound as exc:
        console.print(f"[yellow]browser caller skipped:[/yellow] {escape(str(exc))}")
        return ["aiortc"]
    return ["aiortc", "browser"]

"""What ``voice-harness run`` and ``demo`` do, behind the CLI's option parsing.

Loads the inputs (corpus, scenarios, endpoints), plans, executes with a progress bar,
summarises, and writes the run folder; bad inputs become recorded failures (scenario
files) or a ``UsageError`` when there is nothing to run at all.
"""

from __future__ import annotations

import contextlib
import dataclasses
import importlib
import importlib.util
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
from harness.endpoints.config import EndpointConfigError, resolve_endpoints
from harness.executors.base import Executor
from harness.executors.local import LocalExecutor
from harness.executors.scoring import PoolScorer
from harness.executors.worker import WorkerConfig
from harness.exit_codes import EXIT_FAILURES
from harness.extras import MissingExtra
from harness.gate import GateError, check_gate_inputs
from harness.lifecycle import CallFinished, RunDescription, RunLifecycle
from harness.network.ladder import on_ladder
from harness.plan import PlanError, plan, select
from harness.records import (
    CallerKind,
    CallResult,
    EndpointSpec,
    MetricSummary,
    NetworkProfile,
    SegmentationParams,
    SpeechEndSummary,
)
from harness.scenario.loader import load_all
from harness.slo.rules import SloFile
from harness.stats.speech_end import describe_speech_end, summarize_speech_ends
from harness.store.run_folder import (
    RunFolder,
    RunFolderError,
)
from harness.validity import ValiditySettings


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
    """(scenario tag, endpoint): tagged scenarios run on that endpoint only, which is
    named as given in ``endpoints`` or by its name (``--route``)."""
    caller_tags: tuple[tuple[str, str], ...] = ()
    """(caller, scenario tag): that caller plays only scenarios carrying one of its tags."""
    caller_limits: tuple[tuple[str, int], ...] = ()
    """(caller, n): at most n calls of that caller at once (local runs)."""
    tags: tuple[str, ...] = ()
    """Run only the scenarios carrying any of these (``--tag``; empty: all)."""
    skip_tags: tuple[str, ...] = ()
    """Leave out the scenarios carrying any of these (``--skip-tag``)."""
    slo: Path | None = None
    """SLO file to gate the run on (exit code 3 when a verdict fails)."""
    baseline: Path | None = None
    """Baseline run folder to check for regressions (exit code 3 on a regression)."""
    workers: int | None = None
    """Caller worker processes (default: one per core) or Ray actors."""
    ray: str | None = None
    """Ray cluster address (or ``auto``): run the caller workers as Ray actors."""
    scoring_workers: int | None = None
    """Processes scoring finished calls (niced; default: one per core)."""
    validity: ValiditySettings = dataclasses.field(default_factory=ValiditySettings)
    include_disturbed: bool = False
    """Count disturbed calls in the summary, the SLO verdicts and the baseline comparison."""
    network_ladder: tuple[NetworkProfile, ...] = ()
    """Run every planned call once per profile (``--network-ladder``); empty: once."""
    segmentation: SegmentationParams = dataclasses.field(default_factory=SegmentationParams)
    """The scoring's detector settings and caller-end definition (``--speech-end-dbfs``)."""


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
        return resolve_endpoints(names, config)
    except EndpointConfigError as exc:
        raise UsageError(str(exc)) from None


def _callers(names: Sequence[str]) -> list[CallerKind]:
    try:
        kinds = [CallerKind(n) for n in names]
    except ValueError:
        raise UsageError(f"unknown caller in {list(names)}; use aiortc or browser") from None
    if CallerKind.BROWSER in kinds and importlib.util.find_spec("playwright") is None:
        raise UsageError(str(MissingExtra("browser", "--caller browser")))  # before any call fails on it
    return kinds


def _executor(request: RunRequest, config: WorkerConfig) -> Executor:
    """Local caller worker processes, or Ray actors with ``--ray``."""
    if request.ray is None:
        return LocalExecutor(config, workers=request.workers, concurrency=request.concurrency,
                             caller_limits={CallerKind(k): n for k, n in request.caller_limits})
    try:  # imported by name: Ray is an extra, and local runs never import it
        ray_executor = importlib.import_module("harness.executors.ray")
    except ImportError as exc:
        raise UsageError(str(MissingExtra("ray", "--ray", exc))) from None
    executor: Executor = ray_executor.RayExecutor(request.ray, config, workers=request.workers)
    return executor


async def run_and_report(request: RunRequest, console: Console) -> int:
    corpus = _load_corpus(request.corpus)
    endpoints = _endpoints(request.endpoints, request.endpoints_file)
    callers = _callers(request.callers)
    scenarios, errors = load_all(list(request.paths), corpus)
    if not scenarios and not errors:
        raise UsageError(f"no scenario files found under {', '.join(map(str, request.paths))}")
    try:  # a bad selection ends here, before a run folder or a worker exists
        chosen = select(scenarios, list(zip(request.endpoints, endpoints, strict=True)), tags=request.tags,
                        skip_tags=request.skip_tags, routes=request.routes)
    except PlanError as exc:
        raise UsageError(str(exc)) from None
    for tag in chosen.unknown_tags:
        console.print(f"[yellow]note:[/yellow] no scenario carries the tag {escape(repr(tag))}")
    scenarios = list(chosen.scenarios)
    run_plan = plan(scenarios, endpoints, callers, request.repeat, errors, chosen.routes,
                    caller_tags=[(CallerKind(kind), tag) for kind, tag in request.caller_tags])
    run_plan = dataclasses.replace(run_plan, specs=on_ladder(run_plan.specs, request.network_ladder))
    slo = _gate_inputs(request.slo, request.baseline)
    config = WorkerConfig(corpus_dir=corpus.root, caller_kinds=tuple(callers),
                          caller_settings=request.caller_settings, validity=request.validity,
                          segmentation=request.segmentation)
    executor = _executor(request, config)
    try:
        folder = RunFolder.create(request.out, request.run_id)
    except RunFolderError as exc:
        raise UsageError(str(exc)) from None
    description = RunDescription(argv=request.argv, endpoints=tuple(endpoints), callers=tuple(callers),
                                 scenarios=tuple(scenarios), repeats=request.repeat,
                                 segmentation=request.segmentation, validity=request.validity)
    scorer = PoolScorer(request.scoring_workers, params=request.segmentation)
    lifecycle = RunLifecycle(folder, executor, scorer, corpus=corpus,
                             description=description, include_disturbed=request.include_disturbed)
    console.print(f"run folder: {escape(str(folder.path))}")
    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                  TimeElapsedColumn(), console=console, transient=False) as progress:
        task = progress.add_task("calls", total=len(run_plan.specs) + len(errors))

        @lifecycle.hooks.call_finished.add
        def advance(event: CallFinished) -> None:
            result = event.result
            mark = "[green]ok[/green]" if result.ok else "[red]FAIL[/red]"
            if result.disturbed:
                mark += " [yellow]DISTURBED[/yellow]"
            why = result.failure.reason if result.failure else ""
            if result.disturbed and result.validity is not None:
                why = "; ".join(filter(None, [why, *result.validity.reasons]))
            progress.console.print(f"  {mark} {escape(result.spec_call_id)}" + (f"  ({escape(why)})" if why else ""))
            progress.advance(task)

        try:
            results = await lifecycle.execute(run_plan)
        finally:
            await lifecycle.aclose()
    level = description.segmentation.caller_end_dbfs
    print_summary(console, lifecycle.summary(), results,
                  summarize_speech_ends(level, (e for r in results for e in r.caller_ends)))
    console.print(f"\nrun folder: [bold]{escape(str(folder.path))}[/bold]")
    return lifecycle.finish(console, slo=slo, baseline=request.baseline)


def print_summary(console: Console, summary: Sequence[MetricSummary], results: Sequence[CallResult],
                  speech_end: SpeechEndSummary | None = None) -> None:
    """The percentile table, the calls that failed or were disturbed, and (``speech_end``)
    what "the caller stopped speaking" meant: latencies count from it."""
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
    if speech_end is not None:
        console.print(escape(describe_speech_end(speech_end)))
    failed = [r for r in results if not r.ok]
    disturbed = [r for r in results if r.disturbed]
    console.print(f"calls: {len(results)}, ok: {len(results) - len(failed)}, failed: {len(failed)}, "
                  f"disturbed: {len(disturbed)}")
    for r in failed:
        why = r.failure.reason if r.failure else "; ".join(
            f"{m.metric} turn {m.turn}: {m.reason or 'expectation failed'}" for m in r.measurements
            if m.passed is False)
        console.print(f"  [red]FAIL[/red] {escape(r.spec_call_id)}: {escape(why)}")
    if disturbed:
        console.print(f"[yellow]{len(disturbed)} call(s) disturbed by the harness itself[/yellow] (validity "
                      "guard): left out of the summary and the gate unless --include-disturbed; exit code 1")
    for r in disturbed:
        reasons = "; ".join(r.validity.reasons) if r.validity is not None else ""
        console.print(f"  [yellow]DISTURBED[/yellow] {escape(r.spec_call_id)}: {escape(reasons)}")


DEMO_CONCURRENCY = 3


async def demo(out: Path, suites: Sequence[Path], console: Console) -> int:
    """The README's main job: corpus, reference agents, the shipped suites, a report.

    Two reference agents: an echo agent (exact references for latency, barge-in,
    cutoffs, PESQ and WER) and a tts-mode cascade agent for the scenarios tagged
    ``tts``, whose questions need real answers. Every suite over the aiortc caller and
    the smoke suite over the browser too, three calls at a time but one Chromium call at
    a time (two or three side by side on 2 cores sent with p99 errors of 18-32 ms): the
    README promises the demo within 5 minutes of a fresh clone (every suite over both
    callers two at a time took 4 min of calls alone).
    """
    from harness.agent.process import AgentProcess

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
            out=out, argv=("voice-harness", "demo"), concurrency=DEMO_CONCURRENCY,
            routes=(("tts", tts_url),), caller_tags=(("browser", "smoke"),), caller_limits=(("browser", 1),),
        )
        with contextlib.suppress(KeyboardInterrupt):
            return await run_and_report(request, console)
    return EXIT_FAILURES


def _demo_callers(console: Console) -> list[str]:
    """Both callers when Playwright and a Chromium can be found, else the aiortc caller alone (said so)."""
    from harness.callers.browser.discovery import ChromiumNotFound, find_chromium

    if importlib.util.find_spec("playwright") is None:
        console.print(f"[yellow]browser caller skipped:[/yellow] {escape(str(MissingExtra('browser', 'it')))}")
        return ["aiortc"]
    try:
        find_chromium()
    except ChromiumNotFound as exc:
        console.print(f"[yellow]browser caller skipped:[/yellow] {escape(str(exc))}")
        return ["aiortc"]
    return ["aiortc", "browser"]

"""What ``voice-harness soak`` does behind its options: inputs, the soak, the live view,
the stop on Ctrl-C or SIGTERM, then the gate and the reports.

The first Ctrl-C (or a SIGTERM) stops starting calls and lets the calls in flight end
on their own timeouts; a second one abandons them. Either way every window that closed
and every call that ended is already on disk, and a SIGKILL loses only the window that
was open: ``voice-harness report`` renders what is there.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from rich.console import Console
from rich.markup import escape

from harness.callers.base import CallerSettings
from harness.corpus.model import Corpus
from harness.executors.base import FinishedCall
from harness.executors.local import LocalExecutor
from harness.executors.scoring import PoolScorer, corpus_texts
from harness.executors.worker import WorkerConfig
from harness.exit_codes import EXIT_FAILURES, EXIT_OK
from harness.gate import finish_run
from harness.lifecycle import CallFinished, RunFinished, RunHooks
from harness.plan import PlanError, select_scenarios
from harness.records import CallRecording, CallResult, CallSpec, SegmentationParams
from harness.scenario.loader import load_all
from harness.session import UsageError, _callers, _endpoints, _gate_inputs, _load_corpus
from harness.soak.console import LiveView
from harness.soak.load import LoadSpecError, ScenarioMix
from harness.soak.players import CLOSE_TIMEOUT_S, ExecutorPlayer
from harness.soak.run import SoakRun, SoakSettings
from harness.store.run_folder import RunFolder, RunFolderError
from harness.store.run_info import build_run_info, utc_now_iso
from harness.validity import ValiditySettings

__all__ = ["SoakRequest", "soak_and_report"]


@dataclass(frozen=True, slots=True, kw_only=True)
class SoakRequest:
    paths: tuple[Path, ...]
    endpoints: tuple[str, ...]
    settings: SoakSettings
    callers: tuple[str, ...] = ("aiortc",)
    mix: dict[str, float] = field(default_factory=dict)
    """Scenario id -> weight from ``--mix`` (over the scenarios' own ``weight``)."""
    out: Path = Path("reports")
    run_id: str | None = None
    endpoints_file: Path | None = None
    corpus: Path | None = None
    argv: tuple[str, ...] = ()
    caller_settings: CallerSettings = field(default_factory=CallerSettings)
    slo: Path | None = None
    status_every_s: float = 60.0
    """Plain (non-terminal) output: one status line this often."""
    workers: int | None = None
    """Caller worker processes (default: one per core, at most the concurrency)."""
    scoring_workers: int | None = None
    """Processes scoring finished calls (niced; default: one per core)."""
    validity: ValiditySettings = field(default_factory=ValiditySettings)
    tags: tuple[str, ...] = ()
    """Soak only the scenarios carrying any of these (``--tag``; empty: all)."""
    skip_tags: tuple[str, ...] = ()
    """Leave out the scenarios carrying any of these (``--skip-tag``)."""


class _Stopper:
    """SIGINT/SIGTERM: the first stops new calls, the second abandons those in flight."""

    def __init__(self, console: Console, soak: SoakRun) -> None:
        self.console = console
        self.soak = soak
        self.stop = asyncio.Event()
        self.abandoned = False

    def __call__(self) -> None:
        if not self.stop.is_set():
            self.stop.set()
            self.console.print(f"[yellow]stopping:[/yellow] no new calls; waiting for the "
                               f"{self.soak.driver.active} in flight (again to abandon them)")
        elif not self.abandoned:
            self.abandoned = True
            self.console.print("[yellow]abandoning the calls in flight[/yellow]")
            self.soak.driver.abandon()

    @contextlib.contextmanager
    def installed(self) -> Iterator[None]:
        loop = asyncio.get_running_loop()
        signals = (signal.SIGINT, signal.SIGTERM)
        for sig in signals:
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.add_signal_handler(sig, self)
        try:
            yield
        finally:
            for sig in signals:
                with contextlib.suppress(NotImplementedError, RuntimeError):
                    loop.remove_signal_handler(sig)


def _mix(request: SoakRequest, corpus: Corpus) -> tuple[ScenarioMix, list[str]]:
    scenarios, errors = load_all(list(request.paths), corpus)
    if errors:
        raise UsageError("cannot soak with broken scenario files:\n" + "\n".join(str(e) for e in errors))
    if not scenarios:
        raise UsageError(f"no scenario files found under {', '.join(map(str, request.paths))}")
    try:
        selected = select_scenarios(scenarios, request.tags, request.skip_tags)
        mix = ScenarioMix.build(selected, request.mix, seed=request.settings.load.seed)
    except (LoadSpecError, PlanError) as exc:
        raise UsageError(str(exc)) from None
    return mix, [f"{sid} {share:.0%}" for sid, share in mix.shares().items()]


def _executor(request: SoakRequest, config: WorkerConfig) -> LocalExecutor:
    load = request.settings.load
    concurrency = load.concurrency if load.concurrency is not None else load.max_active
    return LocalExecutor(config, workers=request.workers, concurrency=concurrency)


async def soak_and_report(request: SoakRequest, console: Console, hooks: RunHooks | None = None) -> int:
    """The soak, then gate and reports; the exit code (0 ok, 1 a call failed or missed an
    expectation, 2 bad input, 3 the gate failed). ``hooks``: the lifecycle's events
    (``call_started`` as a worker begins a call, ``call_finished`` as its result is on
    disk, ``run_finished`` at the end, with no per-call results: a soak keeps none)."""
    corpus = _load_corpus(request.corpus)
    endpoints = _endpoints(request.endpoints, request.endpoints_file)
    callers = _callers(request.callers)
    mix, shares = _mix(request, corpus)
    slo = _gate_inputs(request.slo, None)
    try:
        folder = RunFolder.create(request.out, request.run_id)
    except RunFolderError as exc:
        raise UsageError(str(exc)) from None
    info = build_run_info(
        run_id=folder.run_id, started_at=utc_now_iso(), finished_at=None, argv=request.argv,
        endpoints=endpoints, callers=callers, scenarios=mix.scenarios, repeats=1, planned=0,
        results=[], summary=[], segmentation=SegmentationParams(), validity=request.validity)
    hooks = hooks or RunHooks()
    config = WorkerConfig(corpus_dir=corpus.root, caller_kinds=tuple(callers),
                          caller_settings=request.caller_settings, validity=request.validity)
    player = ExecutorPlayer(_executor(request, config), hooks)
    scorer = PoolScorer(request.scoring_workers)

    async def score(finished: FinishedCall, spec: CallSpec) -> CallResult:
        if finished.result is not None:  # scored on the worker's host
            return finished.result
        return await scorer.score(finished, spec.scenario, corpus_texts(corpus, finished.recording))

    def finished(result: CallResult, recording: CallRecording, spec: CallSpec) -> None:
        hooks.call_finished.fire(CallFinished(result=result, recording=recording, spec=spec))

    targets = [(e, c) for e in endpoints for c in callers]
    soak = SoakRun(folder, request.settings, mix, targets, player.play, score, info, on_finished=finished)
    load = request.settings.load
    console.print(f"soak folder: {folder.path}")
    shape = (f"concurrency {load.concurrency}" if load.rate_per_s is None
             else f"{load.rate_per_s * 60:g} calls/min")
    console.print(f"{load.model} model, {shape}, {load.duration_s:g} s, windows of "
                  f"{request.settings.window_s:g} s; mix: {', '.join(shares)}")
    stopper = _Stopper(console, soak)
    try:
        await player.start()
        with stopper.installed():
            async with LiveView(console, soak.windows.rolling, duration_s=load.duration_s,
                                plain_interval_s=request.status_every_s):
                await soak.run(stopper.stop)
    finally:
        await player.aclose(wait_s=5.0 if stopper.abandoned else CLOSE_TIMEOUT_S)
        await scorer.aclose()
    _print_drift(console, soak)
    if stopper.abandoned:
        console.print(f"abandoned; the folder has every finished call and window: "
                      f"voice-harness report {folder.path}")
        code: int = EXIT_FAILURES
    else:
        code = finish_run(folder.path, EXIT_FAILURES if soak.any_not_ok else EXIT_OK, console, slo=slo)
    totals = soak.windows.totals()
    hooks.run_finished.fire(RunFinished(run_dir=folder.path, results=(), exit_code=code,
                                        failed=totals["failed"], disturbed=totals["disturbed"]))
    return code


def _print_drift(console: Console, soak: SoakRun) -> None:
    totals = soak.windows.totals()
    console.print(f"calls: started {totals['started']}, completed {totals['completed']}, failed "
                  f"{totals['failed']}, disturbed {totals['disturbed']}, skipped {totals['skipped']}")
    for entry in soak.drift:
        style = "red" if entry.drifting else "dim"
        console.print(f"  [{style}]drift[/{style}] {escape(entry.text)}")

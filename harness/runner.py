"""Plan (scenarios x endpoints x callers x repeats) and execute, one stage after another.

Each finished call is written to the run folder at once (recording, audio, results
lines), so a run killed mid-way keeps every call that finished. Calls never raise: a
failure is a result with a reason, and the other calls go on.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass

from harness.callers.aiortc_caller import AiortcCaller
from harness.callers.base import Caller, CallerSettings
from harness.callers.websocket import WebSocketCaller
from harness.corpus.model import Corpus
from harness.endpoints.transport import caller_for
from harness.records import (
    CallerKind,
    CallResult,
    CallSpec,
    EndpointSpec,
    Failure,
    FailureKind,
    Measurement,
    Scenario,
)
from harness.scenario.errors import ScenarioError
from harness.scoring import CALL_FAILED, score_call
from harness.store.run_folder import RunFolder

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True, kw_only=True)
class RunPlan:
    specs: tuple[CallSpec, ...]
    scenario_errors: tuple[ScenarioError, ...] = ()


def plan(
    scenarios: Sequence[Scenario],
    endpoints: Sequence[EndpointSpec],
    callers: Sequence[CallerKind],
    repeat: int = 1,
    scenario_errors: Sequence[ScenarioError] = (),
    routes: Sequence[tuple[str, str]] = (),
) -> RunPlan:
    """Every scenario x endpoint x caller x repeat; ``routes`` (tag, endpoint name) send
    scenarios with that tag to that endpoint only, and keep the rest off it."""
    routed = {name for _, name in routes}
    specs = []
    for scenario in scenarios:
        wanted = {name for tag, name in routes if tag in scenario.tags}
        for endpoint in endpoints:
            if (endpoint.name in wanted) != bool(wanted) or (not wanted and endpoint.name in routed):
                continue
            for caller in callers:
                for r in range(repeat):
                    key = f"{scenario.id}|{endpoint.name}|{caller}|{r}"
                    digest = hashlib.sha1(key.encode()).hexdigest()[:6]
                    call_id = f"{scenario.id}-{caller}-r{r}-{digest}"
                    specs.append(CallSpec(call_id=call_id, scenario=scenario, endpoint=endpoint,
                                          caller=caller, repeat=r))
    return RunPlan(specs=tuple(specs), scenario_errors=tuple(scenario_errors))


def scenario_error_result(error: ScenarioError) -> CallResult:
    """A bad scenario file is a failed 'call' so it shows in every report."""
    name = error.path.stem if error.path is not None else "scenario"
    failure = error.to_failure()
    measurement = Measurement(
        call_id=f"invalid-{name}", scenario=name, endpoint="-", caller=CallerKind.AIORTC, repeat=0,
        turn=None, metric=CALL_FAILED, value=1.0, unit="bool", passed=False,
        reason=f"{failure.kind}: {failure.reason}",
    )
    return CallResult(spec_call_id=measurement.call_id, scenario=name, endpoint="-",
                      caller=CallerKind.AIORTC, repeat=0, measurements=(measurement,), failure=failure)


def default_callers(corpus: Corpus, settings: CallerSettings | None = None) -> dict[CallerKind, Caller]:
    return {CallerKind.AIORTC: AiortcCaller(corpus, settings), CallerKind.WEBSOCKET: WebSocketCaller(corpus, settings)}


@contextlib.asynccontextmanager
async def open_callers(
    kinds: Sequence[CallerKind], corpus: Corpus, settings: CallerSettings | None = None
) -> AsyncIterator[dict[CallerKind, Caller]]:
    """The callers a run needs; the browser caller's Chromium pool is closed on exit.

    A browser caller that cannot be built (no Playwright) is left out: its calls become
    recorded failures (``_unavailable``) instead of stopping the run.
    """
    callers = default_callers(corpus, settings)
    browser = None
    if CallerKind.BROWSER in kinds:
        try:
            from harness.callers.browser.caller import make_browser_caller

            browser = make_browser_caller(corpus)
            callers[CallerKind.BROWSER] = browser
        except ImportError as exc:
            log.warning("browser caller unavailable: %s", exc)
    try:
        yield callers
    finally:
        if browser is not None:
            await browser.aclose()


async def execute(
    run_plan: RunPlan,
    corpus: Corpus,
    folder: RunFolder,
    *,
    concurrency: int = 1,
    callers: dict[CallerKind, Caller] | None = None,
    on_result: Callable[[CallResult], None] | None = None,
) -> list[CallResult]:
    """Run every planned call; results are on disk as soon as each call ends."""
    available = callers or default_callers(corpus)
    results: list[CallResult] = []
    for error in run_plan.scenario_errors:
        result = scenario_error_result(error)
        folder.append_results(result.measurements)
        results.append(result)
        if on_result:
            on_result(result)
    gate = asyncio.Semaphore(max(1, concurrency))

    async def one(spec: CallSpec) -> None:
        async with gate:
            caller = available.get(caller_for(spec.endpoint.dialect, spec.caller))
            if caller is None:
                result = _unavailable(spec)
            else:
                artifacts = await caller.run(spec)
                folder.write_recording(artifacts.recording, artifacts.caller_audio, artifacts.received_audio,
                                       artifacts.heard_audio)
                folder.write_scenario(spec.call_id, spec.scenario)
                texts = {u.utterance_id: corpus.get(u.utterance_id).text
                         for u in artifacts.recording.sent if u.utterance_id in corpus}
                result = score_call(artifacts.recording, spec.scenario, artifacts.received_audio,
                                    caller_audio=artifacts.caller_audio, texts=texts)
            folder.append_results(result.measurements)
            results.append(result)
            if on_result:
                on_result(result)

    await asyncio.gather(*(one(spec) for spec in run_plan.specs))
    return results


def _unavailable(spec: CallSpec) -> CallResult:
    failure = Failure(kind=FailureKind.CALLER_ERROR, reason=f"caller {spec.caller} is not available")
    m = Measurement(call_id=spec.call_id, scenario=spec.scenario.id, endpoint=spec.endpoint.name,
                    caller=spec.caller, repeat=spec.repeat, turn=None, metric=CALL_FAILED, value=1.0,
                    unit="bool", passed=False, reason=f"{failure.kind}: {failure.reason}")
    return CallResult(spec_call_id=spec.call_id, scenario=spec.scenario.id, endpoint=spec.endpoint.name,
                      caller=spec.caller, repeat=spec.repeat, measurements=(m,), failure=failure)

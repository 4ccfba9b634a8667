"""Plan a run: scenarios x endpoints x callers x repeats -> ``CallSpec``s.

The first stage of the run lifecycle (``harness.lifecycle``); pure, so the CLI, the
pytest plugin and a soak plan calls the same way. A scenario file that failed to load
is carried along as an error and becomes a failed result of its own.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass

from harness.records import CallerKind, CallResult, CallSpec, EndpointSpec, Measurement, Scenario
from harness.scenario.errors import ScenarioError
from harness.scoring import CALL_FAILED


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


__all__ = ["RunPlan", "plan", "scenario_error_result"]

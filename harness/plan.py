"""Plan a run: scenarios x endpoints x callers x repeats -> ``CallSpec``s.

The first stage of the run lifecycle (``harness.lifecycle``); pure, so the CLI, the
pytest plugin and a soak plan calls the same way. A scenario file that failed to load
is carried along as an error and becomes a failed result of its own.

The selection a user makes on the command line is checked here too, before any call:
``select_scenarios`` (``--tag``/``--skip-tag``), ``parse_route`` and ``resolve_routes``
(``--route TAG=ENDPOINT``). Each refuses input that would make a silently different
run (a filter that keeps nothing, a route to an endpoint the run does not have, a
scenario no endpoint would take) with a ``PlanError`` that says what there is to choose.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from harness.records import CallerKind, CallResult, CallSpec, EndpointSpec, Measurement, Scenario
from harness.scenario.errors import ScenarioError
from harness.scoring import CALL_FAILED


class PlanError(ValueError):
    """A selection or route that cannot make the run asked for; the message names the
    option and what exists to choose from (the CLI turns it into exit code 2)."""


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
    caller_tags: Sequence[tuple[CallerKind, str]] = (),
) -> RunPlan:
    """Every scenario x endpoint x caller x repeat; ``routes`` (tag, endpoint name) send
    scenarios with that tag to that endpoint only, and keep the rest off it;
    ``caller_tags`` (caller, tag) give a caller only the scenarios carrying one of its
    tags (the demo's browser caller plays the smoke suite, not every suite)."""
    scoped: dict[CallerKind, set[str]] = {}
    for kind, tag in caller_tags:
        scoped.setdefault(kind, set()).add(tag)
    routed = {name for _, name in routes}
    specs = []
    for scenario in scenarios:
        wanted = {name for tag, name in routes if tag in scenario.tags}
        for endpoint in endpoints:
            if (endpoint.name in wanted) != bool(wanted) or (not wanted and endpoint.name in routed):
                continue
            for caller in callers:
                if caller in scoped and not scoped[caller] & set(scenario.tags):
                    continue
                for r in range(repeat):
                    key = f"{scenario.id}|{endpoint.name}|{caller}|{r}"
                    digest = hashlib.sha1(key.encode()).hexdigest()[:6]
                    call_id = f"{scenario.id}-{caller}-r{r}-{digest}"
                    specs.append(CallSpec(call_id=call_id, scenario=scenario, endpoint=endpoint,
                                          caller=caller, repeat=r))
    return RunPlan(specs=tuple(specs), scenario_errors=tuple(scenario_errors))


def _listed(values: Iterable[str]) -> str:
    return ", ".join(sorted(set(values))) or "(none)"


def select_scenarios(scenarios: Sequence[Scenario], tags: Sequence[str] = (),
                     skip_tags: Sequence[str] = ()) -> tuple[Scenario, ...]:
    """The scenarios carrying any of ``tags`` (all when there are none) and none of
    ``skip_tags``, in their order; a ``PlanError`` when that leaves none of several.

    A filter that keeps nothing is refused rather than run as an empty (green) run:
    the message lists the tags the scenarios do carry, the likeliest fix for a typo.
    """
    wanted, unwanted = set(tags), set(skip_tags)
    kept = tuple(s for s in scenarios
                 if (not wanted or wanted & set(s.tags)) and not unwanted & set(s.tags))
    if scenarios and not kept:
        asked = " ".join([*(f"--tag {t}" for t in tags), *(f"--skip-tag {t}" for t in skip_tags)])
        raise PlanError(f"{asked} leaves none of the {len(scenarios)} scenarios; "
                        f"their tags: {_listed(t for s in scenarios for t in s.tags)}")
    return kept


def unknown_tags(scenarios: Sequence[Scenario], tags: Iterable[str]) -> tuple[str, ...]:
    """The ``tags`` no scenario carries (sorted): worth a note, since a misspelt
    ``--skip-tag`` or route tag changes nothing and says nothing."""
    known = {t for s in scenarios for t in s.tags}
    return tuple(sorted(set(tags) - known))


def parse_route(text: str) -> tuple[str, str]:
    """``--route TAG=ENDPOINT`` -> (tag, endpoint); the endpoint may itself hold ``=``
    (a URL's query) or a space (an inline endpoint's name ``dialect host:port``)."""
    tag, sep, endpoint = text.partition("=")
    tag, endpoint = tag.strip(), endpoint.strip()
    if not sep or not tag or not endpoint:
        raise PlanError(f"--route {text!r}: write TAG=ENDPOINT, e.g. --route tts=my-bot "
                        "(ENDPOINT: one of the run's -e endpoints, as given or by name)")
    return tag, endpoint


def resolve_routes(routes: Sequence[tuple[str, str]],
                   endpoints: Sequence[tuple[str, EndpointSpec]]) -> tuple[tuple[str, str], ...]:
    """(tag, endpoint as the user wrote it) -> (tag, endpoint name) for ``plan``.

    ``endpoints`` are the run's endpoints as given with ``-e`` and as resolved; a route
    names one either way (``-e openai-realtime+http://127.0.0.1:8766`` is also
    ``openai-realtime 127.0.0.1:8766``). Anything else is a ``PlanError`` listing both.
    """
    by_text = {given: spec.name for given, spec in endpoints}
    by_name = {spec.name: spec.name for _, spec in endpoints}
    out = []
    for tag, ref in routes:
        name = by_text.get(ref, by_name.get(ref))
        if name is None:
            choices = "; ".join(f"{spec.name!r}" + (f" (-e {given})" if given != spec.name else "")
                                for given, spec in endpoints)
            raise PlanError(f"--route {tag}={ref}: {ref!r} is not an endpoint of this run; "
                            f"route to one of: {choices}")
        out.append((tag, name))
    return tuple(out)


def unrouted(scenarios: Sequence[Scenario], endpoints: Sequence[EndpointSpec],
             routes: Sequence[tuple[str, str]]) -> tuple[Scenario, ...]:
    """Scenarios ``plan`` would give no endpoint: none of their tags is routed, and every
    endpoint of the run is reserved for routed tags."""
    routed = {name for _, name in routes}
    if not routes or any(e.name not in routed for e in endpoints):
        return ()
    tags = {tag for tag, _ in routes}
    return tuple(s for s in scenarios if not tags & set(s.tags))


def check_routes(scenarios: Sequence[Scenario], endpoints: Sequence[EndpointSpec],
                 routes: Sequence[tuple[str, str]]) -> None:
    """A ``PlanError`` when routes would leave a selected scenario without any call."""
    lost = unrouted(scenarios, endpoints, routes)
    if lost:
        routed = ", ".join(f"{tag}={name}" for tag, name in routes)
        raise PlanError(
            f"--route {routed} reserves every endpoint of the run, so {len(lost)} scenario(s) "
            f"would not run: {_listed(s.id for s in lost)}; add an -e endpoint for them, "
            f"or select only routed scenarios with --tag ({_listed(t for t, _ in routes)})")


@dataclass(frozen=True, slots=True, kw_only=True)
class Selection:
    """What a run's ``--tag``/``--skip-tag``/``--route`` chose, checked."""

    scenarios: tuple[Scenario, ...]
    """The scenarios to plan, in their order."""
    routes: tuple[tuple[str, str], ...] = ()
    """(tag, endpoint name) for ``plan``."""
    unknown_tags: tuple[str, ...] = ()
    """Tags asked for (filters, routes) that no loaded scenario carries: worth a note."""


def select(scenarios: Sequence[Scenario], endpoints: Sequence[tuple[str, EndpointSpec]], *,
           tags: Sequence[str] = (), skip_tags: Sequence[str] = (),
           routes: Sequence[tuple[str, str]] = ()) -> Selection:
    """``select_scenarios``, ``resolve_routes`` and ``check_routes`` in one: the run's
    selection, or the ``PlanError`` of the first problem."""
    chosen = select_scenarios(scenarios, tags, skip_tags)
    named = resolve_routes(routes, endpoints)
    check_routes(chosen, [spec for _, spec in endpoints], named)
    asked = [*tags, *skip_tags, *(tag for tag, _ in named)]
    return Selection(scenarios=chosen, routes=named, unknown_tags=unknown_tags(scenarios, asked))


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


__all__ = ["PlanError", "RunPlan", "Selection", "check_routes", "parse_route", "plan", "resolve_routes",
           "scenario_error_result", "select", "select_scenarios", "unknown_tags", "unrouted"]

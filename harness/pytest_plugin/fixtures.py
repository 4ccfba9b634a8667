"""Fixtures for a test of one's own: the endpoint, the run folder, and one call.

``vh_call`` runs a call on an event loop of its own, which cannot be done from inside a
running loop; an async test (pytest-asyncio, anyio, or a test's own ``asyncio.run``)
awaits ``vh_acall`` instead, which runs the call on the test's loop. Both make the
reference agent, the corpus and the run folder when the fixture is set up, so nothing
slow blocks the test's loop before its call.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest

from harness.pytest_plugin.state import STATE, PluginState
from harness.records import CallerKind, CallResult, CallSpec, EndpointSpec, Scenario

__all__ = ["vh_acall", "vh_call", "vh_endpoint", "vh_run_dir"]

ScenarioArg = Scenario | Path | str | None


@pytest.fixture(scope="session")
def vh_endpoint(pytestconfig: pytest.Config) -> EndpointSpec:
    """The first configured endpoint, else this worker's reference agent (started once)."""
    return pytestconfig.stash[STATE].endpoints()[0]


@pytest.fixture(scope="session")
def vh_run_dir(pytestconfig: pytest.Config) -> Path:
    """The session's run folder (shared by all xdist workers)."""
    state = pytestconfig.stash[STATE]
    state.folder()
    return state.run_dir


@pytest.fixture
def vh_call(request: pytest.FixtureRequest, vh_endpoint: EndpointSpec) -> Callable[..., CallResult]:
    """``vh_call(scenario=None, caller="aiortc", repeat=0)`` runs one call into the run folder.

    Without ``scenario`` the test's ``@pytest.mark.scenario(path)`` names the file.
    """
    state = _ready(request)

    def call(scenario: ScenarioArg = None, caller: str = "aiortc", repeat: int = 0) -> CallResult:
        if _loop_running():
            raise pytest.UsageError("vh_call() inside a running event loop: use `await vh_acall()`")
        return state.run_spec(_spec(request, state, vh_endpoint, scenario, caller, repeat))

    return call


@pytest.fixture
def vh_acall(request: pytest.FixtureRequest,
             vh_endpoint: EndpointSpec) -> Callable[..., Awaitable[CallResult]]:
    """``await vh_acall(scenario=None, caller="aiortc", repeat=0)``: ``vh_call`` for async
    tests, running the call on the test's own event loop."""
    state = _ready(request)

    async def acall(scenario: ScenarioArg = None, caller: str = "aiortc", repeat: int = 0) -> CallResult:
        return await state.arun_spec(_spec(request, state, vh_endpoint, scenario, caller, repeat))

    return acall


def _ready(request: pytest.FixtureRequest) -> PluginState:
    state = request.config.stash[STATE]
    state.corpus()
    state.folder()
    return state


def _loop_running() -> bool:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True


def _spec(request: pytest.FixtureRequest, state: PluginState, endpoint: EndpointSpec,
          scenario: ScenarioArg, caller: str, repeat: int) -> CallSpec:
    """The one call of ``scenario`` (else the test's scenario marker), planned as ``run``
    plans it."""
    from harness.runner import plan
    from harness.scenario.loader import load_scenario

    if scenario is None:
        marker = request.node.get_closest_marker("scenario")
        if marker is None or not marker.args:
            raise pytest.UsageError("vh_call() needs a scenario or @pytest.mark.scenario(path)")
        scenario = marker.args[0]
    if not isinstance(scenario, Scenario):
        scenario = load_scenario(Path(scenario), state.corpus())
    (spec,) = plan([scenario], [endpoint], [CallerKind(caller)], 1).specs
    return dataclasses.replace(spec, repeat=repeat)

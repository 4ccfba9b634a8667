"""Fixtures for a test of one's own: the endpoint, the run folder, and one call."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path

import pytest

from harness.pytest_plugin.state import STATE
from harness.records import CallerKind, CallResult, EndpointSpec, Scenario

__all__ = ["vh_call", "vh_endpoint", "vh_run_dir"]


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
    state = request.config.stash[STATE]

    def call(scenario: Scenario | Path | str | None = None, caller: str = "aiortc",
             repeat: int = 0) -> CallResult:
        from harness.runner import plan
        from harness.scenario.loader import load_scenario

        if scenario is None:
            marker = request.node.get_closest_marker("scenario")
            if marker is None or not marker.args:
                raise pytest.UsageError("vh_call() needs a scenario or @pytest.mark.scenario(path)")
            scenario = marker.args[0]
        if not isinstance(scenario, Scenario):
            scenario = load_scenario(Path(scenario), state.corpus())
        (spec,) = plan([scenario], [vh_endpoint], [CallerKind(caller)], 1).specs
        return state.run_spec(dataclasses.replace(spec, repeat=repeat))

    return call

"""Scenario YAML files under the ``--vh-suites``/``vh_suites`` paths, collected as items.

One item per endpoint x caller x repeat, exactly the calls ``harness.runner.plan``
makes for ``voice-harness run``, with the same call ids. A file the loader refuses is
one failing item whose message is the loader's (file, step, field). Without those
options no file is collected: the plugin is loaded in every session of an environment
that has the package, and a YAML file it was not pointed at is none of its business.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from harness.pytest_plugin.state import SCENARIOS, STATE
from harness.records import CallResult, CallSpec

__all__ = ["ScenarioErrorItem", "ScenarioFailed", "ScenarioFile", "ScenarioItem", "collect_file"]


def collect_file(parent: pytest.Collector, file_path: Path) -> pytest.Collector | None:
    state = parent.config.stash.get(STATE, None)
    if state is not None and state.options.is_scenario_file(file_path):
        return ScenarioFile.from_parent(parent, path=file_path)
    return None


class ScenarioFailed(Exception):
    pass


class ScenarioFile(pytest.File):
    """One scenario YAML -> one item per endpoint x caller x repeat (the runner's plan)."""

    def collect(self) -> Iterator[pytest.Item]:
        from harness.runner import plan
        from harness.scenario.errors import ScenarioError
        from harness.scenario.loader import load_scenario

        state = self.config.stash[STATE]
        try:
            scenario = load_scenario(self.path, state.corpus())
        except ScenarioError as exc:
            yield ScenarioErrorItem.from_parent(self, name="invalid", error=str(exc))
            return
        scenario_map = self.config.stash.setdefault(SCENARIOS, {})
        scenario_map[scenario.id] = scenario
        for spec in plan([scenario], state.endpoints(placeholder=True), state.callers, state.repeat).specs:
            name = f"{spec.endpoint.name}-{spec.caller}-r{spec.repeat}"
            item = ScenarioItem.from_parent(self, name=name, spec=spec)
            item.add_marker(pytest.mark.scenario(str(self.path)))
            yield item


class ScenarioItem(pytest.Item):
    def __init__(self, *, spec: CallSpec, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.spec = spec

    def runtest(self) -> None:
        state = self.config.stash[STATE]
        (endpoint,) = [e for e in state.endpoints() if e.name == self.spec.endpoint.name]
        result = state.run_spec(dataclasses.replace(self.spec, endpoint=endpoint))
        if not result.ok:
            raise ScenarioFailed(_reasons(result))

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None) -> str:
        if isinstance(excinfo.value, ScenarioFailed):
            return f"{self.spec.call_id}: {excinfo.value}"
        return str(super().repr_failure(excinfo))

    def reportinfo(self) -> tuple[Path, int, str]:
        return self.path, 0, f"scenario {self.spec.scenario.id} [{self.name}]"


class ScenarioErrorItem(pytest.Item):
    """A bad scenario file fails as a test with the loader's message (file, step, field)."""

    def __init__(self, *, error: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.error = error

    def runtest(self) -> None:
        raise ScenarioFailed(self.error)

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None) -> str:
        return self.error

    def reportinfo(self) -> tuple[Path, int, str]:
        return self.path, 0, "invalid scenario file"


def _reasons(result: CallResult) -> str:
    if result.failure is not None:
        return f"{result.failure.kind}: {result.failure.reason}"
    return "; ".join(f"step {m.turn} {m.metric}: {m.reason or 'expectation not met'}"
                     for m in result.measurements if m.passed is False)

"""pytest plugin: ``pytest suites/`` runs the shipped scenario files as tests.

Registered through the ``pytest11`` entry point (``-p harness.pytest_plugin`` when the
package is not installed). Each scenario YAML under a ``suites`` folder becomes one
test per endpoint x caller x repeat, with the same call ids and the same run folder
layout as ``voice-harness run`` (both plan calls with ``harness.runner.plan`` and run
them with ``harness.runner.execute``).

With pytest-xdist the controller picks the run folder and hands its path to every
worker (``workerinput``); each worker starts its own reference agent on its own port
and appends to the shared ``results.jsonl`` (locked ``O_APPEND`` writes, so no line is
lost or duplicated). The controller writes run.json and the reports at the end, and
gates on ``--vh-slo`` / ``--vh-baseline``: a failed verdict fails the session (pytest
exit code 1) and is listed in the terminal summary.

A test of one's own gets the endpoint and a caller through fixtures::

    @pytest.mark.scenario("suites/smoke/smoke_single_turn.yaml")
    def test_my_bot(vh_call):
        result = vh_call()                  # runs the marked scenario, returns a CallResult
        assert result.ok
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import os
import shlex
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from harness.records import CallerKind, CallResult, CallSpec, Dialect, EndpointSpec, Scenario

__all__ = ["RUN_DIR_ENV"]

RUN_DIR_ENV = "VOICE_HARNESS_RUN_DIR"
"""Also honoured: set by the controller for workers, or by a user to pin the folder."""
REFERENCE_AGENT = "reference-agent"
_STATE = pytest.StashKey["_State"]()


class _State:
    """Per-process state: the run folder, the corpus and (lazily) the reference agent."""

    def __init__(self, config: pytest.Config, run_dir: Path) -> None:
        self.config = config
        self.run_dir = run_dir
        self.is_worker = hasattr(config, "workerinput")
        self._agent: Any = None
        self._corpus: Any = None
        self._folder: Any = None
        self.ran_calls = False

    # --------------------------------------------------------------- options
    @property
    def endpoint_names(self) -> list[str]:
        return list(self.config.getoption("vh_endpoint") or [])

    @property
    def callers(self) -> list[CallerKind]:
        names = self.config.getoption("vh_caller") or ["aiortc"]
        try:
            return [CallerKind(n) for n in names]
        except ValueError:
            raise pytest.UsageError(f"--vh-caller: unknown caller in {names}; use aiortc or browser") from None

    @property
    def repeat(self) -> int:
        return int(self.config.getoption("vh_repeat"))

    # --------------------------------------------------------------- lazies
    def corpus(self) -> Any:
        if self._corpus is None:
            from harness.corpus.defaults import default_corpus

            self._corpus = default_corpus(build=True)
        return self._corpus

    def endpoints(self, placeholder: bool = False) -> list[EndpointSpec]:
        """Configured endpoints, else this process's reference agent (started on demand)."""
        if self.endpoint_names:
            from harness.endpoints.config import EndpointConfigError, resolve_endpoint

            config = Path("endpoints.toml") if Path("endpoints.toml").exists() else None
            try:
                return [resolve_endpoint(n, config) for n in self.endpoint_names]
            except EndpointConfigError as exc:
                raise pytest.UsageError(f"--vh-endpoint: {exc}") from None
        if placeholder:
            return [EndpointSpec(name=REFERENCE_AGENT, dialect=Dialect.OPENAI_REALTIME, url="http://127.0.0.1:0")]
        if self._agent is None:
            from harness.agent.process import AgentProcess

            args = shlex.split(self.config.getoption("vh_agent_args"))
            self._agent = AgentProcess(args).start()
        return [EndpointSpec(name=REFERENCE_AGENT, dialect=Dialect.OPENAI_REALTIME, url=self._agent.url)]

    def folder(self) -> Any:
        if self._folder is None:
            self._folder = _open_or_create(self.run_dir)
        return self._folder

    def run_spec(self, spec: CallSpec) -> CallResult:
        from harness.runner import RunPlan, default_callers, execute

        corpus = self.corpus()
        folder = self.folder()
        self.ran_calls = True
        results = asyncio.run(execute(RunPlan(specs=(spec,)), corpus, folder,
                                      callers=default_callers(corpus)))
        return results[0]

    def close(self) -> None:
        if self._agent is not None:
            self._agent.stop()
            self._agent = None


def _open_or_create(run_dir: Path) -> Any:
    """The shared run folder; the first process to get here creates it (race-safe)."""
    from harness.store.run_folder import RunFolder
    from harness.store.run_info import RunInfo, collect_environment, utc_now_iso

    (run_dir / "calls").mkdir(parents=True, exist_ok=True)
    with contextlib.suppress(FileExistsError):
        (run_dir / "results.jsonl").open("x").close()
    folder = RunFolder.open(run_dir)
    with contextlib.suppress(FileExistsError):
        marker = (run_dir / ".run-json-owner").open("x")
        marker.close()
        # a killed session still leaves a readable run.json
        folder.write_run_json(RunInfo(run_id=run_dir.name, started_at=utc_now_iso(),
                                      environment=collect_environment(),
                                      argv=("pytest", *_argv())))
    return folder


def _argv() -> tuple[str, ...]:
    import sys

    return tuple(sys.argv[1:])


# ------------------------------------------------------------------- hooks


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("voice-harness", "voice-harness: run scenario files as tests")
    group.addoption("--vh-endpoint", action="append", default=[], metavar="NAME",
                    help="Endpoint name in endpoints.toml or DIALECT+URL (repeatable); "
                         "default: a local reference agent per worker.")
    group.addoption("--vh-caller", action="append", default=[], metavar="KIND",
                    help="aiortc and/or browser (repeatable; default aiortc).")
    group.addoption("--vh-repeat", type=int, default=1, metavar="N", help="Repeat each scenario N times.")
    group.addoption("--vh-slo", type=Path, default=None, metavar="FILE",
                    help="SLO file (TOML): a failed verdict fails the session.")
    group.addoption("--vh-baseline", type=Path, default=None, metavar="RUN",
                    help="Baseline run folder: a regression fails the session.")
    group.addoption("--vh-run-dir", type=Path, default=None, metavar="DIR",
                    help="Run folder to write (default: reports/<run id>).")
    group.addoption("--vh-agent-args", default="--delay 300", metavar="ARGS",
                    help="Knobs of the reference agent (default: '--delay 300').")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "scenario(path): the scenario file a test's vh_call runs")
    config.addinivalue_line("markers", "slo(file): SLO file for this test's calls (informational)")
    workerinput = getattr(config, "workerinput", None)
    if workerinput is not None and "vh_run_dir" in workerinput:
        run_dir = Path(workerinput["vh_run_dir"])
    elif config.getoption("vh_run_dir") is not None:
        run_dir = Path(config.getoption("vh_run_dir"))
    elif os.environ.get(RUN_DIR_ENV):
        run_dir = Path(os.environ[RUN_DIR_ENV])
    else:
        from harness.store.run_folder import new_run_id

        run_dir = Path("reports") / new_run_id()
    config.stash[_STATE] = _State(config, run_dir.absolute())


def pytest_configure_node(node: Any) -> None:
    """xdist controller -> worker: every worker writes into the controller's run folder."""
    node.workerinput["vh_run_dir"] = str(node.config.stash[_STATE].run_dir)


def pytest_unconfigure(config: pytest.Config) -> None:
    state = config.stash.get(_STATE, None)
    if state is not None:
        state.close()


def pytest_collect_file(parent: pytest.Collector, file_path: Path) -> pytest.Collector | None:
    if file_path.suffix in (".yaml", ".yml") and "suites" in file_path.parts \
            and not file_path.name.startswith("."):
        return ScenarioFile.from_parent(parent, path=file_path)
    return None


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    state: _State = session.config.stash[_STATE]
    state.close()
    if state.is_worker or not (state.run_dir / "results.jsonl").is_file():
        return
    from rich.console import Console

    from harness.gate import GateError, gate_and_report, print_verdicts

    _finalise_run_json(state)
    slo, baseline = session.config.getoption("vh_slo"), session.config.getoption("vh_baseline")
    try:
        paths = gate_and_report(state.run_dir, slo=slo, baseline=baseline)
    except GateError as exc:
        session.config.stash[_SUMMARY] = [f"voice-harness gate error: {exc}"]
        session.exitstatus = pytest.ExitCode.USAGE_ERROR
        return
    lines = [f"voice-harness run folder: {state.run_dir}", f"report: {paths.html}"]
    if slo is not None or baseline is not None:
        console = Console(record=True, width=160, file=io.StringIO())
        print_verdicts(console, paths.verdicts)
        lines.append(console.export_text())
    if paths.gate_failed:
        lines.append("voice-harness gate FAILED")
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
    session.config.stash[_SUMMARY] = lines


_SUMMARY = pytest.StashKey[list[str]]()


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
    for line in config.stash.get(_SUMMARY, []):
        terminalreporter.write_line(line)


def _finalise_run_json(state: _State) -> None:
    """run.json from what is on disk (every worker's calls), as the CLI writes it."""
    import dataclasses

    from harness.records import CallResult as _CR
    from harness.runner import plan
    from harness.stats.percentiles import summarize
    from harness.store.run_folder import RunFolder, read_results, read_run_info
    from harness.store.run_info import build_run_info, utc_now_iso
    from harness.store.serialize import SerializationError

    measurements = read_results(state.run_dir)
    by_call: dict[str, list[Any]] = {}
    for m in measurements:
        by_call.setdefault(m.call_id, []).append(m)
    results = [_CR(spec_call_id=cid, scenario=ms[0].scenario, endpoint=ms[0].endpoint,
                   caller=ms[0].caller, repeat=ms[0].repeat, measurements=tuple(ms))
               for cid, ms in by_call.items()]
    scenarios = state.config.stash.get(_SCENARIOS, {})
    endpoints = state.endpoints(placeholder=True)
    n_planned = len(plan(list(scenarios.values()), endpoints, state.callers, state.repeat).specs)
    try:
        started = read_run_info(state.run_dir).started_at
    except Exception:
        started = utc_now_iso()
    info = build_run_info(
        run_id=state.run_dir.name, started_at=started, finished_at=utc_now_iso(),
        argv=("pytest", *_argv()), endpoints=endpoints, callers=state.callers,
        scenarios=list(scenarios.values()), repeats=state.repeat, planned=n_planned,
        results=results, summary=summarize(measurements, by=("metric", "endpoint", "caller")),
        segmentation=_segmentation(),
    )
    failures = []
    from harness.store.run_folder import iter_call_dirs, load_recording
    from harness.store.run_info import RunFailure

    for call_dir in iter_call_dirs(state.run_dir):
        with contextlib.suppress(Exception):
            rec = load_recording(call_dir)[0]
            if rec.failure is not None:
                failures.append(RunFailure(failure=rec.failure, call_id=rec.call_id,
                                           scenario=rec.scenario_id, endpoint=rec.endpoint,
                                           caller=rec.caller, repeat=rec.repeat))
    info = dataclasses.replace(info, failures=tuple(failures))
    with contextlib.suppress(SerializationError, OSError):
        RunFolder.open(state.run_dir).write_run_json(info)


def _segmentation() -> Any:
    from harness.records import SegmentationParams

    return SegmentationParams()


_SCENARIOS = pytest.StashKey[dict[str, Scenario]]()


# ------------------------------------------------------------------ items


class ScenarioFailed(Exception):
    pass


class ScenarioFile(pytest.File):
    """One scenario YAML -> one item per endpoint x caller x repeat (the runner's plan)."""

    def collect(self) -> Iterator[pytest.Item]:
        from harness.runner import plan
        from harness.scenario.errors import ScenarioError
        from harness.scenario.loader import load_scenario

        state: _State = self.config.stash[_STATE]
        try:
            scenario = load_scenario(self.path, state.corpus())
        except ScenarioError as exc:
            yield ScenarioErrorItem.from_parent(self, name="invalid", error=str(exc))
            return
        scenario_map = self.config.stash.setdefault(_SCENARIOS, {})
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
        import dataclasses

        state: _State = self.config.stash[_STATE]
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


# ----------------------------------------------------------------- fixtures


@pytest.fixture(scope="session")
def vh_endpoint(pytestconfig: pytest.Config) -> EndpointSpec:
    """The first configured endpoint, else this worker's reference agent (started once)."""
    return pytestconfig.stash[_STATE].endpoints()[0]


@pytest.fixture(scope="session")
def vh_run_dir(pytestconfig: pytest.Config) -> Path:
    """The session's run folder (shared by all xdist workers)."""
    state: _State = pytestconfig.stash[_STATE]
    state.folder()
    return state.run_dir


@pytest.fixture
def vh_call(request: pytest.FixtureRequest, vh_endpoint: EndpointSpec) -> Callable[..., CallResult]:
    """``vh_call(scenario=None, caller="aiortc", repeat=0)`` runs one call into the run folder.

    Without ``scenario`` the test's ``@pytest.mark.scenario(path)`` names the file.
    """
    state: _State = request.config.stash[_STATE]

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
        import dataclasses

        return state.run_spec(dataclasses.replace(spec, repeat=repeat))

    return call

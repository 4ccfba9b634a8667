"""Per-process plugin state: the run folder, the corpus and (lazily) the reference agent.

One ``PluginState`` per pytest process (controller or xdist worker), kept in the
config's stash. Heavy parts (corpus, agent, run folder) are made on first use, so a
pytest run that collects no scenario never builds a corpus or starts an agent.
"""

from __future__ import annotations

import asyncio
import contextlib
import shlex
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from harness.pytest_plugin.options import PluginOptions
from harness.records import CallerKind, CallResult, CallSpec, Dialect, EndpointSpec, Scenario

if TYPE_CHECKING:
    from harness.agent.process import AgentProcess
    from harness.corpus.model import Corpus
    from harness.store.run_folder import RunFolder

__all__ = ["REFERENCE_AGENT", "RUN_DIR_ENV", "SCENARIOS", "STATE", "SUMMARY", "PluginState", "argv"]

RUN_DIR_ENV = "VOICE_HARNESS_RUN_DIR"
"""Also honoured: set by the controller for workers, or by a user to pin the folder."""
REFERENCE_AGENT = "reference-agent"


class PluginState:
    def __init__(self, config: pytest.Config, run_dir: Path, options: PluginOptions) -> None:
        self.config = config
        self.options = options
        self.run_dir = run_dir
        self.is_worker = hasattr(config, "workerinput")
        self._agent: AgentProcess | None = None
        self._corpus: Corpus | None = None
        self._folder: RunFolder | None = None
        self.ran_calls = False

    @property
    def callers(self) -> list[CallerKind]:
        return self.options.callers

    @property
    def repeat(self) -> int:
        return self.options.repeat

    def corpus(self) -> Corpus:
        if self._corpus is None:
            from harness.corpus.defaults import default_corpus

            self._corpus = default_corpus(build=True)
        return self._corpus

    def endpoints(self, placeholder: bool = False) -> list[EndpointSpec]:
        """Configured endpoints, else this process's reference agent (started on demand)."""
        if self.options.endpoint_names:
            from harness.endpoints.config import EndpointConfigError, resolve_endpoint

            config = Path("endpoints.toml") if Path("endpoints.toml").exists() else None
            try:
                return [resolve_endpoint(n, config) for n in self.options.endpoint_names]
            except EndpointConfigError as exc:
                raise pytest.UsageError(f"--vh-endpoint: {exc}") from None
        if placeholder:
            return [EndpointSpec(name=REFERENCE_AGENT, dialect=Dialect.OPENAI_REALTIME, url="http://127.0.0.1:0")]
        if self._agent is None:
            from harness.agent.process import AgentProcess

            self._agent = AgentProcess(shlex.split(self.options.agent_args)).start()
        return [EndpointSpec(name=REFERENCE_AGENT, dialect=Dialect.OPENAI_REALTIME, url=self._agent.url)]

    def folder(self) -> RunFolder:
        if self._folder is None:
            self._folder = _open_or_create(self.run_dir)
        return self._folder

    def run_spec(self, spec: CallSpec) -> CallResult:
        """One call on an event loop of its own (a sync test, a scenario item)."""
        return asyncio.run(self.arun_spec(spec))

    async def arun_spec(self, spec: CallSpec) -> CallResult:
        """One call on the running loop (an async test). The corpus and the run folder
        are made first, before anything is awaited."""
        from harness.runner import RunPlan, default_callers, execute

        corpus = self.corpus()
        folder = self.folder()
        self.ran_calls = True
        results = await execute(RunPlan(specs=(spec,)), corpus, folder, callers=default_callers(corpus))
        return results[0]

    def close(self) -> None:
        if self._agent is not None:
            self._agent.stop()
            self._agent = None


STATE = pytest.StashKey[PluginState]()
SCENARIOS = pytest.StashKey[dict[str, Scenario]]()
"""Every scenario collected in this process, by id (for run.json's plan)."""
SUMMARY = pytest.StashKey[list[str]]()
"""Lines for the terminal summary (run folder, report, verdicts)."""


def _open_or_create(run_dir: Path) -> RunFolder:
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
                                      argv=("pytest", *argv())))
    return folder


def argv() -> tuple[str, ...]:
    return tuple(sys.argv[1:])

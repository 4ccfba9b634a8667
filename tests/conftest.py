"""Shared fixtures: the built-in corpus (built once) and reference agents in processes."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from harness.agent.process import AgentProcess
from harness.corpus.defaults import default_corpus
from harness.corpus.model import Corpus
from harness.priority import raise_priority, restore_priority, save_priority


@pytest.fixture(autouse=True)
def _callers_run_realtime(request: pytest.FixtureRequest) -> Iterator[None]:
    """A test that places real calls gives the callers it runs in this process the
    protection the harness gives its caller workers (``harness/priority.py``): its loop
    thread real-time while the test runs, restored after. The tests run two at a time in
    CI (``make test``); the agents they start stay at normal priority, like an endpoint."""
    if request.node.get_closest_marker("network") is None:
        yield
        return
    saved, interval = save_priority(), sys.getswitchinterval()
    raise_priority()
    try:
        yield
    finally:
        restore_priority(saved, interval)


@pytest.fixture(scope="session")
def corpus() -> Corpus:
    return default_corpus(build=True)


StartAgent = Callable[..., AgentProcess]


@pytest.fixture
def start_agent(tmp_path: Path) -> Iterator[StartAgent]:
    """``start_agent("--delay", "500")`` -> a running agent with a truth log in tmp_path."""
    agents: list[AgentProcess] = []

    def start(*args: str) -> AgentProcess:
        truth = tmp_path / f"truth-{len(agents)}.jsonl"
        agent = AgentProcess(list(args), truth_log=truth)
        agents.append(agent)
        return agent.start()

    yield start
    for agent in agents:
        agent.stop()

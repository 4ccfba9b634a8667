"""Shared fixtures: the built-in corpus (built once) and reference agents in processes."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from support import calls_in_this_thread

from harness.agent.process import AgentProcess
from harness.corpus.defaults import default_corpus
from harness.corpus.model import Corpus
from harness.priority import freeze_startup_heap, raise_priority


@pytest.fixture(autouse=True)
def _callers_run_realtime(request: pytest.FixtureRequest) -> Iterator[None]:
    """A test that places real calls gives the callers it runs in this process the
    protection the harness gives its caller workers (``harness/priority.py``): its loop
    thread real-time while the test runs, restored after, and the session's heap frozen out
    of full collections (a test process that had loaded Ray paused its loop 229 ms for
    one, and an in-process call read a turn 45.7 ms off the agent's truth).

    Not for a test marked ``driver``: its calls play in caller worker processes (the
    CLI's ``run``, an executor) whose loops are real-time themselves, and its own
    process is their driver (results, reports), which must stay at normal priority as a
    user's does. A driver raised to the workers' level holds a core against them for up
    to a round-robin quantum: CI's concurrency-4 test read a 20.6 ms loop lag on two
    calls while the driver ran at real-time priority 3."""
    marks = {m.name for m in request.node.iter_markers()}
    if "network" not in marks or "driver" in marks:
        yield
        return
    with calls_in_this_thread():
        raise_priority()
        freeze_startup_heap()
        yield


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

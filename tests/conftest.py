"""Shared fixtures: the built-in corpus (built once) and reference agents in processes."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from harness.agent.process import AgentProcess
from harness.corpus.defaults import default_corpus
from harness.corpus.model import Corpus


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

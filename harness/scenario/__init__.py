"""Scenario files (YAML) -> ``Scenario`` records, validated against the corpus."""

from harness.scenario.errors import Problem, ScenarioError
from harness.scenario.loader import CorpusLike, discover_scenarios, load_all, load_scenario

__all__ = [
    "CorpusLike",
    "Problem",
    "ScenarioError",
    "discover_scenarios",
    "load_all",
    "load_scenario",
]

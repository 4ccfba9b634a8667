"""The built-in policy table as a soak's drift tolerance."""

from __future__ import annotations

import pytest

from harness.slo.baseline import drift_tolerance


def test_soak_tolerances_match_the_regression_table() -> None:
    """A soak calls drift the size of change a baseline comparison calls a regression."""
    assert drift_tolerance("turn_latency_ms", "p50", 250.0) == 30.0
    assert drift_tolerance("turn_latency_ms", "p50", 900.0) == 30.0  # absolute: not 10 % of the level
    assert drift_tolerance("call_failed", "rate", 0.0) == 0.05
    assert drift_tolerance("harness_rss_mb", "last", 200.0) == pytest.approx(10.0)
    assert drift_tolerance("agent_turns", "mean", 3.0) == 0.0  # informational metrics: none

"""Rates of 0/1 metrics against hand-counted tallies and the closed-form Wilson bound."""

from __future__ import annotations

import pytest

from harness.records import CallerKind, Measurement
from harness.stats.rates import rates


def meas(
    values: list[float | None], *, scenario: str, metric: str = "no_response"
) -> list[Measurement]:
    return [
        Measurement(
            call_id=f"c{i}",
            scenario=scenario,
            endpoint="e1",
            caller=CallerKind.AIORTC,
            repeat=0,
            turn=i,
            metric=metric,
            value=v,
            unit="bool",
        )
        for i, v in enumerate(values)
    ]


def test_rates_with_wilson_ci() -> None:
    ms = meas([0, 0, 1, 0, None], scenario="a") + meas([0] * 10, scenario="b")
    (all_,) = rates(ms, "no_response")
    assert (all_.group, all_.hits, all_.n, all_.rate) == ("all", 1, 14, pytest.approx(1 / 14))
    a, b = rates(ms, "no_response", by=("scenario",))
    assert (a.group, a.hits, a.n, a.rate) == ("scenario=a", 1, 4, 0.25)
    # Wilson 95% interval for 0/10 is [0, z²/(n+z²)] = [0, 0.2775].
    assert b.rate == 0.0 and b.ci is not None
    assert b.ci[0] == pytest.approx(0.0, abs=1e-12) and b.ci[1] == pytest.approx(0.2775, abs=1e-4)
    assert rates(ms, "other_metric") == ()
    with pytest.raises(ValueError, match="0/1"):
        rates(meas([0.5], scenario="a"), "no_response")

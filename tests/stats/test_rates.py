"""Rates of 0/1 metrics against hand-counted tallies and the closed-form Wilson bound."""

from __future__ import annotations

import math

import pytest

from harness.records import CallerKind, Measurement
from harness.stats.rates import rates, wilson_interval


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


@pytest.mark.parametrize(
    ("hits", "n", "low", "high"),
    [
        # Newcombe (1998), "Two-sided confidence intervals for the single proportion",
        # Statistics in Medicine 17:857-872, Table II, method 3 (Wilson score, no
        # continuity correction), 95 %.
        (81, 263, 0.2553, 0.3662),
        (15, 148, 0.0624, 0.1605),
        (0, 20, 0.0, 0.1611),
        (1, 29, 0.0061, 0.1718),
    ],
)
def test_wilson_interval_matches_published_values(hits: int, n: int, low: float, high: float) -> None:
    lo, hi = wilson_interval(hits, n)
    assert lo == pytest.approx(low, abs=1e-4) and hi == pytest.approx(high, abs=1e-4)


def test_wilson_interval_matches_the_closed_form_and_is_not_a_percentile() -> None:
    z = 1.959963984540054
    for hits, n in ((0, 1), (3, 7), (7, 7), (50, 100), (199, 200)):
        p = hits / n
        centre = (p + z * z / (2 * n)) / (1 + z * z / n)
        half = z / (1 + z * z / n) * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
        lo, hi = wilson_interval(hits, n)
        assert lo == pytest.approx(max(0.0, centre - half), abs=1e-9)
        assert hi == pytest.approx(min(1.0, centre + half), abs=1e-9)
    # all 7 of 7: a percentile of the 0/1 values would say [1, 1]; Wilson says how sure
    assert wilson_interval(7, 7)[0] == pytest.approx(0.6457, abs=1e-4)
    # a narrower interval at a lower confidence
    assert wilson_interval(3, 7, 0.8)[1] < wilson_interval(3, 7)[1]


@pytest.mark.parametrize(("hits", "n"), [(0, 0), (-1, 3), (4, 3)])
def test_wilson_interval_refuses_what_is_not_a_count(hits: int, n: int) -> None:
    with pytest.raises(ValueError, match="wilson_interval"):
        wilson_interval(hits, n)

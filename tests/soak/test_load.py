"""The load model on virtual time: closed slots, Poisson arrivals, ramps and the mix."""

from __future__ import annotations

import asyncio
import math
import random

import numpy as np
import pytest
from scipy import stats
from virtual_loop import run_virtual

from harness.records import Scenario, Step, StepKind
from harness.soak.load import (
    LoadDriver,
    LoadSettings,
    LoadSpecError,
    ScenarioMix,
    closed_slots,
    open_arrivals,
    parse_duration,
    parse_mix,
    parse_rate,
)


def scenario(sid: str) -> Scenario:
    return Scenario(id=sid, steps=(Step(index=0, kind=StepKind.SILENCE, duration_ms=100),))


def test_parsing() -> None:
    assert parse_duration("8h") == 8 * 3600
    assert parse_duration("1h30m") == 5400
    assert parse_duration("90s") == parse_duration("90") == 90
    assert parse_duration("250ms") == 0.25
    assert parse_rate("30/min") == 0.5
    assert parse_rate("2/s") == 2 and parse_rate("360/h") == 0.1
    assert parse_mix(["a=3", "b=0.5"]) == {"a": 3.0, "b": 0.5}
    for bad, fn in (("8 hours", parse_duration), ("", parse_duration), ("x/min", parse_rate),
                    ("3/week", parse_rate), ("0/s", parse_rate)):
        with pytest.raises(LoadSpecError):
            fn(bad)
    with pytest.raises(LoadSpecError, match="SCENARIO_ID=WEIGHT"):
        parse_mix(["a"])
    with pytest.raises(LoadSpecError, match="exactly one"):
        LoadSettings(duration_s=10)
    with pytest.raises(LoadSpecError, match="exactly one"):
        LoadSettings(duration_s=10, concurrency=2, rate_per_s=1)


def test_closed_ramp_slots() -> None:
    assert [closed_slots(4, 60, t) for t in (0, 14.9, 15, 30, 45, 59, 60, 1000)] == [1, 1, 2, 3, 4, 4, 4, 4]
    assert closed_slots(4, 0, 0) == 4


def test_open_arrivals_are_poisson_at_the_rate() -> None:
    """Two virtual hours at 30/min: count within 3 SD of 3600; gaps exponential (KS test)."""
    times = list(open_arrivals(0.5, 0, 7200, seed=3))
    assert abs(len(times) - 3600) <= 3 * math.sqrt(3600)
    gaps = np.diff(times)
    assert stats.kstest(gaps, "expon", args=(0, 2.0)).pvalue > 0.01
    assert times == list(open_arrivals(0.5, 0, 7200, seed=3))  # seeded
    assert times != list(open_arrivals(0.5, 0, 7200, seed=4))


def test_open_arrivals_ramp() -> None:
    """With a 10 min ramp, the first 10 minutes carry half the arrivals of 10 full minutes."""
    counts = [sum(1 for t in open_arrivals(1.0, 600, 1200, seed=s) if t < 600) for s in range(40)]
    full = [sum(1 for t in open_arrivals(1.0, 600, 1200, seed=s) if t >= 600) for s in range(40)]
    assert np.mean(counts) == pytest.approx(300, rel=0.05)
    assert np.mean(full) == pytest.approx(600, rel=0.05)


def test_mix_weights_and_errors() -> None:
    a, b, c = scenario("a"), scenario("b"), scenario("c")
    mix = ScenarioMix.build([a, b, c], {"a": 3, "c": 0}, seed=1)
    picks = [mix.pick(i).id for i in range(4000)]
    assert "c" not in picks
    assert picks.count("a") / 4000 == pytest.approx(0.75, abs=0.03)
    assert mix.pick(17) == ScenarioMix.build([a, b, c], {"a": 3, "c": 0}, seed=1).pick(17)
    assert mix.shares() == {"a": 0.75, "b": 0.25}
    with pytest.raises(LoadSpecError, match="no scenario"):
        ScenarioMix.build([a], {"zz": 1})
    with pytest.raises(LoadSpecError, match="empty"):
        ScenarioMix.build([a], {"a": 0})


def drive(settings: LoadSettings, durations: list[float], stop_at: float | None = None
          ) -> tuple[LoadDriver, list[tuple[int, float, float]], int]:
    """Run the driver on virtual time; each call lasts durations[i % len] seconds."""
    calls: list[tuple[int, float, float]] = []
    peak = 0

    async def main() -> LoadDriver:
        nonlocal peak
        driver: LoadDriver

        async def call(i: int) -> None:
            nonlocal peak
            peak = max(peak, driver.active)
            t0 = driver.now()
            await asyncio.sleep(durations[i % len(durations)])
            calls.append((i, t0, driver.now()))

        driver = LoadDriver(settings, call)
        stop = asyncio.Event()
        if stop_at is not None:
            asyncio.get_running_loop().call_later(stop_at, stop.set)
        await driver.run(stop)
        return driver

    return run_virtual(main()), calls, peak


def test_closed_model_keeps_n_in_flight_for_hours() -> None:
    """4 slots, calls of 20-40 s, 8 virtual hours: each slot starts its next call the
    moment one ends, never more than 4 at once, and every started call ends."""
    rng = random.Random(2)
    durations = [rng.uniform(20, 40) for _ in range(97)]
    driver, calls, peak = drive(LoadSettings(duration_s=8 * 3600, concurrency=4), durations)
    assert peak == 4 and driver.active == 0
    assert len(calls) == driver.started
    assert driver.started == pytest.approx(8 * 3600 * 4 / 30, rel=0.05)
    ends = {round(c[2], 6) for c in calls}
    starts = sorted(c[1] for c in calls)[4:]  # after the first four, each start is an end
    assert all(round(s, 6) in ends for s in starts)
    assert max(c[1] for c in calls) < 8 * 3600


def test_closed_model_ramp_on_virtual_time() -> None:
    _driver, calls, _ = drive(LoadSettings(duration_s=600, concurrency=4, ramp_s=120), [1000.0])
    assert sorted(round(c[1]) for c in calls) == [0, 30, 60, 90]


def test_open_model_starts_regardless_and_caps() -> None:
    """Arrivals at 1/s with calls of 10 s: ~10 in flight; with max_active 5 the rest
    are skipped and counted."""
    settings = LoadSettings(duration_s=3600, rate_per_s=1.0, seed=5)
    _driver, calls, peak = drive(settings, [10.0])
    expected = list(open_arrivals(1.0, 0, 3600, seed=5))
    assert [round(c[1], 6) for c in sorted(calls)] == [round(t, 6) for t in expected]
    assert peak > 10
    capped, calls, peak = drive(LoadSettings(duration_s=3600, rate_per_s=1.0, seed=5, max_active=5),
                                [10.0])
    assert peak <= 5 and capped.skipped > 0
    assert capped.started + capped.skipped == len(expected)


def test_stop_ends_starting_and_waits_for_calls_in_flight() -> None:
    driver, calls, _ = drive(LoadSettings(duration_s=3600, concurrency=3), [50.0], stop_at=120)
    assert driver.started == 9 and len(calls) == 9
    assert max(c[2] for c in calls) == pytest.approx(150)


def test_closed_model_paces_calls_that_fail_at_once() -> None:
    """Calls that end immediately (a refusing endpoint): each of 4 slots starts at most
    once per second, not thousands of times."""
    driver, calls, _ = drive(LoadSettings(duration_s=60, concurrency=4), [0.001])
    assert driver.started == pytest.approx(60 * 4, abs=4)
    per_second = np.bincount(np.array([int(c[1]) for c in calls]))
    assert per_second.max() <= 4
    unpaced, _, _ = drive(LoadSettings(duration_s=60, concurrency=4, pace_s=0.0), [0.5])
    assert unpaced.started == pytest.approx(60 * 4 / 0.5, abs=8)

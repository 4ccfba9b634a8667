"""The load model of a soak: when calls start, and which scenario each one plays.

Two models, as k6 and Locust offer them:

- **closed** (``--concurrency N``): N slots; each starts its next call when its
  previous one ends. Load follows the endpoint: a slower endpoint gets fewer calls.
- **open** (``--rate 30/min``): calls arrive on a seeded Poisson schedule whether or
  not earlier ones have ended. Load is what users would bring; a slower endpoint
  piles up calls in flight. ``max_active`` caps them (arrivals over the cap are
  counted as skipped, as k6 counts dropped iterations), so a hung endpoint cannot
  exhaust the harness.

``--ramp`` grows either linearly from nothing to full load. Scenarios are drawn from a
weighted mix, seeded per call index, so a soak's sequence of scenarios is reproducible.
The schedule is pure (functions of time) and the driver takes its time from the event
loop's clock, so tests run hours of load on a virtual-time loop in milliseconds.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import math
import random
import re
from collections.abc import Callable, Coroutine, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from harness.records import Scenario

__all__ = [
    "LoadDriver",
    "LoadSettings",
    "LoadSpecError",
    "ScenarioMix",
    "closed_slots",
    "open_arrivals",
    "parse_duration",
    "parse_mix",
    "parse_rate",
]


class LoadSpecError(ValueError):
    """A load option that cannot be used; the message names the option and the fix."""


_DURATION = re.compile(r"(\d+(?:\.\d+)?)(ms|h|m|s)")
_UNITS = {"h": 3600.0, "m": 60.0, "s": 1.0, "ms": 0.001}


def parse_duration(text: str, option: str = "--duration") -> float:
    """``8h``, ``5m``, ``90s``, ``1h30m``, ``250ms`` or plain seconds -> seconds."""
    s = text.strip().lower()
    try:
        return float(s)
    except ValueError:
        pass
    pos, total = 0, 0.0
    for match in _DURATION.finditer(s):
        if match.start() != pos:
            break
        total += float(match.group(1)) * _UNITS[match.group(2)]
        pos = match.end()
    if pos != len(s) or not s:
        raise LoadSpecError(f"{option}: cannot read {text!r}; use e.g. 8h, 5m, 90s or 1h30m")
    return total


def parse_rate(text: str) -> float:
    """``30/min``, ``2/s``, ``100/h`` -> calls per second."""
    count, _, per = text.strip().lower().partition("/")
    per = per or "s"
    seconds = {"s": 1.0, "sec": 1.0, "min": 60.0, "m": 60.0, "h": 3600.0, "hour": 3600.0}.get(per)
    try:
        value = float(count)
    except ValueError:
        value = -1.0
    if seconds is None or value <= 0:
        raise LoadSpecError(f"--rate: cannot read {text!r}; use e.g. 30/min, 2/s or 100/h")
    return value / seconds


def parse_mix(items: Sequence[str]) -> dict[str, float]:
    """``["smoke_hello=3", "barge_in=1"]`` -> weights by scenario id."""
    out: dict[str, float] = {}
    for item in items:
        name, sep, weight = item.partition("=")
        try:
            value = float(weight)
        except ValueError:
            value = -1.0
        if not sep or not name or value < 0 or not math.isfinite(value):
            raise LoadSpecError(f"--mix: cannot read {item!r}; use SCENARIO_ID=WEIGHT (weight >= 0)")
        out[name] = value
    return out


@dataclass(frozen=True, slots=True, kw_only=True)
class ScenarioMix:
    """Weighted scenarios; ``pick(i)`` is the scenario of call ``i`` (seeded, reproducible)."""

    scenarios: tuple[Scenario, ...]
    weights: tuple[float, ...]
    seed: int = 0

    @classmethod
    def build(cls, scenarios: Sequence[Scenario], weights: Mapping[str, float] | None = None,
              seed: int = 0) -> ScenarioMix:
        """Weights from ``weights`` (the command line) over each scenario's own ``weight``
        (its YAML, default 1); an id in ``weights`` that no scenario has is an error, and
        so is a mix whose weights are all 0."""
        given = dict(weights or {})
        known = {s.id for s in scenarios}
        unknown = sorted(set(given) - known)
        if unknown:
            raise LoadSpecError(f"--mix: no scenario {unknown}; loaded: {sorted(known)}")
        chosen = [(s, given.get(s.id, s.weight)) for s in scenarios]
        kept = [(s, w) for s, w in chosen if w > 0]
        if not kept:
            raise LoadSpecError("the scenario mix is empty: every weight is 0")
        return cls(scenarios=tuple(s for s, _ in kept), weights=tuple(w for _, w in kept), seed=seed)

    def pick(self, index: int) -> Scenario:
        rng = random.Random(f"{self.seed}:{index}")
        return rng.choices(self.scenarios, weights=self.weights)[0]

    def shares(self) -> dict[str, float]:
        total = sum(self.weights)
        return {s.id: w / total for s, w in zip(self.scenarios, self.weights, strict=True)}


@dataclass(frozen=True, slots=True, kw_only=True)
class LoadSettings:
    duration_s: float
    concurrency: int | None = None
    """Closed model: the number of slots."""
    rate_per_s: float | None = None
    """Open model: mean arrivals per second at full load."""
    ramp_s: float = 0.0
    max_active: int = 64
    """Open model: arrivals while this many calls are in flight are skipped (counted)."""
    seed: int = 0
    pace_s: float = 1.0
    """Closed model: a slot starts its next call no sooner than this after its previous
    start, so an endpoint that refuses calls at once is not hammered in a tight loop
    (calls longer than this are not affected)."""

    def __post_init__(self) -> None:
        if (self.concurrency is None) == (self.rate_per_s is None):
            raise LoadSpecError("give exactly one of --concurrency (closed model) or --rate (open model)")
        if self.concurrency is not None and self.concurrency < 1:
            raise LoadSpecError("--concurrency must be at least 1")
        if self.duration_s <= 0:
            raise LoadSpecError("--duration must be positive")
        if self.ramp_s < 0:
            raise LoadSpecError("--ramp must not be negative")
        if self.pace_s < 0:
            raise LoadSpecError("--pace must not be negative")
        if self.max_active < 1:
            raise LoadSpecError("--max-active must be at least 1")

    @property
    def model(self) -> str:
        return "closed" if self.concurrency is not None else "open"


def closed_slots(concurrency: int, ramp_s: float, t: float) -> int:
    """Slots open at time ``t``: one at the start, all ``concurrency`` by the ramp's end."""
    if ramp_s <= 0 or t >= ramp_s:
        return concurrency
    return min(concurrency, int(concurrency * max(t, 0.0) / ramp_s) + 1)


def next_slot_time(concurrency: int, ramp_s: float, t: float) -> float | None:
    """When the next slot opens after ``t`` (``None`` once all are open)."""
    open_now = closed_slots(concurrency, ramp_s, t)
    if open_now >= concurrency:
        return None
    return open_now * ramp_s / concurrency


def open_arrivals(rate_per_s: float, ramp_s: float, duration_s: float, seed: int = 0) -> Iterator[float]:
    """Arrival times of a Poisson process whose rate ramps linearly from 0 to
    ``rate_per_s`` over ``ramp_s``, then stays (time-change of a unit-rate process)."""
    rng = random.Random(seed)
    ramp_mass = rate_per_s * ramp_s / 2  # expected arrivals during the ramp
    mass = 0.0
    while True:
        mass += rng.expovariate(1.0)
        if mass < ramp_mass:
            t = math.sqrt(2 * mass * ramp_s / rate_per_s)
        else:
            t = ramp_s + (mass - ramp_mass) / rate_per_s
        if t >= duration_s:
            return
        yield t


CLOCK_SLACK_S = 1e-3
"""A deadline closer than this counts as reached: a loop must not spin on the last
picoseconds before it (a timer that near fires at once, without the clock moving)."""

StartCall = Callable[[int], Coroutine[Any, Any, None]]
"""Plays call number ``i`` to its end; never raises for the call's own failure."""


class LoadDriver:
    """Starts calls on the load model until the duration ends or ``stop`` is set, then
    waits for the calls in flight (they end on their own timeouts)."""

    def __init__(self, settings: LoadSettings, start_call: StartCall, *,
                 on_started: Callable[[int], None] | None = None,
                 on_skipped: Callable[[], None] | None = None) -> None:
        self.settings = settings
        self.start_call = start_call
        self.on_started = on_started
        self.on_skipped = on_skipped
        self.started = 0
        self.skipped = 0
        self._tasks: set[asyncio.Task[None]] = set()
        self._ended = asyncio.Event()
        self._origin: float | None = None

    @property
    def active(self) -> int:
        return len(self._tasks)

    def start_clock(self) -> None:
        """Set time 0 of the load (``run`` does, if no one did before it)."""
        if self._origin is None:
            self._origin = asyncio.get_running_loop().time()

    def origin_monotonic_ns(self) -> int | None:
        """Time 0 on CLOCK_MONOTONIC (asyncio's loops keep time with ``time.monotonic``)."""
        return None if self._origin is None else round(self._origin * 1e9)

    def now(self) -> float:
        """Seconds since the load's time 0, on the running loop's clock (0 before it)."""
        if self._origin is None:
            return 0.0
        return asyncio.get_running_loop().time() - self._origin

    async def run(self, stop: asyncio.Event | None = None) -> None:
        stop = stop or asyncio.Event()
        self.start_clock()
        try:
            if self.settings.concurrency is not None:
                await self._closed(self.settings.concurrency, stop)
            else:
                assert self.settings.rate_per_s is not None
                await self._open(self.settings.rate_per_s, stop)
        finally:
            if self._tasks:
                await asyncio.gather(*self._tasks, return_exceptions=True)

    def abandon(self) -> None:
        """Cancel the calls in flight (a second Ctrl-C): they end without a result."""
        for task in list(self._tasks):
            task.cancel()

    def _spawn(self) -> None:
        index = self.started
        self.started += 1
        if self.on_started is not None:
            self.on_started(index)
        task = asyncio.get_running_loop().create_task(self.start_call(index))
        self._tasks.add(task)
        task.add_done_callback(self._done)

    def _done(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        self._ended.set()

    async def _wait(self, stop: asyncio.Event, until: float, *, on_end: bool) -> None:
        """Sleep until ``until`` (loop time since start), a stop, or (``on_end``) a call's end."""
        waits = [asyncio.ensure_future(stop.wait())]
        if on_end:
            self._ended.clear()
            waits.append(asyncio.ensure_future(self._ended.wait()))
        try:
            await asyncio.wait(waits, timeout=max(0.0, until - self.now()),
                               return_when=asyncio.FIRST_COMPLETED)
        finally:
            for w in waits:
                w.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await w

    async def _closed(self, concurrency: int, stop: asyncio.Event) -> None:
        """Keep ``target`` calls in flight; at most ``target`` starts per ``pace_s`` (each
        slot's pace), so failing-fast calls do not spin."""
        s = self.settings
        starts: collections.deque[float] = collections.deque()
        while not stop.is_set() and self.now() < s.duration_s - CLOCK_SLACK_S:
            now = self.now()
            target = closed_slots(concurrency, s.ramp_s, now)
            while starts and starts[0] <= now - s.pace_s:
                starts.popleft()
            while self.active < target and len(starts) < target:
                starts.append(now)
                self._spawn()
            next_open = next_slot_time(concurrency, s.ramp_s, now)
            until = s.duration_s if next_open is None else min(next_open, s.duration_s)
            if self.active < target and starts:  # paced: wake when the oldest start expires
                until = min(until, starts[0] + s.pace_s)
            await self._wait(stop, until, on_end=True)

    async def _open(self, rate_per_s: float, stop: asyncio.Event) -> None:
        s = self.settings
        for t in open_arrivals(rate_per_s, s.ramp_s, s.duration_s, s.seed):
            await self._wait(stop, t, on_end=False)
            if stop.is_set():
                return
            if self.active >= s.max_active:
                self.skipped += 1
                if self.on_skipped is not None:
                    self.on_skipped()
                continue
            self._spawn()
        await self._wait(stop, s.duration_s, on_end=False)

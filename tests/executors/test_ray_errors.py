"""A Ray address that cannot work is a clear error before any call (no cluster needed)."""

from __future__ import annotations

import asyncio
import socket
import time

import pytest
from support import local_endpoint, say_scenario

from harness.executors.base import FinishedCall
from harness.executors.ray import RayExecutor, RayExecutorError, call_deadline_s
from harness.executors.worker import WorkerConfig
from harness.records import CallerKind, CallSpec, Scenario, Step, StepKind

pytestmark = pytest.mark.realclock  # asserts times on the real clock: never niced (Makefile)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.parametrize(("address", "message"), [
    ("127.0.0.1:{port}", "no Ray head node at 127.0.0.1"),
    ("no-port-here", "expected auto, local or HOST:PORT"),
    ("127.0.0.1:http", "expected auto, local or HOST:PORT"),
])
def test_unusable_address_fails_fast_and_runs_nothing(address: str, message: str) -> None:
    address = address.format(port=_free_port())
    executor = RayExecutor(address, WorkerConfig())
    spec = CallSpec(call_id="c", scenario=say_scenario("s", ["q_time"]),
                    endpoint=local_endpoint("http://127.0.0.1:9"), caller=CallerKind.AIORTC)
    finished: list[FinishedCall] = []

    async def collect(call: FinishedCall) -> None:
        finished.append(call)

    t0 = time.monotonic()
    with pytest.raises(RayExecutorError, match=message):
        asyncio.run(executor.run([spec], collect))
    assert time.monotonic() - t0 < 10 and finished == []  # ray.init alone would retry for minutes
    asyncio.run(executor.aclose())


def test_settings_are_checked_and_deadlines_cover_the_scenario() -> None:
    with pytest.raises(ValueError, match="calls per worker"):
        RayExecutor("auto", WorkerConfig(), calls_per_worker=0)
    with pytest.raises(ValueError, match="concurrency"):
        RayExecutor("auto", WorkerConfig(), concurrency=0)
    config = WorkerConfig()
    short = CallSpec(call_id="a", scenario=say_scenario("s", ["q_time"]),
                     endpoint=local_endpoint("http://x"), caller=CallerKind.AIORTC)
    steps = (Step(index=0, kind=StepKind.SAY, utterance="q_time", timeout_ms=20_000),
             Step(index=1, kind=StepKind.SILENCE, duration_ms=60_000))
    long = CallSpec(call_id="b", scenario=Scenario(id="l", steps=steps),
                    endpoint=short.endpoint, caller=CallerKind.AIORTC)
    # never shorter than the call's own timeouts plus its silences
    assert call_deadline_s(short, config) > 5 + config.caller_settings.connect_timeout_s
    assert call_deadline_s(long, config) > 80 + call_deadline_s(short, config) - 5

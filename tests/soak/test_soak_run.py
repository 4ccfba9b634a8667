"""SoakRun end to end with synthetic calls: accounting, windows on disk, retention, drift,
a stop in the middle; on virtual time (hours in a second) and on the real clock."""

from __future__ import annotations

import asyncio
import gc
import shutil
import tempfile
import tracemalloc
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from soak_synth import validity
from virtual_loop import run_virtual

from harness.executors.base import FinishedCall
from harness.records import (
    CallerKind,
    CallRecording,
    CallResult,
    CallSpec,
    Dialect,
    EndpointSpec,
    Failure,
    FailureKind,
    Measurement,
    Scenario,
    SegmentationParams,
    Step,
    StepKind,
)
from harness.soak.load import LoadSettings, ScenarioMix
from harness.soak.run import SoakRun, SoakSettings
from harness.stats.drift import DriftVerdict
from harness.store.retention import AudioRetention, KeepAudio
from harness.store.run_folder import RunFolder, iter_call_dirs, read_results, read_run_info
from harness.store.run_info import build_run_info
from harness.store.windows import read_windows

ENDPOINT = EndpointSpec(name="agent", dialect=Dialect.OPENAI_REALTIME, url="http://127.0.0.1:1")
SCENARIOS = [Scenario(id=sid, steps=(Step(index=0, kind=StepKind.SAY, utterance="q_time"),), weight=w)
             for sid, w in (("a", 3.0), ("b", 1.0))]


def info(folder: RunFolder) -> Any:
    return build_run_info(run_id=folder.run_id, started_at="t", finished_at=None, argv=("test",),
                          endpoints=[ENDPOINT], callers=[CallerKind.AIORTC], scenarios=SCENARIOS,
                          repeats=1, planned=0, results=[], summary=[],
                          segmentation=SegmentationParams())


def fake_calls(duration_s: Callable[[int], float], latency_ms: Callable[[float], float],
               fails: Callable[[float], bool], now: Callable[[], float],
               disturbed: Callable[[int], bool] = lambda i: i % 50 == 7,
               ) -> tuple[Callable[[CallSpec], Awaitable[FinishedCall]],
                          Callable[[FinishedCall, CallSpec], Awaitable[CallResult]]]:
    counter = iter(range(10**9))

    async def play(spec: CallSpec) -> FinishedCall:
        i = next(counter)
        await asyncio.sleep(duration_s(i))
        failure = Failure(kind=FailureKind.OFFER_REFUSED, reason="503") if fails(now()) else None
        rec = CallRecording(call_id=spec.call_id, scenario_id=spec.scenario.id, endpoint=spec.endpoint.name,
                            caller=spec.caller, failure=failure, validity=validity(disturbed=disturbed(i)))
        return FinishedCall(recording=rec)

    async def score(finished: FinishedCall, spec: CallSpec) -> CallResult:
        rec = finished.recording
        ms: tuple[Measurement, ...] = ()
        if rec.failure is None:
            ms = (Measurement(call_id=rec.call_id, scenario=rec.scenario_id, endpoint=rec.endpoint,
                              caller=rec.caller, repeat=0, turn=0, metric="turn_latency_ms",
                              value=latency_ms(now()), unit="ms"),)
        return CallResult(spec_call_id=rec.call_id, scenario=rec.scenario_id, endpoint=rec.endpoint,
                          caller=rec.caller, repeat=0, measurements=ms, failure=rec.failure)

    return play, score


async def inline(fn: Callable[..., Any], *args: Any) -> Any:
    return fn(*args)


@pytest.fixture
def fast_dir(tmp_path: Path) -> Path:
    """A folder on tmpfs when there is one: the run folder fsyncs every call, which on a
    busy disk would make the virtual hours take real minutes."""
    shm = Path("/dev/shm")
    if not shm.is_dir():
        return tmp_path
    path = Path(tempfile.mkdtemp(dir=shm, prefix="vh-soak-test-"))
    yield path  # type: ignore[misc]
    shutil.rmtree(path, ignore_errors=True)


def test_a_virtual_hour_bounded_memory_drift_and_failures(fast_dir: Path) -> None:
    """Concurrency 4, 47 s calls, latency +60 ms/hour, failures from 45 min: on virtual time.

    The memory allocated from minute 15 on and still held at the end is a fixed amount
    (the open window's histograms, a few window rows), not an amount per call."""
    folder = RunFolder.create(fast_dir, "soak")
    settings = SoakSettings(load=LoadSettings(duration_s=3600, concurrency=4), window_s=150,
                            retention=AudioRetention(keep=KeepAudio.FAILED, sample_every=100),
                            lag_probe_s=60.0)
    holder: dict[str, SoakRun] = {}

    def now() -> float:
        return holder["run"].driver.now()

    play, score = fake_calls(lambda i: 47.0, lambda t: 300 + 60 * t / 3600 + (t % 7),
                             lambda t: t > 2700, now)
    soak = SoakRun(folder, settings, ScenarioMix.build(SCENARIOS, seed=3), [(ENDPOINT, CallerKind.AIORTC)],
                   play, score, info(folder), offload=inline)
    holder["run"] = soak
    memory: list[int] = []

    async def main() -> None:
        async def sample() -> None:
            await asyncio.sleep(900.0 - soak.driver.now())
            gc.collect()
            tracemalloc.start()
            memory.append(soak.driver.started)
            await asyncio.sleep(3590.0 - soak.driver.now())
            gc.collect()
            memory.append(tracemalloc.get_traced_memory()[0])
            memory.append(soak.driver.started)
            tracemalloc.stop()

        sampler = asyncio.ensure_future(sample())
        await soak.run()
        await sampler

    run_virtual(main())
    rows = read_windows(folder.path)
    assert len(rows) == 25 and all(r.complete for r in rows[:24])
    assert not rows[24].complete and rows[24].calls_started == 0  # the last calls ending
    started = sum(r.calls_started for r in rows)
    assert started == sum(r.calls_completed + r.calls_failed for r in rows) == soak.driver.started
    assert started == pytest.approx(3600 / 47 * 4, abs=4)
    assert len(read_results(folder.path)) == sum(r.calls_completed for r in rows)
    calls_traced = memory[2] - memory[0]
    print(f"memory held from minute 15 on: {memory[1] / 1024:.0f} kB after {calls_traced} calls")
    assert calls_traced > 200 and memory[1] < 512 * 1024
    failing = [r.value("call_failed", "rate") for r in rows]
    assert failing[:18] == [0.0] * 18 and all(v == 1.0 for v in failing[19:])
    run_json = read_run_info(folder.path)
    assert run_json.finished_at is not None and run_json.counts.calls_failed == sum(r.calls_failed for r in rows)
    drift = {(d.metric, d.stat): d for d in run_json.drift}
    assert drift[("turn_latency_ms", "p50")].verdict is DriftVerdict.INCREASING
    assert drift[("call_failed", "rate")].verdict is DriftVerdict.INCREASING
    calls = list(iter_call_dirs(folder.path))
    assert len(calls) == started
    kept = [c for c in calls if (c / "caller.flac").exists()]
    failed = sum(r.calls_failed for r in rows)
    disturbed = sum(r.calls_disturbed for r in rows)
    assert failed + disturbed <= len(kept) <= failed + disturbed + started // 100 + 1
    assert disturbed == started // 50 + (started % 50 > 7)


def soak_stopped_after(folder: RunFolder, concurrency: int, duration_s: Callable[[int], float],
                       stop_after_s: float = 1.2,
                       disturbed: Callable[[int], bool] = lambda i: i % 50 == 7) -> SoakRun:
    """A real-clock soak of synthetic calls (250 ms turns, none failing), stopped after
    ``stop_after_s``."""
    settings = SoakSettings(load=LoadSettings(duration_s=60, concurrency=concurrency), window_s=0.5)

    async def main() -> SoakRun:
        holder: list[SoakRun] = []
        play, score = fake_calls(duration_s, lambda t: 250.0, lambda t: False,
                                 lambda: holder[0].driver.now(), disturbed=disturbed)
        soak = SoakRun(folder, settings, ScenarioMix.build(SCENARIOS), [(ENDPOINT, CallerKind.AIORTC)],
                       play, score, info(folder))
        holder.append(soak)
        stop = asyncio.Event()
        asyncio.get_running_loop().call_later(stop_after_s, stop.set)
        await soak.run(stop)
        return soak

    return asyncio.run(main())


@pytest.mark.realclock
def test_real_clock_stop_midway_keeps_everything(tmp_path: Path) -> None:
    """A stop after 1.2 s: no new calls, the ones in flight end, a partial last window."""
    folder = RunFolder.create(tmp_path, "soak")
    soak = soak_stopped_after(folder, 3, lambda i: 0.05 + 0.01 * (i % 5))
    rows = read_windows(folder.path)
    assert [r.complete for r in rows] == [True, True, False]
    assert 1.0 < rows[-1].end_s < 2.0  # the stop (1.2 s after the loop began), then the calls in flight ending
    assert sum(r.calls_started for r in rows) == sum(r.calls_completed for r in rows) == soak.driver.started
    assert rows[0].process.rss_mb is not None and rows[0].process.open_fds is not None
    assert rows[-1].disk_bytes is not None and rows[-1].disk_bytes > 0
    assert read_run_info(folder.path).finished_at is not None


@pytest.mark.realclock
@pytest.mark.parametrize(("disturbed", "not_ok"), [(lambda i: False, False), (lambda i: i == 1, True)],
                         ids=["clean", "one-disturbed"])
def test_a_disturbed_call_makes_the_soak_not_ok_as_a_failed_one_does(
        tmp_path: Path, disturbed: Callable[[int], bool], not_ok: bool) -> None:
    """Exit 1 for a soak with a disturbed call, as for ``run``: its numbers were left out."""
    soak = soak_stopped_after(RunFolder.create(tmp_path, "soak"), 2, lambda i: 0.05, disturbed=disturbed)
    assert soak.driver.started >= 2 and soak.failures == []
    assert soak.any_not_ok is not_ok

"""The run lifecycle: hooks fire in order, the driver writes and scores what executors
hand back, disturbed calls are flagged everywhere and left out of the gate by default.

No network: a fake executor hands over synthetic finished calls whose latencies the
test sets (400 ms for the good calls, 1500 ms for the disturbed one), and the real
scorers (in-loop and the niced process pool) measure them.
"""

from __future__ import annotations

import asyncio
import dataclasses
import io
import os
from collections.abc import Callable, Sequence
from pathlib import Path

import pytest
from executors.synth_calls import synth_call
from rich.console import Console

from harness.executors.base import FinishedCall, OnFinished, OnStarted
from harness.executors.scoring import SCORING_NICENESS, InlineScorer, PoolScorer, Scorer
from harness.exit_codes import EXIT_FAILURES
from harness.gate import gate_run
from harness.lifecycle import CallFinished, CallStarted, RunFinished, RunLifecycle
from harness.plan import RunPlan
from harness.records import CallResult, CallSpec
from harness.slo.rules import parse_slo
from harness.store.run_folder import RunFolder, read_results, read_run_info

SLO = """
[[slo]]
metric = "turn_latency_ms"
stat = "max"
max = 800
min_samples = 2
"""


class FakeExecutor:
    """Hands back prepared calls, the last one first (calls end in any order)."""

    def __init__(self, finished: dict[str, FinishedCall]) -> None:
        self.finished = finished
        self.closed = False

    async def run(self, specs: Sequence[CallSpec], on_finished: OnFinished,
                  on_started: OnStarted | None = None) -> None:
        for spec in specs:
            if on_started is not None:
                await on_started(spec, None)
        for spec in reversed(specs):
            await on_finished(self.finished[spec.call_id])

    async def aclose(self) -> None:
        self.closed = True


def _run(tmp_path: Path, scorer: Scorer, listeners: Sequence[Callable[[CallFinished], None]] = (),
         ) -> tuple[RunLifecycle, list[object], int]:
    calls = [synth_call("good-1", 400.0), synth_call("good-2", 400.0), synth_call("bad", 1500.0, disturbed=True)]
    folder = RunFolder.create(tmp_path, "run")
    executor = FakeExecutor({spec.call_id: fin for spec, fin in calls})
    lifecycle = RunLifecycle(folder, executor, scorer)
    events: list[object] = []
    lifecycle.hooks.call_started.add(events.append)
    lifecycle.hooks.call_finished.add(events.append)
    lifecycle.hooks.run_finished.add(events.append)
    for listener in listeners:
        lifecycle.hooks.call_finished.add(listener)

    @lifecycle.hooks.call_finished.add
    def broken_listener(event: CallFinished) -> None:
        raise RuntimeError("a listener's bug")

    async def main() -> int:
        try:
            await lifecycle.execute(RunPlan(specs=tuple(spec for spec, _ in calls)))
        finally:
            await lifecycle.aclose()
        return lifecycle.finish(Console(file=io.StringIO()), slo=parse_slo(SLO))

    code = asyncio.run(main())
    assert executor.closed
    return lifecycle, events, code


def test_hooks_results_and_disturbed_calls(tmp_path: Path) -> None:
    _, events, code = _run(tmp_path, InlineScorer())
    started = [e for e in events if isinstance(e, CallStarted)]
    finished = [e for e in events if isinstance(e, CallFinished)]
    assert [e.spec.call_id for e in started] == ["good-1", "good-2", "bad"]
    assert events.index(finished[0]) > events.index(started[-1])
    assert sorted(e.result.spec_call_id for e in finished) == ["bad", "good-1", "good-2"]
    assert isinstance(events[-1], RunFinished) and events[-1].disturbed == 1 and events[-1].failed == 0
    # the gate passes on the good calls alone, so the code says "disturbed": 1, not 3
    assert code == EXIT_FAILURES and events[-1].exit_code == EXIT_FAILURES

    run_dir = tmp_path / "run"
    rows = read_results(run_dir)
    latency = {(m.call_id, m.turn): m.value for m in rows if m.metric == "turn_latency_ms"}
    for turn in (0, 1):
        assert latency[("good-1", turn)] == pytest.approx(400.0, abs=3.0)
        assert latency[("bad", turn)] == pytest.approx(1500.0, abs=3.0)
    assert all(m.disturbed for m in rows if m.call_id == "bad")
    assert not any(m.disturbed for m in rows if m.call_id != "bad")
    assert (run_dir / "calls" / "bad" / "recording.json").is_file()

    info = read_run_info(run_dir)
    assert info.counts.calls_disturbed == 1 and info.counts.calls_finished == 3
    (summary,) = [x for x in info.summary if x.metric == "turn_latency_ms"]  # one endpoint, one caller
    assert summary.n == 4 and summary.max == pytest.approx(400.0, abs=3.0)  # the disturbed call left out
    assert info.validity.max_frame_gap_ms == 40.0 and not info.summary_includes_disturbed
    (verdict,) = info.verdicts
    assert verdict.status == "pass" and verdict.n == 4 and "1 disturbed call(s) left out" in verdict.detail

    # counted on request, from the command line or the SLO file, the disturbed call fails the SLO
    (counted,) = gate_run(run_dir, parse_slo(SLO), include_disturbed=True, write=False).verdicts
    assert counted.status == "fail" and counted.n == 6
    (counted,) = gate_run(run_dir, parse_slo("include_disturbed = true\n" + SLO), write=False).verdicts
    assert counted.status == "fail" and counted.observed == pytest.approx(1500.0, abs=3.0)

    html = (run_dir / "index.html").read_text()
    assert "DISTURBED" in html and "1 disturbed by the harness" in html
    assert "disturbed by the harness" in (run_dir / "summary.md").read_text()
    junit = (run_dir / "junit.xml").read_text()
    assert 'name="bad validity"' in junit and "loop lag max 200.0 ms" in junit


def test_pool_scorer_scores_the_same_at_lower_priority(tmp_path: Path) -> None:
    scorer = PoolScorer(1)
    niceness: list[int] = []

    def check_priority(event: CallFinished) -> None:
        pool = scorer._pool
        assert pool is not None
        niceness.extend(os.getpriority(os.PRIO_PROCESS, pid) for pid in pool._processes)

    _, _, code = _run(tmp_path, scorer, listeners=[check_priority])
    mine = os.getpriority(os.PRIO_PROCESS, 0)
    assert niceness and set(niceness) == {min(19, mine + SCORING_NICENESS)}
    assert code == EXIT_FAILURES
    latency = {(m.call_id, m.turn): m.value for m in read_results(tmp_path / "run")
               if m.metric == "turn_latency_ms"}
    assert latency[("good-2", 1)] == pytest.approx(400.0, abs=3.0)
    assert latency[("bad", 0)] == pytest.approx(1500.0, abs=3.0)


class _MustNotScore:
    in_loop = False

    async def score(self, *args: object) -> CallResult:
        raise AssertionError("a call scored on its worker's host is not scored again")

    async def aclose(self) -> None:
        return None


def test_calls_scored_on_the_worker_host_are_taken_as_scored(tmp_path: Path) -> None:
    spec, finished = synth_call("pre", 400.0)
    result = InlineScorer()
    scored = asyncio.run(result.score(finished, spec.scenario, {}))
    folder = RunFolder.create(tmp_path, "run")
    lifecycle = RunLifecycle(folder, FakeExecutor({"pre": dataclasses.replace(finished, result=scored)}),
                             _MustNotScore())
    results = asyncio.run(lifecycle.execute(RunPlan(specs=(spec,))))
    assert results == [scored]
    assert read_results(tmp_path / "run") == list(scored.measurements)

"""Per-caller limits in the local executor's dispatch (no processes: the queue logic alone)."""

from __future__ import annotations

import collections
from types import SimpleNamespace

from harness.executors.local import LocalExecutor
from harness.executors.worker import WorkerConfig
from harness.records import CallerKind, CallSpec, Dialect, EndpointSpec, Scenario, Step, StepKind

ENDPOINT = EndpointSpec(name="e", dialect=Dialect.OPENAI_REALTIME, url="http://127.0.0.1:1")
SCENARIO = Scenario(id="s", steps=(Step(index=0, kind=StepKind.SAY, utterance="q_time"),))


def spec(call_id: str, caller: CallerKind) -> CallSpec:
    return CallSpec(call_id=call_id, scenario=SCENARIO, endpoint=ENDPOINT, caller=caller, repeat=0)


def test_a_caller_at_its_limit_waits_and_other_callers_go_first() -> None:
    executor = LocalExecutor(WorkerConfig(), concurrency=3, caller_limits={CallerKind.BROWSER: 1})
    live = spec("b0", CallerKind.BROWSER)
    executor._workers = [SimpleNamespace(calls={live.call_id: live})]  # type: ignore[list-item]
    pending = collections.deque([spec("b1", CallerKind.BROWSER), spec("a1", CallerKind.AIORTC),
                                 spec("b2", CallerKind.BROWSER)])
    taken = executor._next_within_limits(pending)
    assert taken is not None and taken.call_id == "a1"
    assert [s.call_id for s in pending] == ["b1", "b2"]  # order kept for the waiting ones
    assert executor._next_within_limits(pending) is None  # only browser calls left: wait
    executor._workers = [SimpleNamespace(calls={})]  # type: ignore[list-item]
    taken = executor._next_within_limits(pending)
    assert taken is not None and taken.call_id == "b1"


def test_without_limits_the_queue_is_first_in_first_out() -> None:
    executor = LocalExecutor(WorkerConfig(), concurrency=2)
    pending = collections.deque([spec("b1", CallerKind.BROWSER), spec("a1", CallerKind.AIORTC)])
    taken = executor._next_within_limits(pending)
    assert taken is not None and taken.call_id == "b1"

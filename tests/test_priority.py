"""The caller worker's loop asks for real-time scheduling, and nothing it starts inherits it.

Each check runs in a fresh child process: the policy is per thread and sticks, so the
test process itself is never changed.
"""

from __future__ import annotations

import gc
import multiprocessing
import os
import subprocess
import sys
import threading
from collections.abc import Callable
from typing import Any

import pytest
from support import realtime_permitted

from harness.priority import (
    HELPER_PRIORITY,
    MIDDLE_GENERATION_THRESHOLD,
    RAISED_NICENESS,
    REALTIME_PRIORITY,
    children_at_normal_priority,
    freeze_startup_heap,
    promote_helper_threads,
    raise_priority,
    thaw_heap,
)

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="scheduling policies are Linux's")


def _in_child(enabled: bool, out: multiprocessing.Queue) -> None:  # type: ignore[type-arg]
    got = raise_priority(enabled)
    child = subprocess.run(
        [sys.executable, "-c", "import os; print(os.sched_getscheduler(0), os.getpriority(os.PRIO_PROCESS, 0))"],
        capture_output=True, text=True, check=True)
    out.put((got, os.sched_getscheduler(0) & ~os.SCHED_RESET_ON_FORK, child.stdout.split()))


_CHILD_POLICY = [sys.executable, "-c", "import os; print(os.sched_getscheduler(0), os.getpriority(os.PRIO_PROCESS, 0))"]


def _thread_policy(started: threading.Event, stop: threading.Event, seen: list[tuple[int, int]]) -> None:
    seen.append((os.sched_getscheduler(0), os.sched_getparam(0).sched_priority))
    started.set()
    stop.wait(30)


def _start_thread(seen: list[tuple[int, int]]) -> tuple[threading.Thread, threading.Event]:
    started, stop = threading.Event(), threading.Event()
    thread = threading.Thread(target=_thread_policy, args=(started, stop, seen), daemon=True)
    thread.start()
    started.wait(30)
    return thread, stop


def _worker_loop_child(out: multiprocessing.Queue) -> None:  # type: ignore[type-arg]
    """As a caller worker's loop thread: threads inherit, processes only inside the block."""
    raise_priority(True, threads_inherit=True)
    inherited: list[tuple[int, int]] = []
    _, stop_a = _start_thread(inherited)
    with children_at_normal_priority():
        process = subprocess.run(_CHILD_POLICY, capture_output=True, text=True, check=True).stdout.split()
        normal: list[tuple[int, int]] = []
        thread_b, stop_b = _start_thread(normal)
    after = os.sched_getscheduler(0)
    promoted = promote_helper_threads()
    assert thread_b.native_id is not None
    out.put((inherited, process, normal, after, promoted,
             (os.sched_getscheduler(thread_b.native_id), os.sched_getparam(thread_b.native_id).sched_priority)))
    stop_a.set()
    stop_b.set()


def _run(enabled: bool) -> tuple[str, int, list[str]]:
    return _in_spawned(_in_child, enabled)


def _in_spawned(target: Callable[..., None], *args: object) -> tuple[Any, ...]:
    ctx = multiprocessing.get_context("spawn")
    out = ctx.Queue()
    proc = ctx.Process(target=target, args=(*args, out))
    proc.start()
    result = out.get(timeout=60)
    proc.join(timeout=30)
    return result  # type: ignore[no-any-return]


def test_the_worker_loop_gets_realtime_and_its_children_do_not() -> None:
    got, policy, child = _run(True)
    if realtime_permitted():
        assert got == f"realtime SCHED_RR {REALTIME_PRIORITY}" and policy == os.SCHED_RR
        assert child == [str(os.SCHED_OTHER), "0"], "a process the worker starts (Chromium) runs normally"
    else:  # a raised niceness where allowed, else unchanged; said either way
        assert policy == os.SCHED_OTHER and got.startswith("nice ")
        assert int(got.split()[1]) in (RAISED_NICENESS, os.getpriority(os.PRIO_PROCESS, 0))


def test_switched_off_it_changes_nothing() -> None:
    got, policy, _ = _run(False)
    assert policy == os.SCHED_OTHER and got == f"nice {os.getpriority(os.PRIO_PROCESS, 0)}"


@pytest.mark.skipif(not realtime_permitted(), reason="real-time scheduling is not permitted here")
def test_a_worker_loops_threads_inherit_realtime_but_processes_started_in_the_block_do_not() -> None:
    """``Thread.start`` waits for the new thread to run: born at normal priority on a busy
    machine, it kept the loop waiting 20-30 ms. Processes must still start normally."""
    inherited, process, normal, after, promoted, promoted_policy = _in_spawned(_worker_loop_child)
    assert inherited == [(os.SCHED_RR, REALTIME_PRIORITY)], "a thread the loop starts runs real-time at once"
    assert process == [str(os.SCHED_OTHER), "0"], "a process started inside the block runs normally"
    assert normal == [(os.SCHED_OTHER, 0)], "so does a thread started inside it"
    assert after == os.SCHED_RR, "after the block, threads inherit again (no reset flag)"
    assert promoted == 1, "the one thread left at normal priority is promoted"
    assert promoted_policy == (os.SCHED_RR | os.SCHED_RESET_ON_FORK, HELPER_PRIORITY)


def test_the_startup_heap_leaves_the_collections_a_call_can_meet() -> None:
    """What a worker loaded before its calls is out of every generation a collection
    walks (the permanent one), and what it allocates afterwards is still collected."""
    loaded = [[i] for i in range(50_000)]  # a corpus's worth of small objects (lists: always tracked)
    thresholds = gc.get_threshold()
    try:
        freeze_startup_heap()
        walked = {id(o) for generation in range(3) for o in gc.get_objects(generation)}
        assert gc.get_freeze_count() >= len(loaded)
        assert not any(id(o) in walked for o in loaded[::1000])
        later = [[-1]]
        assert id(later[0]) in {id(o) for o in gc.get_objects(0)}
    finally:
        thaw_heap(thresholds)


def _largest_middle_collection(survivors: int) -> int:
    """Allocate ``survivors`` objects that stay alive, as a call's packet records do, and
    return the most objects one generation-1 collection had to walk meanwhile."""
    largest = 0

    def watch(phase: str, info: dict[str, int]) -> None:
        nonlocal largest
        if phase == "start" and info["generation"] == 1:
            largest = max(largest, len(gc.get_objects(0)) + len(gc.get_objects(1)))

    kept: list[list[int]] = []
    gc.collect()
    gc.callbacks.append(watch)
    try:
        for i in range(survivors):
            kept.append([i])
    finally:
        gc.callbacks.remove(watch)
    return largest


def test_a_calls_survivors_are_collected_in_small_steps() -> None:
    """After ``freeze_startup_heap``, a generation-1 collection walks about three young
    generations' worth of survivors, not CPython's eleven (its pause in a caller worker
    fell from 3-9 ms to under 2.6 ms): measured by the objects each one walked, not by a
    clock."""
    default = gc.get_threshold()
    youngest = default[0]
    try:
        before = _largest_middle_collection(30 * youngest)
        freeze_startup_heap()
        assert gc.get_threshold() == (youngest, MIDDLE_GENERATION_THRESHOLD, default[2])
        after = _largest_middle_collection(30 * youngest)
    finally:
        thaw_heap(default)
    assert before > 8 * youngest  # the default: ten young collections' survivors at once
    assert 0 < after <= 3.5 * youngest

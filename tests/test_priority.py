"""The caller worker's loop asks for real-time scheduling, and nothing it starts inherits it.

Each check runs in a fresh child process: the policy is per thread and sticks, so the
test process itself is never changed.
"""

from __future__ import annotations

import multiprocessing
import os
import subprocess
import sys

import pytest
from support import realtime_permitted

from harness.priority import RAISED_NICENESS, raise_priority

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="scheduling policies are Linux's")


def _in_child(enabled: bool, out: multiprocessing.Queue) -> None:  # type: ignore[type-arg]
    got = raise_priority(enabled)
    child = subprocess.run(
        [sys.executable, "-c", "import os; print(os.sched_getscheduler(0), os.getpriority(os.PRIO_PROCESS, 0))"],
        capture_output=True, text=True, check=True)
    out.put((got, os.sched_getscheduler(0) & ~os.SCHED_RESET_ON_FORK, child.stdout.split()))


def _run(enabled: bool) -> tuple[str, int, list[str]]:
    ctx = multiprocessing.get_context("spawn")
    out = ctx.Queue()
    proc = ctx.Process(target=_in_child, args=(enabled, out))
    proc.start()
    result = out.get(timeout=60)
    proc.join(timeout=30)
    return result  # type: ignore[no-any-return]


def test_the_worker_loop_gets_realtime_and_its_children_do_not() -> None:
    got, policy, child = _run(True)
    if realtime_permitted():
        assert got == "realtime SCHED_RR 2" and policy == os.SCHED_RR
        assert child == [str(os.SCHED_OTHER), "0"], "a process the worker starts (Chromium) runs normally"
    else:  # a raised niceness where allowed, else unchanged; said either way
        assert policy == os.SCHED_OTHER and got.startswith("nice ")
        assert int(got.split()[1]) in (RAISED_NICENESS, os.getpriority(os.PRIO_PROCESS, 0))


def test_switched_off_it_changes_nothing() -> None:
    got, policy, _ = _run(False)
    assert policy == os.SCHED_OTHER and got == f"nice {os.getpriority(os.PRIO_PROCESS, 0)}"

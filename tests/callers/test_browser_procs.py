"""The pool's process helpers on real processes: a tree found from its root, and the
browser's threads raised above normal priority except those that set their own."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from harness.callers.browser.procs import process_tree, raise_niceness

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="/proc")

CHILD = """
import os, subprocess, sys, threading, time
threading.Thread(target=lambda: (os.nice(-2), time.sleep(60)), daemon=True).start()  # as Chromium's UI thread
grandchild = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
print(grandchild.pid, flush=True)
time.sleep(60)
"""


def _niceness_of_threads(pid: int) -> list[int]:
    return sorted(os.getpriority(os.PRIO_PROCESS, int(t.name)) for t in Path(f"/proc/{pid}/task").iterdir())


def test_a_tree_at_normal_priority_is_raised_but_threads_that_chose_theirs_keep_it() -> None:
    if os.geteuid() != 0:
        pytest.skip("lowering niceness needs CAP_SYS_NICE")
    child = subprocess.Popen([sys.executable, "-c", CHILD], stdout=subprocess.PIPE, text=True)
    grandchild = 0
    try:
        assert child.stdout is not None
        grandchild = int(child.stdout.readline())
        time.sleep(0.2)  # the child's thread has set its own niceness
        tree = process_tree(child.pid)
        assert set(tree) == {child.pid, grandchild}
        base = os.getpriority(os.PRIO_PROCESS, 0)  # 19 under make test-fast
        assert _niceness_of_threads(child.pid) == [base - 2, base]
        changed = raise_niceness(tree, 5)
        assert changed == 2  # the child's main thread and the grandchild
        assert _niceness_of_threads(child.pid) == [base - 5, base - 2]
        assert _niceness_of_threads(grandchild) == [base - 5]
    finally:
        if grandchild:
            with contextlib.suppress(ProcessLookupError):
                os.kill(grandchild, signal.SIGKILL)
        child.kill()
        child.wait(5)

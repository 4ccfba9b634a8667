"""Scheduling priority for the real-time path: a caller worker asks the kernel for it.

A caller worker's event loop must hand a frame to the network every 20 ms. On a
machine it shares with the endpoint under test, a scoring pool and reports, the
kernel's fair scheduler lets any of them run first, and the frame goes out a few
milliseconds late (the validity guard sees it as send error). Audio servers solve
this the same way: the thread that paces audio runs under a real-time policy
(``SCHED_RR`` at the lowest real-time priority), so it runs as soon as it wakes and
then sleeps again; the kernel's real-time throttling (95 % of a core by default) stays
as a safety net.

The worker's helper threads (the one that sends finished calls to the driver, the
executor that encodes FLAC, WebSocket readers, the scoring pool's feeders) take the
GIL the loop needs. Left at normal priority, one preempted while holding it by a busy
neighbour keeps the loop waiting for the neighbour's time slice (a 20-35 ms loop lag,
measured here): priority inversion. So they run real-time too, one level below the
loop, which still preempts them.

Threads the loop starts during calls (aiortc starts one per call, the WebSocket caller
one per call) inherit the loop's policy: ``Thread.start`` waits until the new thread
has run, and a thread born at normal priority on a busy machine kept the loop waiting
20-30 ms for its first time slice (measured here with two busy neighbours). Processes
must not inherit it (Chromium's driver, a scoring pool, the network relay): where a
worker starts one, it does so inside ``children_at_normal_priority``, and helper
threads carry ``SCHED_RESET_ON_FORK`` so that whatever they start runs normally.

Where the policy is not permitted (no ``CAP_SYS_NICE``, no ``RLIMIT_RTPRIO``), the
worker tries a raised niceness, then stays as it is; what it got is recorded on every
call (``WorkerInfo.scheduling``), so a report can tell a protected caller from one
that was not.
"""

from __future__ import annotations

import contextlib
import gc
import os
import sys
import threading
from collections.abc import Iterator

REALTIME_PRIORITY = 3
"""The loop's: above every normal process and the worker's helper threads."""
HELPER_PRIORITY = 2
"""The worker's helper threads': below the loop's."""
REFERENCE_AGENT_PRIORITY = 1
"""The reference agent's (the tests' ground truth): real-time, so a busy machine does not
make it drift from its knobs, but the lowest, so the harness's callers preempt it. A
caller must never wait for the endpoint it measures."""
RAISED_NICENESS = -5

_worker_realtime = False
_helper_priority = HELPER_PRIORITY
"""One level below what this process's loop got (never above it: the reference agent's
helpers stay below every caller thread)."""
"""Whether this process's loop got real-time scheduling (its helpers follow it)."""


SWITCH_INTERVAL_S = 0.001
"""How long a helper thread may hold the GIL while the loop waits for it (Python's
default is 5 ms: a quarter of a frame, more than the guard's send-error limit)."""


def raise_priority(enabled: bool = True, *, threads_inherit: bool = False,
                   priority: int = REALTIME_PRIORITY) -> str:
    """Ask for real-time scheduling for the calling thread (its event loop); fall back to
    a raised niceness. Returns what it got, as ``describe_scheduling`` says it. Also
    shortens the GIL switch interval of the process (the loop waits less for it).

    ``threads_inherit``: threads (and processes) this thread starts inherit the policy;
    for a worker process whose own code starts every process inside
    ``children_at_normal_priority``. Otherwise nothing started inherits it
    (``SCHED_RESET_ON_FORK``): for a thread in a process the harness does not own (a
    Ray actor, a test), whose libraries may start busy threads of their own."""
    global _worker_realtime, _helper_priority
    if enabled:
        sys.setswitchinterval(SWITCH_INTERVAL_S)
    if enabled and sys.platform == "linux":
        flags = os.SCHED_RR if threads_inherit else os.SCHED_RR | os.SCHED_RESET_ON_FORK
        try:
            os.sched_setscheduler(0, flags, os.sched_param(priority))
            _worker_realtime = True
            _helper_priority = max(1, priority - 1)
        except OSError:
            try:
                if os.getpriority(os.PRIO_PROCESS, 0) > RAISED_NICENESS:
                    os.setpriority(os.PRIO_PROCESS, 0, RAISED_NICENESS)
            except OSError:
                pass
    return describe_scheduling()


MIDDLE_GENERATION_THRESHOLD = 1
"""Every second young (generation-0) collection also collects generation 1 (CPython's
default: every eleventh), for loops that pace audio. See ``freeze_startup_heap``."""


def freeze_startup_heap() -> None:
    """Keep what start-up allocated out of every later full garbage collection, and
    collect what calls allocate in small steps.

    A full (generation 2) collection walks every tracked object while holding the GIL,
    and the loop that paces audio waits for it: in a process that has loaded Ray and a
    test session (about 200 000 objects) one took 229 ms, and an in-process call sent
    with a send-error p99 of 194 ms (measured here with ``gc.callbacks``). What a worker
    loaded before its first call (corpus, codecs, libraries) lives as long as the
    process, so it is frozen into the permanent generation; what calls allocate later is
    still collected, over a heap a fraction of the size.

    The calls' own records (a packet record per frame each way) survive the youngest
    generation, so with CPython's default thresholds every eleventh collection walked ten
    collections' survivors: about 5 000 objects, 3-9 ms in a caller worker at
    concurrency 4, in whichever frame step allocated, and 20-26 ms in a reference-agent
    worker, whose loop stamps the truth. Collecting generation 1 every second time
    walks about a fifth as much each time (the same total work): in three concurrency-4 runs
    no caller-worker collection took over 2.6 ms. Undo with ``thaw_heap``."""
    gc.freeze()
    youngest, _, oldest = gc.get_threshold()
    gc.set_threshold(youngest, MIDDLE_GENERATION_THRESHOLD, oldest)


def thaw_heap(thresholds: tuple[int, int, int]) -> None:
    """Undo ``freeze_startup_heap`` (a test that borrowed its process for calls): the
    frozen objects back into the oldest generation, and the thresholds
    ``gc.get_threshold`` gave before it."""
    gc.unfreeze()
    gc.set_threshold(*thresholds)


def follow_worker_priority() -> None:
    """At the start of a worker's helper thread: real-time one level below the loop, if
    the loop got real-time (else nothing: the thread inherited the raised niceness)."""
    if _worker_realtime:
        with contextlib.suppress(OSError):
            os.sched_setscheduler(0, os.SCHED_RR | os.SCHED_RESET_ON_FORK, os.sched_param(_helper_priority))


@contextlib.contextmanager
def children_at_normal_priority() -> Iterator[None]:
    """Processes (and threads) the calling thread starts inside the block run at normal
    priority, whatever the thread's own policy: Chromium's driver or a relay process
    at real-time priority could take a core from everything else."""
    if sys.platform != "linux":
        yield
        return
    policy = os.sched_getscheduler(0)
    inheritable = policy in (os.SCHED_RR, os.SCHED_FIFO)  # real-time, without the reset flag
    param = os.sched_getparam(0)
    if inheritable:
        os.sched_setscheduler(0, policy | os.SCHED_RESET_ON_FORK, param)
    try:
        yield
    finally:
        if inheritable:
            with contextlib.suppress(OSError):
                os.sched_setscheduler(0, policy, param)


def promote_helper_threads() -> int:
    """Give every thread of this process still at normal priority the helpers' real-time
    priority (threads a helper or a library started before the calls: a scoring pool's
    manager and feeder, which pickle while holding the GIL). Returns how many; none
    unless the loop got real-time."""
    if not _worker_realtime or sys.platform != "linux":
        return 0
    promoted = 0
    for thread in threading.enumerate():
        tid = thread.native_id
        if tid is None:
            continue
        with contextlib.suppress(OSError):
            if os.sched_getscheduler(tid) & ~os.SCHED_RESET_ON_FORK == os.SCHED_OTHER:
                os.sched_setscheduler(tid, os.SCHED_RR | os.SCHED_RESET_ON_FORK, os.sched_param(_helper_priority))
                promoted += 1
    return promoted


def describe_scheduling() -> str:
    """The calling thread's policy: ``realtime SCHED_RR 3`` or ``nice N``."""
    if sys.platform != "linux":
        return f"nice {os.getpriority(os.PRIO_PROCESS, 0)}" if hasattr(os, "getpriority") else "default"
    policy = os.sched_getscheduler(0) & ~os.SCHED_RESET_ON_FORK
    if policy in (os.SCHED_RR, os.SCHED_FIFO):
        name = "SCHED_RR" if policy == os.SCHED_RR else "SCHED_FIFO"
        return f"realtime {name} {os.sched_getparam(0).sched_priority}"
    return f"nice {os.getpriority(os.PRIO_PROCESS, 0)}"


def restore_priority(scheduling: tuple[int, int, int], switch_interval_s: float) -> None:
    """Undo ``raise_priority`` for the calling thread (a test that borrowed it): the policy,
    priority and niceness of ``save_priority``'s tuple, and the switch interval."""
    global _worker_realtime, _helper_priority
    _worker_realtime, _helper_priority = False, HELPER_PRIORITY
    sys.setswitchinterval(switch_interval_s)
    if sys.platform != "linux":
        return
    policy, rt_priority, niceness = scheduling
    with contextlib.suppress(OSError):
        os.sched_setscheduler(0, policy, os.sched_param(rt_priority))
    with contextlib.suppress(OSError):
        os.setpriority(os.PRIO_PROCESS, 0, niceness)


def save_priority() -> tuple[int, int, int]:
    """The calling thread's (policy, real-time priority, niceness), for ``restore_priority``."""
    if sys.platform != "linux":
        return (0, 0, 0)
    return (os.sched_getscheduler(0), os.sched_getparam(0).sched_priority, os.getpriority(os.PRIO_PROCESS, 0))

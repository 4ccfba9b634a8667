"""Scheduling priority for the real-time path: a caller worker asks the kernel for it.

A caller worker's event loop must hand a frame to the network every 20 ms. On a
machine it shares with the endpoint under test, a scoring pool and reports, the
kernel's fair scheduler lets any of them run first, and the frame goes out a few
milliseconds late (the validity guard sees it as send error). Audio servers solve
this the same way: the thread that paces audio runs under a real-time policy
(``SCHED_RR`` at the lowest real-time priority), so it runs as soon as it wakes and
then sleeps again; the kernel's real-time throttling (95 % of a core by default) stays
as a safety net. ``SCHED_RESET_ON_FORK`` keeps it from leaking into processes the
worker starts (Chromium, a scoring pool) and threads it creates.

The worker's helper threads (the one that sends finished calls to the driver, the
executor that encodes FLAC, WebSocket readers) take the GIL the loop needs. Left at
normal priority, one preempted while holding it by a busy neighbour keeps the loop
waiting for the neighbour's time slice (a 20-35 ms loop lag, measured here): priority
inversion. So they run real-time too, one level below the loop, which still preempts them.

Where the policy is not permitted (no ``CAP_SYS_NICE``, no ``RLIMIT_RTPRIO``), the
worker tries a raised niceness, then stays as it is; what it got is recorded on every
call (``WorkerInfo.scheduling``), so a report can tell a protected caller from one
that was not.
"""

from __future__ import annotations

import contextlib
import os
import sys

REALTIME_PRIORITY = 2
"""The loop's: above every normal process and the worker's helper threads."""
HELPER_PRIORITY = 1
"""The worker's helper threads': the lowest real-time priority, below the loop's."""
RAISED_NICENESS = -5

_worker_realtime = False
"""Whether this process's loop got real-time scheduling (its helpers follow it)."""


SWITCH_INTERVAL_S = 0.001
"""How long a helper thread may hold the GIL while the loop waits for it (Python's
default is 5 ms: a quarter of a frame, more than the guard's send-error limit)."""


def raise_priority(enabled: bool = True) -> str:
    """Ask for real-time scheduling for the calling thread (its event loop); fall back to
    a raised niceness. Returns what it got, as ``describe_scheduling`` says it. Also
    shortens the GIL switch interval of the process (the loop waits less for it)."""
    global _worker_realtime
    if enabled:
        sys.setswitchinterval(SWITCH_INTERVAL_S)
    if enabled and sys.platform == "linux":
        try:
            os.sched_setscheduler(0, os.SCHED_RR | os.SCHED_RESET_ON_FORK, os.sched_param(REALTIME_PRIORITY))
            _worker_realtime = True
        except OSError:
            try:
                if os.getpriority(os.PRIO_PROCESS, 0) > RAISED_NICENESS:
                    os.setpriority(os.PRIO_PROCESS, 0, RAISED_NICENESS)
            except OSError:
                pass
    return describe_scheduling()


def follow_worker_priority() -> None:
    """At the start of a worker's helper thread: real-time one level below the loop, if
    the loop got real-time (else nothing: the thread inherited the raised niceness)."""
    if _worker_realtime:
        with contextlib.suppress(OSError):
            os.sched_setscheduler(0, os.SCHED_RR | os.SCHED_RESET_ON_FORK, os.sched_param(HELPER_PRIORITY))


def describe_scheduling() -> str:
    """The calling thread's policy: ``realtime SCHED_RR 1`` or ``nice N``."""
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
    global _worker_realtime
    _worker_realtime = False
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

"""Admission control: a caller worker takes a new call only while it keeps time.

A worker's loop paces every frame of every call it holds; one more call is more work
per 20 ms. Before the loop falls behind (which would disturb the calls already
running, and mark them so), the worker stops taking calls: the driver queues them until
it recovers. Queued calls are late, not disturbed.

The decision is made in the worker, from its own loop-lag probe: the recent lateness
of a 10 ms timer is the direct measure of whether frames would leave on time.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True, slots=True, kw_only=True)
class AdmissionSettings:
    max_calls: int | None = None
    """Calls one worker holds at most (the executor sets it from --concurrency/--workers)."""
    lag_p99_ms: float = 2.0
    """Stop taking calls while the probe's p99 lateness over ``window_s`` is above this
    (well under the guard's 5 ms send-error limit: admission acts before calls suffer)."""
    lag_max_ms: float = 10.0
    """... or while its largest lateness over ``window_s`` is above this."""
    window_s: float = 2.0
    max_starting: int = 1
    """Calls in connection set-up at once (ICE, DTLS: bursts of CPU in the loop)."""
    starting_s: float = 1.0
    """How long a new call counts as starting."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Admission:
    admitting: bool
    reason: str = ""
    """Why not, for logs and the driver's status line."""
    lag_p99_ms: float | None = None
    lag_max_ms: float | None = None


def decide(
    active: int, starting: int, recent_lags_ns: Sequence[int], settings: AdmissionSettings
) -> Admission:
    """Whether a worker with ``active`` calls (``starting`` of them in set-up) takes one more.

    A worker with no call always admits: it cannot be disturbing its own calls, and a
    run must make progress even on a machine loaded by something else.
    """
    lags = np.asarray(recent_lags_ns, dtype=np.float64) / 1e6
    p99 = float(np.percentile(lags, 99)) if lags.size else None
    worst = float(lags.max()) if lags.size else None
    reason = ""
    if active == 0:
        pass
    elif settings.max_calls is not None and active >= settings.max_calls:
        reason = f"holds {active} calls (max {settings.max_calls})"
    elif starting >= settings.max_starting:
        reason = f"{starting} call(s) still connecting"
    elif p99 is not None and p99 > settings.lag_p99_ms:
        reason = f"loop lag p99 {p99:.1f} ms > {settings.lag_p99_ms:g} ms"
    elif worst is not None and worst > settings.lag_max_ms:
        reason = f"loop lag max {worst:.1f} ms > {settings.lag_max_ms:g} ms"
    return Admission(admitting=not reason, reason=reason, lag_p99_ms=p99, lag_max_ms=worst)


__all__ = ["Admission", "AdmissionSettings", "decide"]

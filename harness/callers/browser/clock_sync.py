"""Mapping the page's clocks onto the call clock (CLOCK_MONOTONIC of the harness).

The page has two clocks: ``performance.now()`` (ms) and the AudioContext's sample
clock (s). ``performance.now()`` is Chromium's TimeTicks, which on Linux is
CLOCK_MONOTONIC less a per-page origin (coarsened to 0.1 ms), so it maps to the
harness clock by one offset; that offset is found by ping calibration: Python stamps a
ping when sent and the pong when received, the page stamps the pong, and the round
trip with the smallest delay bounds the error by half its length (best of several,
because a busy event loop on either side only ever adds delay).

The AudioContext clock runs on the audio device's sample counter; its relation to
``performance.now()`` is sampled with ``getOutputTimestamp()`` during the call and
fitted with a line, so a device clock that runs a little fast or slow is followed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

__all__ = ["ClockMapping", "ContextClock", "PingSample", "calibrate", "fit_context_clock"]


@dataclass(frozen=True, slots=True, kw_only=True)
class PingSample:
    sent_ns: int
    """CLOCK_MONOTONIC when Python sent the ping."""
    received_ns: int
    """CLOCK_MONOTONIC when Python received the pong."""
    page_ms: float
    """The page's ``performance.now()`` in the pong."""

    @property
    def rtt_ns(self) -> int:
        return self.received_ns - self.sent_ns


@dataclass(frozen=True, slots=True, kw_only=True)
class ClockMapping:
    """``monotonic_ns = page_ms * 1e6 + offset_ns``, true to within ``error_ns``."""

    offset_ns: int
    error_ns: int
    """Half the best round trip: the page stamped the pong somewhere inside it."""
    rtt_ns: int
    samples: int
    spread_ns: int
    """Range of the offsets of the three best pings: a check on ``error_ns``."""

    def to_monotonic(self, page_ms: float) -> int:
        return round(page_ms * 1e6) + self.offset_ns

    def to_page_ms(self, monotonic_ns: int) -> float:
        return (monotonic_ns - self.offset_ns) / 1e6


def calibrate(samples: Sequence[PingSample]) -> ClockMapping:
    """The offset from the ping with the shortest round trip (midpoint assumption)."""
    valid = [s for s in samples if s.rtt_ns >= 0]
    if not valid:
        raise ValueError("clock calibration needs at least one answered ping")
    ranked = sorted(valid, key=lambda s: s.rtt_ns)
    best = ranked[0]

    def offset(s: PingSample) -> int:
        return (s.sent_ns + s.received_ns) // 2 - round(s.page_ms * 1e6)

    top = [offset(s) for s in ranked[:3]]
    return ClockMapping(
        offset_ns=offset(best),
        error_ns=(best.rtt_ns + 1) // 2,
        rtt_ns=best.rtt_ns,
        samples=len(valid),
        spread_ns=max(top) - min(top),
    )


@dataclass(frozen=True, slots=True, kw_only=True)
class ContextClock:
    """``page_ms = intercept_ms + slope * context_s * 1000``: AudioContext time -> page time."""

    intercept_ms: float
    slope: float
    residual_ms: float
    """Largest deviation of a kept sample from the line."""
    samples: int

    def to_page_ms(self, context_s: float) -> float:
        return self.intercept_ms + self.slope * context_s * 1000.0


def fit_context_clock(
    pairs: Sequence[tuple[float, float]], outlier_ms: float = 2.0
) -> ContextClock:
    """Fit (context seconds, page ms) pairs from ``getOutputTimestamp()``.

    A sample read while the render thread was late lies above the line, so after a
    first least-squares fit the points further than ``outlier_ms`` from it are dropped
    and the line refitted; with fewer than three points the slope is taken as 1.
    """
    pts = np.asarray([p for p in pairs if p[0] > 0], dtype=np.float64).reshape(-1, 2)
    if pts.shape[0] == 0:
        raise ValueError("no AudioContext timestamps were recorded")
    ctx_ms, page_ms = pts[:, 0] * 1000.0, pts[:, 1]
    if pts.shape[0] < 3 or float(np.ptp(ctx_ms)) < 100.0:
        intercept = float(np.median(page_ms - ctx_ms))
        residual = float(np.max(np.abs(page_ms - ctx_ms - intercept)))
        return ContextClock(intercept_ms=intercept, slope=1.0, residual_ms=residual, samples=len(pts))
    keep = np.ones(len(pts), dtype=bool)
    for _ in range(3):
        slope, intercept = np.polyfit(ctx_ms[keep], page_ms[keep], 1)
        dev = np.abs(page_ms - (intercept + slope * ctx_ms))
        new_keep = dev <= max(outlier_ms, float(np.median(dev)) * 3.0)
        if new_keep.sum() < 3 or np.array_equal(new_keep, keep):
            break
        keep = new_keep
    slope, intercept = np.polyfit(ctx_ms[keep], page_ms[keep], 1)
    residual = float(np.max(np.abs(page_ms[keep] - (intercept + slope * ctx_ms[keep]))))
    return ContextClock(
        intercept_ms=float(intercept), slope=float(slope), residual_ms=residual, samples=int(keep.sum())
    )

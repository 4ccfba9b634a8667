"""Mergeable histograms for running summaries whose size never grows with the sample count.

A soak runs for hours; keeping every turn latency to take a percentile would grow
without bound. ``MetricHistogram`` wraps HdrHistogram (``hdrhistogram`` on PyPI): a
fixed array of logarithmic buckets with a stated relative precision (3 significant
digits: any value is reported within 0.1 % of what was recorded), which two windows
or two processes merge exactly by adding counts.

Values are floats in the metric's own unit (ms, MOS, ratio), stored as integers of
``1/scale`` of that unit plus one (HdrHistogram's lowest trackable value is 1, and a
WER of exactly 0 is common). Values below 0, above ``highest`` or not finite are
counted in ``out_of_range`` rather than dropped silently.

Percentiles follow HdrHistogram's definition (nearest rank: the smallest value, to the
bucket's precision, at or below which ``q`` % of the values lie), not numpy's linear
interpolation; on a handful of values p99 is the maximum.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

from hdrh.histogram import HdrHistogram

__all__ = ["MetricHistogram"]

SIGNIFICANT_DIGITS = 3
"""Relative precision of every reported value: 10**-3 (values under 2048 units are exact)."""


class MetricHistogram:
    """Counts of one metric's values; memory fixed at construction, merged with ``add``."""

    def __init__(self, *, scale: float = 100.0, highest: float = 600_000.0) -> None:
        """``scale``: units per metric unit (100: 10 µs for ms); ``highest``: the largest
        value kept, in the metric's unit (default 10 minutes in ms)."""
        if scale <= 0 or highest <= 0:
            raise ValueError("scale and highest must be positive")
        self.scale = scale
        self.highest = highest
        self._hist = HdrHistogram(1, max(2, math.ceil(highest * scale) + 1), SIGNIFICANT_DIGITS)
        self.out_of_range = 0
        """Values below 0, above ``highest`` or not finite: counted, not recorded."""
        self._sum = 0.0
        """Exact sum of the recorded values: the mean needs no walk over the buckets
        (HdrHistogram's own mean iterates all of them, in Python)."""

    def record(self, value: float) -> bool:
        """Add one value; False (and ``out_of_range`` + 1) when it cannot be kept."""
        if not math.isfinite(value) or value < 0 or value > self.highest:
            self.out_of_range += 1
            return False
        if not self._hist.record_value(round(value * self.scale) + 1):
            self.out_of_range += 1
            return False
        self._sum += value
        return True

    def record_all(self, values: Iterable[float]) -> None:
        for value in values:
            self.record(value)

    @property
    def count(self) -> int:
        return int(self._hist.get_total_count())

    def _value(self, units: float) -> float:
        return (units - 1) / self.scale

    def percentile(self, q: float) -> float | None:
        """The ``q``-th percentile (0-100) in the metric's unit; ``None`` when empty."""
        if self.count == 0:
            return None
        return self._value(float(self._hist.get_value_at_percentile(min(100.0, max(0.0, q)))))

    def percentiles(self, qs: Iterable[float]) -> dict[float, float | None]:
        """Several percentiles in one pass over the buckets (HdrHistogram's Python
        percentile walk is linear in the bucket count: ask once, not per percentile)."""
        wanted = sorted({min(100.0, max(0.0, float(q))) for q in qs})
        if self.count == 0:
            return dict.fromkeys(wanted)
        found = self._hist.get_percentile_to_value_dict(wanted)
        return {q: self._value(float(found[q])) for q in wanted}

    def mean(self) -> float | None:
        """The exact mean of the recorded values."""
        if self.count == 0:
            return None
        return self._sum / self.count

    def max(self) -> float | None:
        if self.count == 0:
            return None
        return self._value(float(self._hist.get_max_value()))

    def add(self, other: MetricHistogram) -> None:
        """Merge ``other``'s counts into this one (both must share scale and range)."""
        if other.scale != self.scale or other.highest != self.highest:
            raise ValueError("cannot merge histograms of different scale or range")
        if other.count:
            self._hist.add(other._hist)
        self.out_of_range += other.out_of_range
        self._sum += other._sum

    def reset(self) -> None:
        self._hist.reset()
        self.out_of_range = 0
        self._sum = 0.0

    def empty_like(self) -> MetricHistogram:
        return MetricHistogram(scale=self.scale, highest=self.highest)

"""How much the report draws: the knobs that keep a nightly soak's report fast.

A per-call timeline costs ~0.2-0.35 s of matplotlib rendering, so a 200-call soak
spent over a minute on pictures nobody opens. Timelines are drawn for a capped
number of calls, the ones a reader looks at first (failed, then slowest), in a small
process pool; every call keeps its audio players, measurements and events.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

__all__ = ["ReportSettings"]


@dataclass(frozen=True, slots=True, kw_only=True)
class ReportSettings:
    max_timelines: int = 40
    """Calls that get a timeline image (failed first, then by worst turn latency);
    0 draws none. The HTML page says which calls have one."""
    workers: int = 2
    """Processes drawing timelines; 1 draws in this process (capped at the core count)."""
    pool_min_timelines: int = 8
    """Below this many timelines a pool is not worth starting."""
    timeline_dpi: int = 72
    include_disturbed: bool = False
    """Count disturbed calls (validity guard) in the summary statistics; they are listed
    and flagged either way."""

    def __post_init__(self) -> None:
        if self.max_timelines < 0:
            raise ValueError(f"report settings: max_timelines must be >= 0, got {self.max_timelines}")
        if self.workers < 1:
            raise ValueError(f"report settings: workers must be >= 1, got {self.workers}")
        if self.timeline_dpi < 20:
            raise ValueError(f"report settings: timeline_dpi must be >= 20, got {self.timeline_dpi}")

    @property
    def effective_workers(self) -> int:
        return max(1, min(self.workers, os.cpu_count() or 1))

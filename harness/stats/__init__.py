"""Statistics over Measurements: percentiles with bootstrap CIs, and rates."""

from harness.stats.percentiles import summarize
from harness.stats.rates import Rate, rates

__all__ = ["Rate", "rates", "summarize"]

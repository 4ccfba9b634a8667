"""Numbers as people read them, in one place, so every report writes a figure alike.

The terminal tables, the Markdown summary and the HTML report all show metric values;
each used to carry its own copy of these helpers. A value in ms is shown as a fixed
number of decimals (ms are what latency SLOs are stated in, so significant digits
would hide the difference between 1204 and 1200); anything else with a few
significant digits (PESQ 3.41, a rate 0.05).
"""

from __future__ import annotations

__all__ = ["NS_PER_MS", "fmt_value", "ns_to_ms"]

NS_PER_MS = 1_000_000


def ns_to_ms(ns: int) -> float:
    """Call-clock nanoseconds as milliseconds (the unit every time metric is reported in)."""
    return ns / NS_PER_MS


def fmt_value(
    x: float | None, unit: str = "", *, ms_decimals: int = 0, ms_suffix: bool = False, digits: int = 3
) -> str:
    """``x`` for a table cell: ``-`` when missing, ms with ``ms_decimals`` decimals (and
    `` ms`` after it with ``ms_suffix``), any other unit with ``digits`` significant digits."""
    if x is None:
        return "-"
    if unit == "ms":
        return f"{x:.{ms_decimals}f}" + (" ms" if ms_suffix else "")
    return f"{x:.{digits}g}"

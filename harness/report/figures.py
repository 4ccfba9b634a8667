"""A scorecard figure as text, the same on the HTML page and in the Markdown summary.

Rates read as percentages (``12.5%``, their Wilson interval ``6.1–23%``, a difference in
percentage points), times in whole milliseconds (a scorecard compares; the tables
below it keep a decimal), anything else with three significant digits
(:func:`harness.fmt.fmt_value`).
"""

from __future__ import annotations

from harness.fmt import fmt_value

__all__ = ["ci_text", "diff_text", "figure_text", "op_text"]

RATE_UNIT = "bool"


def _pct(x: float) -> str:
    pct = 100.0 * x
    return f"{pct:.0f}%" if pct >= 10 or pct == 0 else f"{pct:.1f}%"


def figure_text(value: float | None, unit: str) -> str:
    if value is None:
        return "-"
    if unit == RATE_UNIT:
        return _pct(value)
    return fmt_value(value, unit, ms_suffix=True)


def ci_text(ci: tuple[float, float] | None, unit: str) -> str:
    """``low–high`` (a rate's in percent), or empty when there is no interval."""
    if ci is None:
        return ""
    if unit == RATE_UNIT:
        return f"{_pct(ci[0]).rstrip('%')}–{_pct(ci[1])}"
    return f"{fmt_value(ci[0], unit)}–{fmt_value(ci[1], unit)}"


def diff_text(diff: float | None, unit: str) -> str:
    """A signed difference: percentage points for rates, ms for times."""
    if diff is None:
        return "-"
    if unit == RATE_UNIT:
        text, suffix = f"{100.0 * diff:+.1f}", " pp"
    elif unit == "ms":
        text, suffix = f"{diff:+.0f}", " ms"
    else:
        text, suffix = f"{diff:+.3g}", ""
    if float(text) == 0.0:  # no "-0.0": a difference that rounds to nothing has no sign
        text = text[1:]
    return text + suffix


def op_text(op: str) -> str:
    """A verdict's comparison as a reader writes it (``<=`` -> ``≤``)."""
    return {"<=": "≤", ">=": "≥"}.get(op, op)

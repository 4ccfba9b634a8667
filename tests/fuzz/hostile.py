"""Strategies for hostile values: what an attacker or a broken endpoint would send.

Import as ``from fuzz.hostile import ...`` (``tests`` is on the pythonpath).
"""

from __future__ import annotations

from hypothesis import strategies as st

MARKUP = ["[/x]", "[bold]", "[red]x[/red]", "[link=http://x]", "]["]
CONTROL = ["\x00", "\x1b[31m", "\x07", "\r", "\n", "\t", "\x7f", "\u2028", "\ufeff", "\ufffe", "\ud800"]
PATHS = ["..", "../..", "a..b", "/etc/passwd", "a/b", ".hidden", "con", "x" * 300]
NUMBERS_AS_TEXT = ["9" * 5000, "1e309", "-1e309", "0x7fffffffffffffff", "1_000", ".inf", ".nan", "NaN", "1:30"]

hostile_text = st.one_of(
    st.text(max_size=40),
    st.sampled_from(MARKUP + CONTROL + PATHS + NUMBERS_AS_TEXT),
    st.builds(lambda a, b, c: a + b + c, st.text(max_size=10), st.sampled_from(MARKUP + CONTROL),
              st.text(max_size=10)),
)
"""Strings with markup, control characters, lone surrogates, path tricks, long numbers."""

hostile_numbers = st.one_of(
    st.integers(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.sampled_from([0, -1, 1, 2**31, 2**63, -(2**63), 10**15, 10**30, 10**300]),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([0.0, -0.0, 1e-300, 1e308, float("inf"), float("-inf"), float("nan")]),
)

hostile_scalars = st.one_of(st.none(), st.booleans(), hostile_numbers, hostile_text)


def nested(depth: int) -> object:
    """A list nested ``depth`` levels deep (``[[[...]]]``): recursion limits."""
    value: object = []
    for _ in range(depth):
        value = [value]
    return value


hostile_json = st.recursive(
    hostile_scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=4),
        st.dictionaries(hostile_text, children, max_size=4),
    ),
    max_leaves=6,
)
"""JSON-like values built from hostile scalars (NaN and infinities included)."""

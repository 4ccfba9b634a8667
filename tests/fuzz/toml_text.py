"""A small TOML writer for generated documents (the standard library only reads TOML).

Values the fuzz suites generate are written faithfully where TOML can say them (NaN,
infinities, 5,000-digit integers, any string) so the parser under test sees them.
"""

from __future__ import annotations

import json
import math
import re

_BARE = re.compile(r"[A-Za-z0-9_-]+")


def key(name: str) -> str:
    return name if _BARE.fullmatch(name) else json.dumps(name)


def value(v: object) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        if math.isnan(v):
            return "nan"
        if math.isinf(v):
            return "inf" if v > 0 else "-inf"
        return repr(v)
    if isinstance(v, str):
        return json.dumps(v)  # JSON string escapes are TOML basic-string escapes
    if isinstance(v, list):
        return "[" + ", ".join(value(x) for x in v) + "]"
    if isinstance(v, dict):
        return "{" + ", ".join(f"{key(str(k))} = {value(x)}" for k, x in v.items()) + "}"
    return json.dumps(str(v))


def document(tables: dict[str, object]) -> str:
    """Top-level keys as ``key = value`` lines; lists of dicts as ``[[array]]`` tables."""
    lines: list[str] = []
    arrays: list[str] = []
    for name, v in tables.items():
        if isinstance(v, list) and v and all(isinstance(x, dict) for x in v):
            for item in v:
                arrays.append(f"[[{key(name)}]]")
                arrays.extend(f"{key(str(k))} = {value(x)}" for k, x in item.items())  # type: ignore[union-attr]
        else:
            lines.append(f"{key(name)} = {value(v)}")
    return "\n".join(lines + arrays) + "\n"

"""Helpers shared by the corpus tests (a module, not conftest, so tests can import it)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[2]
BUILTIN_SCRIPT = REPO / "corpora" / "builtin" / "script.yaml"

TINY_ITEMS: list[dict[str, Any]] = [
    {"id": "q_time", "text": "What time is it?", "tags": ["question"]},
    {
        "id": "paused",
        "parts": ["I would like a pizza with", "mushrooms, please."],
        "pause_ms": 300,
        "tags": ["paused", "pause_300"],
    },
    {"id": "rep", "text": "Repeat after me: the cat sat on the mat.", "tags": ["repeat"]},
    {"id": "bc_mm_hmm", "text": "mm-hmm", "say": "[[ m̩ˈhm̩ ]]", "tags": ["backchannel"]},
    {
        "id": "noise_pink",
        "noise": {"kind": "pink", "seed": 1, "duration_ms": 300},
        "tags": ["noise"],
    },
]

WriteScript = Callable[..., Path]


def write_script(path: Path, items: list[dict[str, Any]], **top: Any) -> Path:
    data: dict[str, Any] = {"schema_version": 1, "name": "test", **top, "items": items}
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path

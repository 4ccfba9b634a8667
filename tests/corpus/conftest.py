"""Small corpora built once per session: a tiny script, and the shipped script's pause items."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from corpus_support import BUILTIN_SCRIPT, TINY_ITEMS, WriteScript, write_script

from harness.corpus.build import BuildOutcome, run_build


@pytest.fixture
def make_script(tmp_path: Path) -> WriteScript:
    def make(items: list[dict[str, Any]], name: str = "script.yaml", **top: Any) -> Path:
        return write_script(tmp_path / name, items, **top)

    return make


@pytest.fixture(scope="session")
def tiny_script(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_script(tmp_path_factory.mktemp("tiny") / "script.yaml", TINY_ITEMS)


@pytest.fixture(scope="session")
def tiny_build(tiny_script: Path, tmp_path_factory: pytest.TempPathFactory) -> BuildOutcome:
    return run_build(tiny_script, tmp_path_factory.mktemp("tiny-out"), force=True)


@pytest.fixture(scope="session")
def shipped_pauses(tmp_path_factory: pytest.TempPathFactory) -> BuildOutcome:
    """The shipped script's paused items (and its lead/tail/level settings), built alone."""
    data = yaml.safe_load(BUILTIN_SCRIPT.read_text(encoding="utf-8"))
    data["items"] = [i for i in data["items"] if "paused" in i.get("tags", [])]
    script = tmp_path_factory.mktemp("pauses") / "script.yaml"
    script.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return run_build(script, script.parent / "build", force=True)

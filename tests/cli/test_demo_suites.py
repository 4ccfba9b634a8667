"""``demo`` runs the shipped suites wherever it is started (not ``./suites``)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pytest
from typer.testing import CliRunner

import harness.session
from harness.cli import DEMO_SUITES, app
from harness.resources import SUITES, shipped_path


def test_demo_finds_the_shipped_suites_from_any_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[Sequence[Path]] = []

    async def fake_demo(out: Path, suites: Sequence[Path], console: object) -> int:
        seen.append(suites)
        return 0

    monkeypatch.setattr(harness.session, "demo", fake_demo)
    monkeypatch.chdir(tmp_path)  # no suites/ here
    result = CliRunner().invoke(app, ["demo", "--out", str(tmp_path / "reports")])
    assert result.exit_code == 0, result.output
    assert [Path(p) for p in seen[0]] == [shipped_path(SUITES) / name for name in DEMO_SUITES]
    assert all(Path(p).is_dir() and any(Path(p).glob("*.yaml")) for p in seen[0])

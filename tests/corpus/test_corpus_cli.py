"""``voice-harness corpus build | import`` and the built-in corpus's location."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile
from corpus_support import BUILTIN_SCRIPT, WriteScript
from typer.testing import CliRunner

from harness.corpus import defaults
from harness.corpus.cli import corpus_app
from harness.corpus.errors import CorpusError

NOISE = [{"id": "n1", "noise": {"kind": "pink", "seed": 1, "duration_ms": 200}, "tags": ["noise"]}]


def test_build_then_cached(make_script: WriteScript, tmp_path: Path) -> None:
    script = make_script(NOISE)
    out = tmp_path / "out"
    runner = CliRunner()
    first = runner.invoke(corpus_app, ["build", "--script", str(script), "--out", str(out)])
    assert first.exit_code == 0, first.output
    assert "no (generated)" in first.output and "items" in first.output
    second = runner.invoke(corpus_app, ["build", "--script", str(script), "--out", str(out)])
    assert second.exit_code == 0, second.output
    assert "yes (reused" in second.output
    forced = runner.invoke(
        corpus_app, ["build", "--script", str(script), "--out", str(out), "--force"]
    )
    assert "no (generated)" in forced.output


def test_build_with_a_bad_script_exits_2_with_the_reason(
    make_script: WriteScript, tmp_path: Path
) -> None:
    script = make_script([{"id": "a"}])
    result = CliRunner().invoke(
        corpus_app, ["build", "--script", str(script), "--out", str(tmp_path)]
    )
    assert result.exit_code == 2
    assert "give exactly one of text, parts or noise" in result.output
    assert "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)


def test_import_command(tmp_path: Path) -> None:
    src = tmp_path / "src"
    src.mkdir()
    tone = (0.3 * np.sin(2 * np.pi * 200 * np.arange(8000) / 16000)).astype(np.float32)
    soundfile.write(str(src / "a.wav"), np.concatenate([np.zeros(4000, np.float32), tone]), 16000)
    (src / "a.txt").write_text("A tone.")
    out = tmp_path / "out"
    result = CliRunner().invoke(corpus_app, ["import", str(src), "--out", str(out), "--tag", "lab"])
    assert result.exit_code == 0, result.output
    assert "no (generated)" in result.output
    (src / "b.wav").write_bytes(b"junk")
    (src / "b.txt").write_text("B.")
    bad = CliRunner().invoke(corpus_app, ["import", str(src), "--out", str(out)])
    assert bad.exit_code == 2 and "b.wav: cannot read audio" in bad.output


def test_default_locations_and_overrides(
    make_script: WriteScript, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Where the cache is (and how it is keyed): tests/corpus/test_corpus_defaults.py."""
    monkeypatch.delenv(defaults.SCRIPT_ENV, raising=False)
    monkeypatch.delenv(defaults.DIR_ENV, raising=False)
    assert defaults.default_script() == BUILTIN_SCRIPT

    script = make_script(NOISE)
    out = tmp_path / "elsewhere"
    monkeypatch.setenv(defaults.SCRIPT_ENV, str(script))
    monkeypatch.setenv(defaults.DIR_ENV, str(out))
    with pytest.raises(CorpusError, match="voice-harness corpus build"):
        defaults.default_corpus(build=False)  # not built yet: says how to build it
    corpus = defaults.default_corpus()
    assert corpus.root == out.resolve() and corpus.ids == ("n1",)
    assert defaults.default_corpus(build=False).ids == ("n1",)

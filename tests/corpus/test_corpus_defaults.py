"""The built-in corpus's cache: in the user's cache folder, one folder per build input.

A scripted noise-only corpus stands in for the built-in one (``VOICE_HARNESS_CORPUS_SCRIPT``)
so that builds take milliseconds; ``XDG_CACHE_HOME`` moves the user cache into tmp_path.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from corpus_support import BUILTIN_SCRIPT, WriteScript
from typer.testing import CliRunner

from harness.corpus import defaults
from harness.corpus.build import expected_input_hash
from harness.corpus.cli import corpus_app
from harness.corpus.errors import CorpusError

NOISE = [{"id": "n1", "noise": {"kind": "pink", "seed": 1, "duration_ms": 200}, "tags": ["noise"]}]
LOUDER = [{"id": "n1", "noise": {"kind": "pink", "seed": 2, "duration_ms": 200}, "tags": ["noise"]}]


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    monkeypatch.delenv(defaults.DIR_ENV, raising=False)
    monkeypatch.delenv(defaults.SCRIPT_ENV, raising=False)
    return tmp_path / "xdg" / "voice-harness"


def test_the_builtin_corpus_is_cached_in_the_user_cache_named_by_its_inputs(cache: Path) -> None:
    assert defaults.cache_root() == cache
    folder = defaults.default_corpus_dir()
    assert folder == cache / "corpora" / f"builtin-{expected_input_hash(BUILTIN_SCRIPT)[:16]}"
    assert not folder.is_relative_to(BUILTIN_SCRIPT.parent.parent.parent)  # not in the checkout


def test_a_changed_script_builds_into_a_folder_of_its_own(
    cache: Path, make_script: WriteScript, monkeypatch: pytest.MonkeyPatch
) -> None:
    script = make_script(NOISE, name="mine/script.yaml")
    monkeypatch.setenv(defaults.SCRIPT_ENV, str(script))
    first = defaults.default_corpus()
    assert first.root.parent == (cache / "corpora").resolve()
    assert first.root.name == f"mine-{first.input_hash[:16]}"  # the hash the build recorded names it
    assert defaults.default_corpus(build=False).root == first.root  # and is found again

    make_script(LOUDER, name="mine/script.yaml")  # same path, new contents
    second = defaults.default_corpus()
    assert second.root != first.root and second.input_hash != first.input_hash
    assert second.root.name == f"mine-{second.input_hash[:16]}"
    assert (first.root / "manifest.json").is_file()  # the other version's build is left alone

    make_script(NOISE, name="mine/script.yaml")  # back: the first build is reused as it was
    wav = first.get("n1").wav
    before = wav.stat().st_mtime_ns
    assert defaults.default_corpus().root == first.root
    assert wav.stat().st_mtime_ns == before


def test_the_dir_override_is_used_as_given(
    cache: Path, make_script: WriteScript, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(defaults.SCRIPT_ENV, str(make_script(NOISE)))
    monkeypatch.setenv(defaults.DIR_ENV, str(tmp_path / "pinned"))
    assert defaults.default_corpus().root == (tmp_path / "pinned").resolve()
    assert not cache.exists()


def test_not_built_yet_says_how_to_build(cache: Path, make_script: WriteScript, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(defaults.SCRIPT_ENV, str(make_script(NOISE)))
    with pytest.raises(CorpusError, match="voice-harness corpus build"):
        defaults.default_corpus(build=False)


def test_a_missing_script_is_a_corpus_error_naming_the_overrides(
    cache: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(defaults.SCRIPT_ENV, str(tmp_path / "gone.yaml"))
    with pytest.raises(CorpusError, match=defaults.SCRIPT_ENV):
        defaults.default_corpus()
    with pytest.raises(CorpusError, match="voice-harness corpus build"):
        defaults.default_corpus(build=False)


def test_corpus_build_without_options_fills_the_cache(
    cache: Path, make_script: WriteScript, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(defaults.SCRIPT_ENV, str(make_script(NOISE)))
    result = CliRunner().invoke(corpus_app, ["build"])
    assert result.exit_code == 0, result.output
    (built,) = (cache / "corpora").iterdir()
    assert (built / "manifest.json").is_file()
    assert built.name.startswith(f"{defaults.default_script().parent.name}-")

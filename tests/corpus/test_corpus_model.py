"""Loading: ids, missing items, corrupt or inconsistent manifests, mismatched audio."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import soundfile

from harness.corpus.build import BuildOutcome
from harness.corpus.errors import CorpusError, ManifestError, MissingCorpusItem
from harness.corpus.model import load_audio, load_corpus


@pytest.fixture
def copy(tiny_build: BuildOutcome, tmp_path: Path) -> Path:
    """A private copy of the tiny corpus to damage."""
    dst = tmp_path / "corpus"
    shutil.copytree(tiny_build.corpus.root, dst)
    return dst


def _edit_manifest(root: Path, edit: Any) -> None:
    path = root / "manifest.json"
    data = json.loads(path.read_text())
    edit(data)
    path.write_text(json.dumps(data))


def test_lookup_and_paths(tiny_build: BuildOutcome) -> None:
    corpus = load_corpus(tiny_build.corpus.root)
    assert corpus.ids == ("q_time", "paused", "rep", "bc_mm_hmm", "noise_pink")
    assert "q_time" in corpus and "nope" not in corpus
    utt = corpus.get("q_time")
    assert utt.wav.is_absolute() and utt.wav.is_file()
    assert utt.wav == corpus.root / "audio" / "q_time.wav"
    manifest = json.loads((corpus.root / "manifest.json").read_text())
    assert manifest["schema_version"] == 1
    assert {item["wav"] for item in manifest["items"]} == {
        f"audio/{i}.wav" for i in corpus.ids
    }  # relative in the file
    assert [u.id for u in corpus.with_tag("noise")] == ["noise_pink"]
    assert load_audio(utt).dtype == np.float32


def test_missing_item_names_id_and_corpus(tiny_build: BuildOutcome) -> None:
    corpus = tiny_build.corpus
    with pytest.raises(MissingCorpusItem) as caught:
        corpus.get("no_such_item")
    assert isinstance(caught.value, KeyError) and isinstance(caught.value, CorpusError)
    message = str(caught.value)
    assert "'no_such_item'" in message and str(corpus.root) in message
    assert not message.startswith('"')  # not KeyError's repr-quoted message


@pytest.mark.parametrize(
    ("damage", "expected"),
    [
        (lambda p: p.write_text("{ truncated"), "corrupt corpus manifest (not JSON"),
        (lambda p: p.write_text("[1, 2]"), "expected a JSON object"),
        (lambda p: p.unlink(), "no corpus manifest here"),
        (lambda p: p.write_bytes(b"\xff\xfe\x00garbage"), "cannot read corpus manifest"),
    ],
)
def test_corrupt_manifest_is_a_clear_error(copy: Path, damage: Any, expected: str) -> None:
    damage(copy / "manifest.json")
    with pytest.raises(ManifestError) as caught:
        load_corpus(copy)
    assert str(copy / "manifest.json") in str(caught.value)
    assert expected in str(caught.value)


@pytest.mark.parametrize(
    ("edit", "expected"),
    [
        (lambda d: d.update(schema_version=99), "schema_version 99 is not supported"),
        (lambda d: d["items"][1].update(speech_end=10**9), "items[1] (id 'paused'): Value error"),
        (lambda d: d["items"][0].pop("sha256"), "items[0] (id 'q_time').sha256: Field required"),
        (lambda d: d["items"][0].update(wav="../outside.wav"), "relative path inside"),
        (lambda d: d["items"][0].update(wav="/etc/passwd"), "relative path inside"),
        (lambda d: d["items"].append(d["items"][0]), "'q_time' appears more than once"),
        (lambda d: d["items"][1].update(voiced=[[5, 4]]), "out of order"),
    ],
)
def test_inconsistent_manifest_names_item_and_field(copy: Path, edit: Any, expected: str) -> None:
    _edit_manifest(copy, edit)
    with pytest.raises(ManifestError) as caught:
        load_corpus(copy)
    assert str(copy / "manifest.json") in str(caught.value)
    assert expected in str(caught.value)


def test_missing_audio_file(copy: Path) -> None:
    (copy / "audio" / "rep.wav").unlink()
    with pytest.raises(CorpusError, match=r"1 audio file\(s\) listed but missing: .*rep\.wav"):
        load_corpus(copy)


def test_audio_that_does_not_match_the_manifest(copy: Path) -> None:
    corpus = load_corpus(copy)
    utt = corpus.get("q_time")
    soundfile.write(str(utt.wav), np.zeros(100, dtype=np.float32), 16_000, subtype="PCM_16")
    with pytest.raises(CorpusError, match=r"q_time.*does not match the manifest.*16000 Hz"):
        load_audio(utt)
    utt.wav.write_bytes(b"RIFF-not-really")
    with pytest.raises(CorpusError, match="cannot read audio of corpus item 'q_time'"):
        load_audio(utt)

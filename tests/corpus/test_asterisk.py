"""The Asterisk real-speech recipe, on a miniature of the Debian layout."""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from harness.corpus.asterisk import read_index, stage
from harness.corpus.errors import CorpusImportError
from harness.corpus.importer import import_corpus

INDEX = """\
; Core Asterisk Sounds in English

activated: Activated.
beep: [this is a simple beep tone]
agent-pass: Please enter your password followed by the pound key.
missing-file: This one has no audio.
"""


def _burst(rate: int = 8000) -> np.ndarray:
    rng = np.random.default_rng(0)
    audio = np.zeros(rate, dtype=np.float32)
    audio[2000:6000] = 0.3 * rng.standard_normal(4000).astype(np.float32)
    return audio


def _layout(tmp_path: Path) -> tuple[Path, Path]:
    sounds = tmp_path / "sounds"
    sounds.mkdir()
    for name in ("activated", "beep", "agent-pass"):
        sf.write(sounds / f"{name}.wav", _burst(), 8000, subtype="PCM_16")
    index = tmp_path / "core-sounds-en.txt.gz"
    with gzip.open(index, "wt", encoding="utf-8") as handle:
        handle.write(INDEX)
    return sounds, index


def test_index_skips_comments_and_tone_descriptions(tmp_path: Path) -> None:
    _, index = _layout(tmp_path)
    assert read_index(index) == {
        "activated": "Activated.",
        "agent-pass": "Please enter your password followed by the pound key.",
        "missing-file": "This one has no audio.",
    }


def test_staged_sounds_import_as_a_48k_corpus(tmp_path: Path) -> None:
    sounds, index = _layout(tmp_path)
    staged = stage(sounds, index, tmp_path / "staging")
    assert [s.name for s in staged] == ["activated", "agent-pass"]
    corpus = import_corpus(tmp_path / "staging", tmp_path / "corpus")
    utt = corpus.get("agent-pass")
    assert utt.sample_rate == 48000 and utt.text.startswith("Please enter your password")
    # The burst spans 0.25-0.75 s of the 8 kHz file: bounds measured after resampling.
    assert abs(utt.speech_start / 48000 - 0.25) < 0.005
    assert abs(utt.speech_end / 48000 - 0.75) < 0.005


def test_missing_packages_say_what_to_install(tmp_path: Path) -> None:
    with pytest.raises(CorpusImportError, match="asterisk-core-sounds-en-wav"):
        stage(tmp_path / "nope", tmp_path / "nope.gz", tmp_path / "staging")

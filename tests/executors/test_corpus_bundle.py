"""The corpus a Ray node plays is the driver's, byte for byte, or an error (no network)."""

from __future__ import annotations

import dataclasses
import hashlib
import pickle
import shutil
import threading
from pathlib import Path

import pytest

from harness.corpus.errors import CorpusError
from harness.corpus.model import Corpus, load_audio, load_corpus
from harness.executors.corpus_bundle import pack_corpus, unpack_corpus


def test_bundle_unpacks_to_the_same_corpus_once(corpus: Corpus, tmp_path: Path) -> None:
    bundle = pickle.loads(pickle.dumps(pack_corpus(corpus.root)))  # as the object store carries it
    assert len(bundle.files) == len(corpus)
    assert bundle.digest == hashlib.sha256((corpus.root / "manifest.json").read_bytes()).hexdigest()

    # several workers of one node unpack at once: one folder, complete, shared
    results: list[Path] = []
    threads = [threading.Thread(target=lambda: results.append(unpack_corpus(bundle, tmp_path)))
               for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert len(results) == 4 and len(set(results)) == 1
    unpacked = load_corpus(results[0])
    assert unpacked.ids == corpus.ids
    for utt in corpus:
        copy = unpacked.get(utt.id)
        assert copy.sha256 == utt.sha256 and copy.wav.read_bytes() == utt.wav.read_bytes()
        assert (load_audio(copy) == load_audio(utt)).all()
    assert [p.name for p in tmp_path.iterdir()] == [bundle.digest]  # no temp folders left

    # a second run reuses the unpacked folder without rewriting it
    marker = results[0] / "manifest.json"
    before = marker.stat().st_mtime_ns
    assert unpack_corpus(bundle, tmp_path) == results[0]
    assert marker.stat().st_mtime_ns == before


def test_damaged_bundle_or_folder_is_an_error(corpus: Corpus, tmp_path: Path) -> None:
    bundle = pack_corpus(corpus.root)
    name, data = bundle.files[0]
    damaged = dataclasses.replace(bundle, files=((name, data[:-2] + bytes(b ^ 0xFF for b in data[-2:])), *bundle.files[1:]))
    with pytest.raises(CorpusError, match="checksum"):
        unpack_corpus(damaged, tmp_path)
    missing = dataclasses.replace(bundle, files=bundle.files[1:])
    with pytest.raises(CorpusError, match="missing"):
        unpack_corpus(missing, tmp_path)
    forged = dataclasses.replace(bundle, manifest=bundle.manifest + b" ")
    with pytest.raises(CorpusError, match="digest"):
        unpack_corpus(forged, tmp_path)
    assert not any(tmp_path.iterdir())  # nothing half-written is left to be used later

    copy = tmp_path / "copy"
    shutil.copytree(corpus.root, copy)
    (copy / name).write_bytes(b"RIFF" + b"\0" * 100)
    with pytest.raises(CorpusError, match="checksum"):
        pack_corpus(copy)

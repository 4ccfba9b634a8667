"""Cache key, cache check and build lock shared by ``build`` and ``import``.

A corpus folder is reused when its manifest records the same input hash (everything
the audio and its measured bounds depend on) and every WAV still has its recorded
checksum; anything else — a missing, corrupt or older manifest, an edited WAV — means
rebuild. The lock keeps parallel test workers from building the same folder at once.
"""

from __future__ import annotations

import fcntl
import hashlib
import importlib.metadata
import json
import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

from harness.corpus.audio import sha256_file
from harness.corpus.bounds import segmentation_params_dict, segmenter_digest
from harness.corpus.errors import CorpusError
from harness.corpus.manifest import MANIFEST_NAME, InputValue, read_manifest
from harness.corpus.model import Corpus, load_corpus

BUILDER_VERSION = 1
"""Bump when a change to this package changes the audio or bounds it produces."""

LOCK_NAME = ".corpus.lock"


def common_inputs() -> dict[str, InputValue]:
    """What every corpus folder's contents depend on, whatever its source."""
    inputs: dict[str, InputValue] = {
        "builder_version": BUILDER_VERSION,
        "segmenter_sha256": segmenter_digest(),
        "numpy": _version("numpy"),
        "soxr": _version("soxr"),
        "scipy": _version("scipy"),
    }
    for key, value in segmentation_params_dict().items():
        inputs[f"segmentation.{key}"] = value
    return inputs


def input_hash(inputs: Mapping[str, InputValue]) -> str:
    return hashlib.sha256(json.dumps(dict(inputs), sort_keys=True).encode()).hexdigest()


def cached_corpus(out_dir: Path, expected_hash: str) -> Corpus | None:
    """The corpus in ``out_dir`` if it was made from the same inputs and is intact."""
    try:
        corpus = load_corpus(out_dir)
    except CorpusError:
        return None
    if corpus.input_hash != expected_hash:
        return None
    for utt in corpus:
        try:
            if sha256_file(utt.wav) != utt.sha256:
                return None
        except OSError:
            return None
    return corpus


@contextmanager
def build_lock(out_dir: Path) -> Iterator[None]:
    out_dir.mkdir(parents=True, exist_ok=True)
    fd = os.open(out_dir / LOCK_NAME, os.O_CREAT | os.O_RDWR, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)


def owned_files(out_dir: Path) -> set[Path]:
    """The WAVs the corpus already in ``out_dir`` lists: the only files a rebuild may delete.

    Anything else in the folder (a user's own recordings, another tool's output) was not
    made here and is never touched; an unreadable manifest owns nothing.
    """
    try:
        manifest = read_manifest(out_dir / MANIFEST_NAME)
    except CorpusError:
        return set()
    return {out_dir / item.wav for item in manifest.items}


def check_inside(out_dir: Path, path: Path) -> Path:
    """``path`` if its folder really is inside ``out_dir``; a symlinked folder leading out
    of it (``out/audio -> /elsewhere``) is refused before anything is written there."""
    root = out_dir.resolve()
    parent = path.parent.resolve()
    if not parent.is_relative_to(root):
        raise CorpusError(
            f"{path.parent}: leads out of {out_dir} (to {parent}), through a symlink; "
            "refusing to write or delete there"
        )
    return path


def remove_stale_audio(out_dir: Path, owned: set[Path], keep: set[Path]) -> None:
    """Delete the WAVs a previous build listed (``owned``) that the new one no longer does.

    Only regular files inside ``out_dir`` are removed; ``keep`` holds resolved paths.
    """
    for path in sorted(owned):
        try:
            check_inside(out_dir, path)
        except CorpusError:
            continue
        if path.is_symlink() or not path.is_file() or path.resolve() in keep:
            continue
        path.unlink(missing_ok=True)


def _version(dist: str) -> str:
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return "absent"


def ensure_writable_dir(out_dir: Path) -> None:
    if out_dir.exists() and not out_dir.is_dir():
        raise CorpusError(f"{out_dir}: output path exists and is not a folder")
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise CorpusError(
            f"{out_dir}: cannot create output folder ({exc.strerror or exc})"
        ) from None


def ensure_audio_dir(out_dir: Path, audio_dir: Path) -> None:
    """The corpus's audio folder, which must not be (or lead through) a symlink out of it."""
    check_inside(out_dir, audio_dir / "x")
    if audio_dir.is_symlink():
        check_inside(out_dir, audio_dir.resolve() / "x")

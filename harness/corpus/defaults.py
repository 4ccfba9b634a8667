"""Where the built-in corpus lives, and getting it (built on first use, cached after).

The script ships with the package (``harness.resources``); the audio it makes is a
cache in the user's cache folder (``platformdirs``: ``~/.cache/voice-harness`` on Linux,
``$XDG_CACHE_HOME`` honoured), never inside the package (site-packages may be
read-only and is shared by every user) and never in the current folder. A clone uses
the same place as a wheel: one location means one code path, and every clone, worktree
and virtualenv on a machine shares one build instead of making its own.

The cache folder is named by the build's input hash (script bytes, TTS backend and
model checksum, builder and segmenter version, numpy/soxr/scipy versions: see
``harness.corpus.build``), so a changed script or model gets a folder of its own and is
built there, while two installed versions that disagree never rebuild over each other.
Old folders stay until the cache is deleted (about 12 MB each; deleting is always safe).

Two environment variables override the defaults: ``VOICE_HARNESS_CORPUS_SCRIPT`` (the
script) and ``VOICE_HARNESS_CORPUS_DIR`` (the build folder, used as given, unkeyed).
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import platformdirs

from harness.corpus.build import build_corpus, expected_input_hash
from harness.corpus.errors import CorpusError
from harness.corpus.model import Corpus, load_corpus
from harness.resources import CORPUS_SCRIPT, ResourceError, shipped_path

__all__ = [
    "APP_NAME",
    "DIR_ENV",
    "SCRIPT_ENV",
    "cache_root",
    "default_corpus",
    "default_corpus_dir",
    "default_script",
]

SCRIPT_ENV = "VOICE_HARNESS_CORPUS_SCRIPT"
DIR_ENV = "VOICE_HARNESS_CORPUS_DIR"
APP_NAME = "voice-harness"
KEY_CHARS = 16
"""Hex digits of the input hash in a cache folder's name (64 bits: no accidental clash)."""


def cache_root() -> Path:
    """The user's cache folder for voice-harness (built corpora live under ``corpora/``)."""
    return Path(platformdirs.user_cache_dir(APP_NAME))


def default_script() -> Path:
    """The built-in corpus script (``$VOICE_HARNESS_CORPUS_SCRIPT`` if set)."""
    override = os.environ.get(SCRIPT_ENV)
    if override:
        return Path(override).expanduser()
    try:
        return shipped_path(CORPUS_SCRIPT)
    except ResourceError as exc:
        raise CorpusError(
            f"{exc} (point {SCRIPT_ENV} at a corpus script, or {DIR_ENV} at a built corpus)"
        ) from None


def default_corpus_dir(script: Path | None = None) -> Path:
    """Where the default script's build lives: ``$VOICE_HARNESS_CORPUS_DIR``, else the cache
    folder named by the build's input hash (reading ``script`` to compute it)."""
    override = os.environ.get(DIR_ENV)
    if override:
        return Path(override).expanduser()
    script = script or default_script()
    return cache_root() / "corpora" / f"{_label(script)}-{expected_input_hash(script)[:KEY_CHARS]}"


def default_corpus(build: bool = True) -> Corpus:
    """The built-in corpus; with ``build`` it is (re)built if missing or stale."""
    if build:
        script = default_script()
        if not script.is_file():
            raise CorpusError(
                f"{script}: built-in corpus script not found "
                f"(point {SCRIPT_ENV} at a corpus script, or {DIR_ENV} at a built corpus)"
            )
        return build_corpus(script, default_corpus_dir(script))
    try:
        return load_corpus(default_corpus_dir())
    except CorpusError as exc:
        raise CorpusError(f"{exc}\n(build it with: voice-harness corpus build)") from None


def _label(script: Path) -> str:
    """A readable prefix for the cache folder: the script's folder name (``builtin``)."""
    name = re.sub(r"[^A-Za-z0-9_.-]+", "-", script.parent.name).strip("-.")
    return name or "corpus"

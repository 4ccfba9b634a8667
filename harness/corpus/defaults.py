"""Where the built-in corpus lives, and getting it (built on first use, cached after)."""

from __future__ import annotations

import os
from pathlib import Path

import harness
from harness.corpus.build import build_corpus
from harness.corpus.errors import CorpusError
from harness.corpus.model import Corpus, load_corpus

SCRIPT_ENV = "VOICE_HARNESS_CORPUS_SCRIPT"
DIR_ENV = "VOICE_HARNESS_CORPUS_DIR"


def default_script() -> Path:
    override = os.environ.get(SCRIPT_ENV)
    if override:
        return Path(override).expanduser()
    return Path(harness.__file__).resolve().parent.parent / "corpora" / "builtin" / "script.yaml"


def default_corpus_dir() -> Path:
    override = os.environ.get(DIR_ENV)
    if override:
        return Path(override).expanduser()
    return default_script().parent / "build"


def default_corpus(build: bool = True) -> Corpus:
    """The built-in corpus; with ``build`` it is (re)built if missing or stale."""
    script, out_dir = default_script(), default_corpus_dir()
    if build:
        if not script.is_file():
            # e.g. an installed wheel, which does not carry corpora/
            raise CorpusError(
                f"{script}: built-in corpus script not found "
                f"(point {SCRIPT_ENV} at a corpus script, or {DIR_ENV} at a built corpus)"
            )
        return build_corpus(script, out_dir)
    try:
        return load_corpus(out_dir)
    except CorpusError as exc:
        raise CorpusError(f"{exc}\n(build it with: voice-harness corpus build)") from None

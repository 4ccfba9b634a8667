"""Build, import and load corpora -> ``Utterance``.

A corpus is a folder with ``manifest.json`` and its 48 kHz mono WAVs; speech bounds in
the manifest are measured with the project's segmenter. See corpora/README.md.
"""

from harness.corpus.build import BuildOutcome, build_corpus, run_build
from harness.corpus.defaults import default_corpus, default_corpus_dir, default_script
from harness.corpus.errors import (
    CorpusBuildError,
    CorpusError,
    CorpusImportError,
    ManifestError,
    MissingCorpusItem,
    ScriptError,
)
from harness.corpus.importer import ImportOutcome, import_corpus, run_import
from harness.corpus.model import Corpus, load_audio, load_corpus, repeat_phrase

__all__ = [
    "BuildOutcome",
    "Corpus",
    "CorpusBuildError",
    "CorpusError",
    "CorpusImportError",
    "ImportOutcome",
    "ManifestError",
    "MissingCorpusItem",
    "ScriptError",
    "build_corpus",
    "default_corpus",
    "default_corpus_dir",
    "default_script",
    "import_corpus",
    "load_audio",
    "load_corpus",
    "repeat_phrase",
    "run_build",
    "run_import",
]

"""A built corpus as one picklable value, so workers on other machines play the same audio.

Ray workers may run on hosts that have no copy of the driver's corpus folder (or an
older one). The driver packs the folder once (``manifest.json`` and the WAVs it
lists, each checked against its sha256); Ray's object store carries the bundle to
every node; each node unpacks it once into a folder named after the manifest's digest
under its temp directory. The manifest holds every WAV's sha256, so its digest names
the whole corpus: two runs with the same corpus share the unpacked copy, a changed
corpus gets a new one, and a torn unpack is never used (the folder appears by an
atomic rename after every file was written and checked).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import secrets
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from harness.corpus.errors import CorpusError
from harness.corpus.manifest import MANIFEST_NAME, read_manifest

__all__ = ["CorpusBundle", "default_cache_root", "pack_corpus", "unpack_corpus"]


@dataclass(frozen=True, slots=True, kw_only=True)
class CorpusBundle:
    """A corpus folder's manifest and audio, in memory (about 12 MB for the built-in one)."""

    digest: str
    """sha256 of ``manifest.json``; through the per-file checksums it names every WAV too."""
    manifest: bytes
    files: tuple[tuple[str, bytes], ...]
    """(path relative to the corpus folder, as the manifest lists it; file content)."""

    @property
    def size(self) -> int:
        return len(self.manifest) + sum(len(data) for _, data in self.files)


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def pack_corpus(root: Path) -> CorpusBundle:
    """Read a built corpus folder; every WAV must match its checksum in the manifest."""
    manifest_path = root / MANIFEST_NAME
    manifest = read_manifest(manifest_path)  # validated: paths stay inside the folder
    raw = manifest_path.read_bytes()
    files: list[tuple[str, bytes]] = []
    for item in manifest.items:
        path = root / item.wav
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise CorpusError(f"{path}: cannot read corpus item {item.id!r}: {exc.strerror or exc}") from None
        if _sha256(data) != item.sha256:
            raise CorpusError(f"{path}: corpus item {item.id!r} does not match its checksum in {manifest_path}")
        files.append((item.wav, data))
    return CorpusBundle(digest=_sha256(raw), manifest=raw, files=tuple(files))


def default_cache_root() -> Path:
    """Where a worker node keeps unpacked corpora: ``<tempdir>/voice-harness-corpora``."""
    return Path(tempfile.gettempdir()) / "voice-harness-corpora"


def unpack_corpus(bundle: CorpusBundle, cache_root: Path | None = None) -> Path:
    """The bundle as a corpus folder on this host (unpacked once, then reused).

    Only the files the manifest lists are written, each checked against its sha256, so
    a bundle that was tampered with or damaged on the way is an error, not wrong audio.
    Safe when several workers on one node unpack the same bundle at once.
    """
    cache_root = cache_root or default_cache_root()
    if _sha256(bundle.manifest) != bundle.digest:
        raise CorpusError(f"corpus bundle {bundle.digest[:12]}: manifest does not match its digest")
    target = cache_root / bundle.digest
    if (target / MANIFEST_NAME).is_file():
        return target
    cache_root.mkdir(parents=True, exist_ok=True)
    tmp = cache_root / f".{bundle.digest}.{os.getpid()}.{secrets.token_hex(3)}.tmp"
    try:
        tmp.mkdir()
        (tmp / MANIFEST_NAME).write_bytes(bundle.manifest)
        manifest = read_manifest(tmp / MANIFEST_NAME)
        contents = dict(bundle.files)
        for item in manifest.items:
            data = contents.get(item.wav)
            if data is None or _sha256(data) != item.sha256:
                raise CorpusError(
                    f"corpus bundle {bundle.digest[:12]}: item {item.id!r} ({item.wav}) is missing "
                    "or does not match its checksum"
                )
            path = tmp / item.wav
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)
        try:
            tmp.rename(target)
        except OSError:
            if not (target / MANIFEST_NAME).is_file():  # not another worker winning the race
                raise
    finally:
        with contextlib.suppress(OSError):
            shutil.rmtree(tmp)
    return target

"""A loaded corpus: utterances by id, and their audio."""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np
import numpy.typing as npt
import soundfile

from harness.corpus.errors import CorpusError, MissingCorpusItem
from harness.corpus.manifest import MANIFEST_NAME, Manifest, ManifestItem, read_manifest
from harness.records import Utterance

_REPEAT_PREFIX = re.compile(r"^\s*repeat after me\s*[:,]\s*", re.IGNORECASE)


class Corpus:
    """Utterances of one corpus folder, looked up by id."""

    __slots__ = ("_by_id", "input_hash", "kind", "name", "root")

    def __init__(
        self,
        root: Path,
        utterances: Sequence[Utterance],
        *,
        name: str = "",
        kind: str = "",
        input_hash: str = "",
    ) -> None:
        self.root = root
        self.name = name or root.name
        self.kind = kind
        self.input_hash = input_hash
        self._by_id = {u.id: u for u in utterances}

    @property
    def ids(self) -> tuple[str, ...]:
        return tuple(self._by_id)

    @property
    def utterances(self) -> tuple[Utterance, ...]:
        return tuple(self._by_id.values())

    def get(self, item_id: str) -> Utterance:
        try:
            return self._by_id[item_id]
        except KeyError:
            raise MissingCorpusItem(item_id, self.root) from None

    def with_tag(self, tag: str) -> tuple[Utterance, ...]:
        return tuple(u for u in self._by_id.values() if tag in u.tags)

    def __contains__(self, item_id: object) -> bool:
        return item_id in self._by_id

    def __iter__(self) -> Iterator[Utterance]:
        return iter(self._by_id.values())

    def __len__(self) -> int:
        return len(self._by_id)

    def __repr__(self) -> str:
        return f"Corpus(name={self.name!r}, root={str(self.root)!r}, items={len(self)})"


def load_corpus(path: Path) -> Corpus:
    """Read ``<path>/manifest.json`` (or the manifest file itself) into a ``Corpus``.

    Raises ``ManifestError`` naming the file for a missing, corrupt or inconsistent
    manifest, and ``CorpusError`` if a listed WAV is missing.
    """
    manifest_path = path if path.name == MANIFEST_NAME and path.is_file() else path / MANIFEST_NAME
    manifest = read_manifest(manifest_path)
    return corpus_from_manifest(manifest_path.parent, manifest)


def corpus_from_manifest(root: Path, manifest: Manifest) -> Corpus:
    root = root.resolve()
    utterances = tuple(_utterance(root, item) for item in manifest.items)
    missing = [u.wav for u in utterances if not u.wav.is_file()]
    if missing:
        shown = ", ".join(str(p) for p in missing[:3])
        more = f" and {len(missing) - 3} more" if len(missing) > 3 else ""
        raise CorpusError(
            f"{root / MANIFEST_NAME}: {len(missing)} audio file(s) listed but missing: {shown}{more}"
        )
    return Corpus(
        root, utterances, name=manifest.name, kind=manifest.kind, input_hash=manifest.input_hash
    )


def _utterance(root: Path, item: ManifestItem) -> Utterance:
    return Utterance(
        id=item.id,
        text=item.text,
        wav=root / item.wav,
        sample_rate=item.sample_rate,
        num_samples=item.num_samples,
        speech_start=item.speech_start,
        speech_end=item.speech_end,
        voiced=item.voiced,
        tags=item.tags,
        speaker=item.speaker,
        sha256=item.sha256,
    )


def load_audio(utt: Utterance) -> npt.NDArray[np.float32]:
    """The utterance's samples: float32 mono in [-1, 1) at ``utt.sample_rate``.

    Checked against the manifest (rate, channels, length) so a swapped or truncated
    file is an error here, not a wrong latency later.
    """
    try:
        with soundfile.SoundFile(str(utt.wav)) as f:
            if f.samplerate != utt.sample_rate or f.channels != 1 or f.frames != utt.num_samples:
                raise CorpusError(
                    f"{utt.wav}: audio of corpus item {utt.id!r} does not match the manifest "
                    f"(file: {f.samplerate} Hz, {f.channels} ch, {f.frames} samples; manifest: "
                    f"{utt.sample_rate} Hz, 1 ch, {utt.num_samples} samples)"
                )
            data = f.read(dtype="float32", always_2d=False)
    except (soundfile.LibsndfileError, OSError) as exc:
        raise CorpusError(
            f"{utt.wav}: cannot read audio of corpus item {utt.id!r} ({exc})"
        ) from None
    return np.ascontiguousarray(data, dtype=np.float32)


def repeat_phrase(utt: Utterance) -> str | None:
    """For a "repeat after me: X" prompt, X (the exact reference of the agent's reply)."""
    if "repeat" not in utt.tags:
        return None
    match = _REPEAT_PREFIX.match(utt.text)
    return utt.text[match.end() :].strip() if match else None

"""Recipe: Debian's Asterisk core sounds as a real-speech corpus (one human speaker, 8 kHz).

The sounds (``asterisk-core-sounds-en-wav``) and their transcripts (one index file in
``asterisk-core-sounds-en``) are laid out differently from ``corpus import``'s folder of
wav + .txt pairs, so this stages that layout and hands it to the importer. Items whose
transcript is a bracketed description ("[this is a simple beep tone]") are tones, not
speech, and are left out.
"""

from __future__ import annotations

import gzip
import re
import shutil
from dataclasses import dataclass
from pathlib import Path

from harness.corpus.errors import CorpusImportError

SOUNDS_DIR = Path("/usr/share/asterisk/sounds/en")
INDEX_FILE = Path("/usr/share/doc/asterisk-core-sounds-en/core-sounds-en.txt.gz")
DEBIAN_PACKAGES = ("asterisk-core-sounds-en-wav", "asterisk-core-sounds-en")
_LINE = re.compile(r"^(?P<name>[A-Za-z0-9_/.-]+):\s*(?P<text>.+?)\s*$")


@dataclass(frozen=True, slots=True, kw_only=True)
class StagedItem:
    name: str
    text: str
    wav: Path


def read_index(index: Path) -> dict[str, str]:
    """Sound name -> transcript, from the (optionally gzipped) index; comments skipped."""
    opener = gzip.open if index.suffix == ".gz" else open
    try:
        with opener(index, "rt", encoding="utf-8", errors="replace") as handle:
            lines = handle.read().splitlines()
    except OSError as exc:
        raise CorpusImportError(f"{index}: cannot read the transcript index: {exc}") from None
    out: dict[str, str] = {}
    for line in lines:
        match = _LINE.match(line)
        if line.startswith(";") or match is None:
            continue
        text = match.group("text")
        if text.startswith("[") and text.endswith("]"):
            continue
        out[match.group("name")] = text
    return out


def stage(sounds: Path, index: Path, staging: Path, *, limit: int | None = None) -> list[StagedItem]:
    """Copy transcribed sounds into ``staging`` as name.wav + name.txt pairs."""
    if not sounds.is_dir() or not index.is_file():
        raise CorpusImportError(
            f"Asterisk sounds not found ({sounds}, {index}); install the Debian packages "
            f"{' and '.join(DEBIAN_PACKAGES)}"
        )
    transcripts = read_index(index)
    staging.mkdir(parents=True, exist_ok=True)
    items: list[StagedItem] = []
    for name in sorted(transcripts):
        wav = sounds / f"{name}.wav"
        if "/" in name or not wav.is_file():
            continue
        target = staging / f"{name}.wav"
        shutil.copyfile(wav, target)
        (staging / f"{name}.txt").write_text(transcripts[name] + "\n", encoding="utf-8")
        items.append(StagedItem(name=name, text=transcripts[name], wav=target))
        if limit is not None and len(items) >= limit:
            break
    if not items:
        raise CorpusImportError(f"{sounds}: no transcribed sound found")
    return items

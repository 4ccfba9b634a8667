"""Import real recordings: a folder of audio files with same-named ``.txt`` transcripts.

Recordings keep their own timing and level (no trimming, no normalising): only the rate
and channel count change, to the corpus format, and speech bounds are measured on the
result exactly as for built items.
"""

from __future__ import annotations

import hashlib
import re
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import soundfile

from harness.corpus.audio import (
    CORPUS_RATE,
    dequantize,
    quantize,
    resample,
    sha256_file,
    to_mono,
    write_wav,
)
from harness.corpus.bounds import (
    CORPUS_SEGMENTATION,
    measure_segments,
    segmentation_params_dict,
    voiced_runs,
)
from harness.corpus.build import AUDIO_DIR, ProgressFn
from harness.corpus.cache import (
    build_lock,
    cached_corpus,
    check_inside,
    common_inputs,
    ensure_audio_dir,
    ensure_writable_dir,
    input_hash,
    owned_files,
    remove_stale_audio,
)
from harness.corpus.errors import CorpusImportError
from harness.corpus.manifest import MANIFEST_NAME, Manifest, ManifestItem, write_manifest
from harness.corpus.model import Corpus, corpus_from_manifest
from harness.safe_io import read_regular_text

AUDIO_SUFFIXES = (".wav", ".flac")
MIN_RATE, MAX_RATE = 8_000, 384_000
MAX_ITEM_SECONDS = 600
"""A corpus item is an utterance; ten minutes is far more than any one turn."""
MAX_TRANSCRIPT_BYTES = 100_000
"""A transcript is a sentence or a paragraph; a bigger .txt is the wrong file."""
IMPORTED_TAG = "imported"
_MAX_PROBLEMS_SHOWN = 10


@dataclass(frozen=True, slots=True, kw_only=True)
class ImportOutcome:
    corpus: Corpus
    cached: bool
    seconds: float
    imported: int


@dataclass(frozen=True, slots=True, kw_only=True)
class _Source:
    id: str
    audio: Path
    text: str


def import_corpus(
    src_dir: Path,
    out_dir: Path,
    *,
    speaker: str = "",
    tags: Sequence[str] = (),
    name: str = "",
) -> Corpus:
    return run_import(src_dir, out_dir, speaker=speaker, tags=tags, name=name).corpus


def run_import(
    src_dir: Path,
    out_dir: Path,
    *,
    speaker: str = "",
    tags: Sequence[str] = (),
    name: str = "",
    force: bool = False,
    progress: ProgressFn | None = None,
) -> ImportOutcome:
    started = time.perf_counter()
    if not src_dir.is_dir():
        raise CorpusImportError(f"{src_dir}: not a folder")
    sources = _collect(src_dir, exclude=out_dir)
    all_tags = tuple(dict.fromkeys((IMPORTED_TAG, *tags)))
    name = name or _safe_id(src_dir.resolve().name) or "imported"
    speaker = speaker or name
    inputs = common_inputs()
    inputs["sources_sha256"] = _sources_digest(sources)
    inputs["speaker"] = speaker
    inputs["tags"] = ",".join(all_tags)
    inputs["name"] = name
    inputs["sample_rate"] = CORPUS_RATE
    expected = input_hash(inputs)
    ensure_writable_dir(out_dir)
    with build_lock(out_dir):
        if not force:
            hit = cached_corpus(out_dir, expected)
            if hit is not None:
                return ImportOutcome(
                    corpus=hit, cached=True, seconds=time.perf_counter() - started, imported=0
                )
        ensure_audio_dir(out_dir, out_dir / AUDIO_DIR)
        owned = owned_files(out_dir)
        items = _convert(src_dir, sources, out_dir, speaker, all_tags, progress, owned)
        manifest = Manifest(
            schema_version=1,
            name=name,
            kind="imported",
            source=str(src_dir),
            input_hash=expected,
            inputs=inputs,
            segmentation=segmentation_params_dict(CORPUS_SEGMENTATION),
            sample_rate=CORPUS_RATE,
            items=items,
        )
        write_manifest(out_dir / MANIFEST_NAME, manifest)
        corpus = corpus_from_manifest(out_dir, manifest)
    return ImportOutcome(
        corpus=corpus, cached=False, seconds=time.perf_counter() - started, imported=len(items)
    )


def _collect(src_dir: Path, *, exclude: Path) -> list[_Source]:
    excluded = exclude.resolve()
    problems: list[str] = []
    sources: list[_Source] = []
    ids: dict[str, Path] = {}
    for audio in sorted(src_dir.rglob("*")):
        rel = audio.relative_to(src_dir)
        if (
            audio.suffix.lower() not in AUDIO_SUFFIXES
            or not audio.is_file()
            or any(part.startswith(".") for part in rel.parts)
            or audio.resolve().is_relative_to(excluded)
        ):
            continue
        transcript = audio.with_suffix(".txt")
        try:
            text = " ".join(read_regular_text(transcript, max_bytes=MAX_TRANSCRIPT_BYTES).split())
        except FileNotFoundError:
            problems.append(f"{audio}: no transcript (expected {transcript.name})")
            continue
        except (OSError, UnicodeDecodeError) as exc:
            problems.append(
                f"{transcript}: cannot read transcript ({getattr(exc, 'strerror', None) or exc})"
            )
            continue
        if not text:
            problems.append(f"{transcript}: transcript is empty")
            continue
        item_id = "/".join(_safe_id(part) or "_" for part in rel.with_suffix("").parts)
        if item_id in ids:
            problems.append(f"{audio}: id {item_id!r} is also used by {ids[item_id]}")
            continue
        ids[item_id] = audio
        sources.append(_Source(id=item_id, audio=audio, text=text))
    _raise_problems(src_dir, problems)
    if not sources:
        raise CorpusImportError(
            f"{src_dir}: no recordings found (looked for {', '.join(AUDIO_SUFFIXES)} files "
            "with a .txt transcript beside each)"
        )
    return sources


def _convert(
    src_dir: Path,
    sources: Sequence[_Source],
    out_dir: Path,
    speaker: str,
    tags: tuple[str, ...],
    progress: ProgressFn | None,
    owned: set[Path],
) -> tuple[ManifestItem, ...]:
    problems: list[str] = []
    items: list[ManifestItem] = []
    written: set[Path] = set()
    for index, source in enumerate(sources):
        if progress is not None:
            progress(index, len(sources), source.id)
        try:
            info = soundfile.info(str(source.audio))
            if not MIN_RATE <= info.samplerate <= MAX_RATE or info.frames > MAX_ITEM_SECONDS * info.samplerate:
                problems.append(
                    f"{source.audio}: {info.frames} samples at {info.samplerate} Hz is not a "
                    f"recording to import (rate {MIN_RATE}..{MAX_RATE} Hz, at most {MAX_ITEM_SECONDS} s)"
                )
                continue
            data, rate = soundfile.read(str(source.audio), dtype="float32", always_2d=True)
        except (soundfile.LibsndfileError, OSError, RuntimeError) as exc:
            problems.append(f"{source.audio}: cannot read audio ({exc})")
            continue
        if len(data) == 0:
            problems.append(f"{source.audio}: audio is empty")
            continue
        pcm = quantize(resample(to_mono(data), int(rate), CORPUS_RATE))
        segments = measure_segments(dequantize(pcm), CORPUS_RATE)
        if not segments:
            problems.append(f"{source.audio}: the segmenter found no speech")
            continue
        rel = f"{AUDIO_DIR}/{source.id}.wav"
        path = check_inside(out_dir, out_dir / rel)
        write_wav(path, pcm)
        written.add(path.resolve())
        voiced = voiced_runs(segments)
        items.append(
            ManifestItem(
                id=source.id,
                text=source.text,
                wav=rel,
                sample_rate=CORPUS_RATE,
                num_samples=len(pcm),
                speech_start=voiced[0][0],
                speech_end=voiced[-1][1],
                voiced=voiced,
                tags=tags,
                speaker=speaker,
                sha256=sha256_file(path),
            )
        )
    _raise_problems(src_dir, problems)
    remove_stale_audio(out_dir, owned, written)
    return tuple(items)


def _sources_digest(sources: Sequence[_Source]) -> str:
    digest = hashlib.sha256()
    for source in sources:
        digest.update(source.id.encode())
        digest.update(b"\0")
        digest.update(sha256_file(source.audio).encode())
        digest.update(source.text.encode())
        digest.update(b"\0")
    return digest.hexdigest()


def _safe_id(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.\-]+", "_", text).strip("._")


def _raise_problems(where: Path, problems: list[str]) -> None:
    if not problems:
        return
    shown = "\n  ".join(problems[:_MAX_PROBLEMS_SHOWN])
    more = len(problems) - _MAX_PROBLEMS_SHOWN
    tail = f"\n  ... and {more} more" if more > 0 else ""
    raise CorpusImportError(
        f"{where}: {len(problems)} problem(s) importing recordings:\n  {shown}{tail}"
    )

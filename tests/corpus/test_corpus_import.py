"""Importing a folder of recordings: resampled to 48 kHz mono, bounds measured, cached."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
import soundfile

import harness.corpus.importer as importer_module
from harness.corpus.errors import CorpusError, CorpusImportError
from harness.corpus.importer import run_import
from harness.corpus.model import load_audio, load_corpus

BOUND_TOLERANCE_MS = 3.0
"""Resampling filters smear a hard edge by well under a millisecond; the detector refines
to the sample; 3 ms leaves room for both."""


def _burst(
    rate: int, *, lead_s: float, burst_s: float, tail_s: float, f0: float = 180.0
) -> np.ndarray:
    """Silence, a harmonic tone burst at about -10 dBFS (5 ms ramps), silence."""
    n = round(burst_s * rate)
    t = np.arange(n) / rate
    tone = sum(np.sin(2 * np.pi * f0 * k * t) / k for k in range(1, 6)) * 0.2
    ramp = min(round(0.005 * rate), n // 2)
    window = np.ones(n)
    window[:ramp] = np.linspace(0, 1, ramp)
    window[-ramp:] = np.linspace(1, 0, ramp)
    return np.concatenate(
        [np.zeros(round(lead_s * rate)), tone * window, np.zeros(round(tail_s * rate))]
    ).astype(np.float32)


@pytest.fixture
def recordings(tmp_path: Path) -> Path:
    src = tmp_path / "recordings"
    (src / "sub").mkdir(parents=True)
    soundfile.write(
        str(src / "hello.wav"),
        _burst(16_000, lead_s=0.4, burst_s=0.6, tail_s=0.5),
        16_000,
        subtype="PCM_16",
    )
    (src / "hello.txt").write_text("  Hello,\n there. \n")
    stereo = _burst(44_100, lead_s=0.25, burst_s=0.3, tail_s=0.2)
    soundfile.write(str(src / "sub" / "two ch.wav"), np.stack([stereo, stereo], axis=1), 44_100)
    (src / "sub" / "two ch.txt").write_text("Two channels")
    (src / "notes.md").write_text("not audio, ignored")
    return src


def test_import_resamples_and_measures(recordings: Path, tmp_path: Path) -> None:
    outcome = run_import(recordings, tmp_path / "out", speaker="alice", tags=("real",))
    corpus = outcome.corpus
    assert not outcome.cached
    assert corpus.ids == ("hello", "sub/two_ch")
    assert corpus.kind == "imported"
    expected = {"hello": (1.5, 0.4, 1.0), "sub/two_ch": (0.75, 0.25, 0.55)}
    for utt in corpus:
        total_s, start_s, end_s = expected[utt.id]
        assert utt.sample_rate == 48_000
        assert utt.num_samples == round(total_s * 48_000)
        assert soundfile.info(str(utt.wav)).samplerate == 48_000
        assert soundfile.info(str(utt.wav)).channels == 1
        assert abs(utt.speech_start / 48 - start_s * 1000) <= BOUND_TOLERANCE_MS, utt.id
        assert abs(utt.speech_end / 48 - end_s * 1000) <= BOUND_TOLERANCE_MS, utt.id
        assert utt.tags == ("imported", "real")
        assert utt.speaker == "alice"
        assert load_audio(utt).shape == (utt.num_samples,)
    assert corpus.get("hello").text == "Hello, there."  # whitespace normalised
    assert load_corpus(tmp_path / "out").ids == corpus.ids


def test_second_import_is_cached(
    recordings: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "out"
    first = run_import(recordings, out)
    assert first.corpus.name == "recordings" and first.corpus.get("hello").speaker == "recordings"

    def no_conversion(*args: object, **kwargs: object) -> object:
        raise AssertionError("a cache hit must not convert audio")

    monkeypatch.setattr(importer_module, "_convert", no_conversion)
    second = run_import(recordings, out)
    assert second.cached and second.imported == 0
    assert [u.sha256 for u in second.corpus] == [u.sha256 for u in first.corpus]


def test_changed_transcript_reimports(recordings: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    run_import(recordings, out)
    (recordings / "hello.txt").write_text("Hello again.")
    outcome = run_import(recordings, out)
    assert not outcome.cached
    assert outcome.corpus.get("hello").text == "Hello again."


def test_output_inside_the_source_folder_is_not_imported_again(recordings: Path) -> None:
    out = recordings / "corpus"
    run_import(recordings, out)
    assert run_import(recordings, out, force=True).corpus.ids == ("hello", "sub/two_ch")


def test_missing_and_empty_transcripts_are_listed(recordings: Path, tmp_path: Path) -> None:
    (recordings / "hello.txt").unlink()
    (recordings / "sub" / "two ch.txt").write_text("   \n")
    with pytest.raises(CorpusImportError) as caught:
        run_import(recordings, tmp_path / "out")
    message = str(caught.value)
    assert "2 problem(s)" in message
    assert "hello.wav: no transcript (expected hello.txt)" in message
    assert "two ch.txt: transcript is empty" in message


def test_unreadable_audio_and_silence(recordings: Path, tmp_path: Path) -> None:
    (recordings / "broken.wav").write_bytes(b"not a wav file")
    (recordings / "broken.txt").write_text("broken")
    soundfile.write(str(recordings / "quiet.wav"), np.zeros(16_000, dtype=np.float32), 16_000)
    (recordings / "quiet.txt").write_text("nothing")
    with pytest.raises(CorpusImportError) as caught:
        run_import(recordings, tmp_path / "out")
    message = str(caught.value)
    assert "broken.wav: cannot read audio" in message
    assert "quiet.wav: the segmenter found no speech" in message
    assert not (tmp_path / "out" / "manifest.json").exists()


def test_bad_source_folders(tmp_path: Path) -> None:
    with pytest.raises(CorpusImportError, match="not a folder"):
        run_import(tmp_path / "absent", tmp_path / "out")
    (tmp_path / "empty").mkdir()
    with pytest.raises(CorpusImportError, match="no recordings found"):
        run_import(tmp_path / "empty", tmp_path / "out")


# ------------------------------------------------- owning only what was created


def _foreign_wavs(folder: Path) -> dict[Path, bytes]:
    """WAVs the harness did not make, as a user might keep them beside a corpus."""
    (folder / "mine").mkdir(parents=True, exist_ok=True)
    files = {folder / "keep.wav": b"RIFF-user-1", folder / "mine" / "take 2.wav": b"RIFF-user-2"}
    for path, data in files.items():
        path.write_bytes(data)
    return files


def test_import_never_deletes_wavs_it_did_not_create(recordings: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    foreign = _foreign_wavs(out / "audio")
    run_import(recordings, out)
    # A re-import without one item removes that item's WAV (the corpus made it) and nothing else.
    (recordings / "sub" / "two ch.wav").unlink()
    outcome = run_import(recordings, out)
    assert outcome.corpus.ids == ("hello",)
    assert not (out / "audio" / "sub" / "two_ch.wav").exists()
    assert {p: p.read_bytes() for p in foreign} == foreign


def test_import_does_not_follow_a_symlink_out_of_the_output(recordings: Path, tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere"
    foreign = _foreign_wavs(elsewhere)
    (elsewhere / "hello.wav").write_bytes(b"RIFF-user-hello")  # same name as an item
    foreign[elsewhere / "hello.wav"] = b"RIFF-user-hello"
    out = tmp_path / "out"
    out.mkdir()
    (out / "audio").symlink_to(elsewhere)
    with pytest.raises(CorpusError, match="leads out of"):
        run_import(recordings, out)
    assert {p: p.read_bytes() for p in foreign} == foreign
    assert sorted(p.name for p in elsewhere.rglob("*")) == ["hello.wav", "keep.wav", "mine", "take 2.wav"]


def test_a_manifest_naming_files_outside_is_not_obeyed(recordings: Path, tmp_path: Path) -> None:
    """A hand-edited manifest can list any path: stale-file removal stays inside the output."""
    out = tmp_path / "out"
    run_import(recordings, out)
    victim = tmp_path / "victim.wav"
    victim.write_bytes(b"RIFF-victim")
    manifest = (out / "manifest.json").read_text()
    (out / "audio" / "link").symlink_to(tmp_path)
    (out / "manifest.json").write_text(manifest.replace('"audio/hello.wav"', '"audio/link/victim.wav"'))
    run_import(recordings, out, force=True)
    assert victim.read_bytes() == b"RIFF-victim"


def test_a_fifo_transcript_is_a_problem_not_a_hang(recordings: Path, tmp_path: Path) -> None:
    (recordings / "hello.txt").unlink()
    os.mkfifo(recordings / "hello.txt")
    with pytest.raises(CorpusImportError, match=r"hello.txt: cannot read transcript \(is a FIFO"):
        run_import(recordings, tmp_path / "out")


def test_audio_declaring_an_absurd_length_is_refused(recordings: Path, tmp_path: Path) -> None:
    """1 Hz x 300,000 samples would be resampled to 14.4 billion samples (57 GB)."""
    soundfile.write(str(recordings / "slow.wav"), np.zeros(300_000, np.int16), 1)
    (recordings / "slow.txt").write_text("slow")
    with pytest.raises(CorpusImportError, match=r"slow.wav: 300000 samples at 1 Hz is not a recording"):
        run_import(recordings, tmp_path / "out")


@pytest.mark.timeout(60)
def test_a_fifo_in_place_of_a_corpus_wav_is_rebuilt_not_waited_on(recordings: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    run_import(recordings, out)
    (out / "audio" / "hello.wav").unlink()
    os.mkfifo(out / "audio" / "hello.wav")  # the cache check hashes every WAV: it must not block
    outcome = run_import(recordings, out)
    assert not outcome.cached and (out / "audio" / "hello.wav").is_file()

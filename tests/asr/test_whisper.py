"""The ASR wrapper with the bundled Whisper tiny.en on corpus speech whose text is known."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile

from harness.asr import AsrError, Transcriber, get_transcriber, wer
from harness.corpus.model import Corpus


def test_default_model_hears_corpus_items_at_any_rate(corpus: Corpus) -> None:
    tr = get_transcriber()
    assert get_transcriber() is tr  # one model per process
    utt = corpus.get("rep_meeting")
    audio, sr = soundfile.read(utt.wav, dtype="float32")
    assert wer(utt.text, tr.transcribe(audio, sr)) <= 0.1
    import soxr

    audio8k = soxr.resample(audio, sr, 8000).astype(np.float32)
    assert wer(utt.text, tr.transcribe(audio8k, 8000)) <= 0.2  # telephone band, measured 0


def test_silence_and_bad_input() -> None:
    tr = get_transcriber()
    assert tr.transcribe(np.zeros(16000, np.float32), 16000) == ""
    assert tr.transcribe(np.zeros(0, np.float32), 48000) == ""
    with pytest.raises(ValueError, match="mono"):
        tr.transcribe(np.zeros((2, 100), np.float32), 16000)
    with pytest.raises(ValueError, match="sample_rate"):
        tr.transcribe(np.ones(100, np.float32), 0)


def test_unknown_model_folder_is_a_clear_error(tmp_path: object) -> None:
    with pytest.raises(AsrError, match="cannot load ASR model"):
        Transcriber(str(tmp_path))

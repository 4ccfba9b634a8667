"""Quality family on offline calls whose degradation the test chose.

Ground truth: the reply is the caller's own voiced span (echo), so a clean copy must
score near PESQ's ceiling (>= 4.2 WB; the P.862.2 maximum is 4.64), added noise must
lower it, and silence on either side must give the named reason instead of a pesq
exception.
"""

from __future__ import annotations

import numpy as np
import pytest
from echo_synth import SR, synth_call, voiced

from harness.corpus.model import Corpus
from harness.metrics.quality import (
    DNSMOS_BAK,
    DNSMOS_OVRL,
    NO_RECEIVED_SPEECH,
    NO_REFERENCE_SPEECH,
    PESQ_NB,
    PESQ_WB,
    STOI,
    align_to_reference,
    dnsmos_scores,
)
from harness.records import Expectation, Measurement
from harness.scoring import score_call

NONE = Expectation()


def _by(ms: tuple[Measurement, ...], metric: str) -> list[Measurement]:
    return [m for m in ms if m.metric == metric]


def test_alignment_recovers_a_known_shift(corpus: Corpus) -> None:
    ref = voiced(corpus, "rep_fox")
    for shift in (0, 4_800, 23_000):  # 0, 100, 479 ms of leading silence
        deg = np.concatenate([np.zeros(shift, np.float32), ref, np.zeros(2_000, np.float32)])
        aligned = align_to_reference(ref, deg, SR)
        # coarse alignment at 8 kHz: within one 8 kHz sample (6 samples at 48 kHz)
        lag = int(np.argmax(np.correlate(aligned[:20_000], ref[:20_000], "full"))) - 19_999
        assert abs(lag) <= 6, (shift, lag)


def test_clean_echo_scores_near_the_ceiling_and_noise_lowers_it(corpus: Corpus) -> None:
    rng = np.random.default_rng(7)
    clean = voiced(corpus, "rep_fox")
    noisy = (clean + 0.03 * rng.standard_normal(clean.size)).astype(np.float32)
    call = synth_call(corpus, [("rep_fox", clean, NONE), ("rep_fox", noisy, NONE)])
    ms = score_call(call.recording, call.scenario, call.received, caller_audio=call.caller).measurements
    wb = {m.turn: m.value for m in _by(ms, PESQ_WB)}
    nb = {m.turn: m.value for m in _by(ms, PESQ_NB)}
    st = {m.turn: m.value for m in _by(ms, STOI)}
    assert wb[0] is not None and wb[0] >= 4.2
    assert nb[0] is not None and nb[0] >= 4.2
    assert st[0] is not None and st[0] >= 0.99
    assert wb[1] is not None and wb[1] < wb[0] - 1.0
    assert st[1] is not None and st[1] < st[0]


def test_silent_reply_and_silent_reference_give_reasons_not_errors(corpus: Corpus) -> None:
    clean = voiced(corpus, "rep_fox")
    call = synth_call(corpus, [("rep_fox", None, NONE), ("rep_meeting", clean, NONE)])
    silent_caller = np.zeros_like(call.caller)
    ms = score_call(call.recording, call.scenario, call.received, caller_audio=call.caller).measurements
    for metric in (PESQ_WB, PESQ_NB, STOI):
        turn0 = [m for m in _by(ms, metric) if m.turn == 0]
        assert len(turn0) == 1 and turn0[0].value is None and turn0[0].reason == NO_RECEIVED_SPEECH
    ms = score_call(call.recording, call.scenario, call.received, caller_audio=silent_caller).measurements
    turn1 = [m for m in _by(ms, PESQ_WB) if m.turn == 1]
    assert len(turn1) == 1 and turn1[0].value is None and turn1[0].reason == NO_REFERENCE_SPEECH


def test_all_silent_received_track_is_not_a_crash(corpus: Corpus) -> None:
    call = synth_call(corpus, [("rep_fox", None, NONE)])
    ms = score_call(call.recording, call.scenario, call.received, caller_audio=call.caller).measurements
    assert [m.reason for m in _by(ms, PESQ_WB)] == [NO_RECEIVED_SPEECH]


def test_no_quality_numbers_without_the_echo_or_quality_tag(corpus: Corpus) -> None:
    call = synth_call(corpus, [("rep_fox", voiced(corpus, "rep_fox"), NONE)], tags=())
    ms = score_call(call.recording, call.scenario, call.received, caller_audio=call.caller).measurements
    assert not [m for m in ms if m.metric in (PESQ_WB, PESQ_NB, STOI, DNSMOS_OVRL)]


def test_dnsmos_where_no_reference_exists(corpus: Corpus) -> None:
    rng = np.random.default_rng(3)
    clean = voiced(corpus, "ans_sure")
    noisy = (clean + 0.05 * rng.standard_normal(clean.size)).astype(np.float32)
    call = synth_call(corpus, [("q_name", clean, NONE), ("q_time", noisy, NONE), ("q_name", None, NONE)],
                      tags=("quality",))
    ms = score_call(call.recording, call.scenario, call.received, caller_audio=call.caller).measurements
    assert not _by(ms, PESQ_WB)
    bak = {m.turn: m for m in _by(ms, DNSMOS_BAK)}
    assert bak[0].value is not None and bak[1].value is not None
    # clean TTS has no background (BAK ~4.2 measured); white noise at -26 dBFS drops it by > 1
    assert bak[0].value >= 3.8 and bak[1].value < bak[0].value - 1.0
    assert bak[2].value is None and bak[2].reason == NO_RECEIVED_SPEECH


def test_dnsmos_of_silence_is_none() -> None:
    assert dnsmos_scores(np.zeros(SR, np.float32), SR) is None


@pytest.mark.parametrize("seconds", [0.5, 20.0])
def test_dnsmos_handles_short_and_long_inputs(corpus: Corpus, seconds: float) -> None:
    clip = voiced(corpus, "ans_weather_long")
    n = int(seconds * SR)
    audio = np.resize(clip, n).astype(np.float32)
    scores = dnsmos_scores(audio, SR)
    assert scores is not None and all(1.0 <= s <= 5.0 for s in scores)

"""The tts-mode brain on the corpus's own questions: known questions, known answers.

The rules are the ground truth: each question item must get its scripted answer and
that answer's keyword must survive TTS -> ASR (what the harness's accuracy check does);
the wrong-answer brain must fail the same check.
"""

from __future__ import annotations

import numpy as np
import pytest
import soundfile

from harness.agent.cascade import DEFAULT_RULES, FALLBACK, CascadeBrain, Rule, answer_for
from harness.asr import check_contains, get_transcriber, wer
from harness.corpus.model import Corpus, repeat_phrase

KEYWORDS = {
    "q_capital_france": ("Paris",),
    "q_two_plus_two": ("four",),
    "q_days_in_week": ("seven",),
    "q_name": ("Joe",),
    "q_order_status": ("on its way",),
}


@pytest.fixture(scope="module")
def brain() -> CascadeBrain:
    return CascadeBrain(warm=False)


@pytest.fixture(scope="module")
def wrong() -> CascadeBrain:
    return CascadeBrain(wrong_answers=True, warm=False)


def test_rules_cover_every_corpus_question_and_command(corpus: Corpus) -> None:
    for utt in (*corpus.with_tag("question"), *corpus.with_tag("command")):
        assert answer_for(utt.text) != FALLBACK, utt.id
    assert answer_for("Repeat after me, the last train leaves at midnight.") == "The last train leaves at midnight."
    assert answer_for("What is 2 plus 2?") == "Two plus two is four."
    assert answer_for("Can you help me with my count?") == "Sure, I can help with your account."
    assert answer_for("blue elephants") == FALLBACK
    assert answer_for("", [Rule(keywords=("x",), answer="y")]) == FALLBACK


def _ask(brain: CascadeBrain, corpus: Corpus, item: str) -> tuple[str, str, np.ndarray]:
    audio, sr = soundfile.read(corpus.get(item).wav, dtype="float32")
    assert sr == 48_000
    return brain.respond(audio)


@pytest.mark.parametrize("item", sorted(KEYWORDS))
def test_brain_answers_questions_and_the_keyword_check_passes(
    brain: CascadeBrain, wrong: CascadeBrain, corpus: Corpus, item: str
) -> None:
    heard, answer, audio = _ask(brain, corpus, item)
    assert wer(corpus.get(item).text, heard) <= 0.25
    assert audio.dtype == np.float32 and audio.ndim == 1 and audio.size > 0.5 * 48_000
    assert np.abs(audio[:48]).max() > 1e-3  # starts on speech: no leading silence
    assert check_contains(get_transcriber().transcribe(audio, 48_000), KEYWORDS[item]).passed, answer
    if item in ("q_capital_france", "q_two_plus_two", "q_days_in_week"):
        _h, bad, bad_audio = _ask(wrong, corpus, item)
        assert bad != answer
        assert not check_contains(get_transcriber().transcribe(bad_audio, 48_000), KEYWORDS[item]).passed


def test_brain_repeats_the_phrase(brain: CascadeBrain, corpus: Corpus) -> None:
    utt = corpus.get("rep_library")
    phrase = repeat_phrase(utt)
    assert phrase is not None
    _heard, answer, audio = _ask(brain, corpus, "rep_library")
    assert wer(phrase, answer) == 0.0
    assert wer(phrase, get_transcriber().transcribe(audio, 48_000)) <= 0.1


def test_answers_are_cached(brain: CascadeBrain) -> None:
    a = brain.speak(DEFAULT_RULES[0].answer)
    assert brain.speak(DEFAULT_RULES[0].answer) is a

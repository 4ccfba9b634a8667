"""Normalisation and error rates on strings whose right answers are known by hand."""

from __future__ import annotations

import pytest

from harness.asr.text import cer, check_contains, normalize_text, number_to_words, wer


@pytest.mark.parametrize(
    ("n", "words"),
    [(0, "zero"), (7, "seven"), (15, "fifteen"), (20, "twenty"), (42, "forty two"),
     (100, "one hundred"), (1000, "one thousand"), (1984, "one thousand nine hundred eighty four"),
     (2_000_005, "two million five")],
)
def test_number_words(n: int, words: str) -> None:
    assert number_to_words(n) == words


@pytest.mark.parametrize(
    ("raw", "normal"),
    [
        ("Repeat after me, the meeting starts at 9 in the morning.",
         "repeat after me the meeting starts at nine in the morning"),
        ("What's 2 plus 2?", "what is two plus two"),
        ("Count from 1 to 5.", "count from one to five"),
        ("It's 9:30 a.m. on the 2nd.", "it is nine thirty a m on the second"),
        ("It opens at 7:00.", "it opens at seven"),
        ("1,000 miles", "one thousand miles"),
        ("uh-huh", "uh huh"),
        ("  Hello,   WORLD!  ", "hello world"),
    ],
)
def test_normalize(raw: str, normal: str) -> None:
    assert normalize_text(raw) == normal


def test_wer_and_cer_count_errors_after_normalisation() -> None:
    assert wer("The library closes at six today.", "the library closes at 6 today") == 0.0
    # one substitution in nine words
    assert wer("the rain in Spain stays mainly in the plain", "the rain in Spain stays mainly in the plane") == \
        pytest.approx(1 / 9)
    assert wer("two words", "") == 1.0
    assert cer("abc", "abd") == pytest.approx(1 / 3)
    with pytest.raises(ValueError, match="empty"):
        wer("?!", "anything")


def test_contains_keywords_as_whole_words_and_regexes() -> None:
    heard = "The capital of France is Paris. Two plus two is 4."
    result = check_contains(heard, ["paris", "France", "four", "re:capital\\s+of", "par", "re:london"])
    assert result.found == ("paris", "France", "four", "re:capital\\s+of")
    assert result.missing == ("par", "re:london")  # "par" is not a whole word
    assert not result.passed
    assert check_contains(heard, ["Paris"]).passed
    with pytest.raises(ValueError, match="bad regex"):
        check_contains(heard, ["re:("])

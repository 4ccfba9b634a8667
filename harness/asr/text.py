"""Text normalisation and error rates: how a transcript is compared with a reference.

ASR writes "9:00 a.m." where the script says "nine in the morning" and "What's" where it
says "what is"; comparing raw strings would charge the agent for the recogniser's
spelling habits. Both sides go through the same jiwer transforms (case, contractions,
punctuation, spaces) and digits are spelled out as words, so WER counts words heard
wrong, not formatting.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import jiwer
import regex

__all__ = [
    "ContainsResult",
    "cer",
    "check_contains",
    "normalize_text",
    "number_to_words",
    "wer",
]

_ONES = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven", "twelve", "thirteen", "fourteen", "fifteen", "sixteen", "seventeen", "eighteen", "nineteen"]
_TENS = ["_", "_", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety"]
_SCALES = ((1_000_000_000, "billion"), (1_000_000, "million"), (1_000, "thousand"), (100, "hundred"))
_ORDINALS = {
    "one": "first", "two": "second", "three": "third", "five": "fifth", "eight": "eighth",
    "nine": "ninth", "twelve": "twelfth",
}


def number_to_words(n: int) -> str:
    """``1984`` -> ``one thousand nine hundred eighty four`` (no "and", no hyphens)."""
    if n < 0:
        return "minus " + number_to_words(-n)
    if n < 20:
        return _ONES[n]
    if n < 100:
        tens, ones = divmod(n, 10)
        return _TENS[tens] + ("" if ones == 0 else " " + _ONES[ones])
    for value, name in _SCALES:
        if n >= value:
            head, rest = divmod(n, value)
            return f"{number_to_words(head)} {name}" + ("" if rest == 0 else " " + number_to_words(rest))
    raise AssertionError("unreachable")  # pragma: no cover


def _ordinal(n: int) -> str:
    words = number_to_words(n).split()
    last = words[-1]
    if last in _ORDINALS:
        words[-1] = _ORDINALS[last]
    elif last.endswith("y"):
        words[-1] = last[:-1] + "ieth"
    else:
        words[-1] = last + "th"
    return " ".join(words)


_TIME = re.compile(r"\b(\d{1,2}):(\d{2})\b")
_ORDINAL = re.compile(r"\b(\d+)(st|nd|rd|th)\b", re.IGNORECASE)
_NUMBER = re.compile(r"\b\d+(?:,\d{3})*\b")
_AMPM = re.compile(r"\b([ap])\.?\s?m\b\.?", re.IGNORECASE)


def _time(match: re.Match[str]) -> str:
    hours, minutes = int(match.group(1)), int(match.group(2))
    if minutes == 0:
        return number_to_words(hours)
    tail = f"oh {number_to_words(minutes)}" if minutes < 10 else number_to_words(minutes)
    return f"{number_to_words(hours)} {tail}"


def _spell_numbers(text: str) -> str:
    text = _TIME.sub(_time, text)
    text = _ORDINAL.sub(lambda m: _ordinal(int(m.group(1))), text)
    text = _NUMBER.sub(lambda m: number_to_words(int(m.group(0).replace(",", ""))), text)
    return _AMPM.sub(lambda m: f"{m.group(1).lower()} m", text)


_TRANSFORM = jiwer.Compose(
    [
        jiwer.ToLowerCase(),
        jiwer.ExpandCommonEnglishContractions(),
        jiwer.SubstituteRegexes({r"[-–—/]": " "}),
        jiwer.RemovePunctuation(),  # type: ignore[no-untyped-call]
        jiwer.RemoveMultipleSpaces(),
        jiwer.Strip(),
    ]
)


def normalize_text(text: str) -> str:
    """Lower case, contractions expanded, numbers spelled out, no punctuation, single spaces."""
    out = _TRANSFORM(_spell_numbers(text))
    assert isinstance(out, str)
    return out


def wer(reference: str, hypothesis: str) -> float:
    """Word error rate after normalisation; an empty reference is an error (nothing to score)."""
    ref, hyp = normalize_text(reference), normalize_text(hypothesis)
    if not ref:
        raise ValueError(f"reference text {reference!r} is empty after normalisation")
    return float(jiwer.wer(ref, hyp)) if hyp else 1.0


def cer(reference: str, hypothesis: str) -> float:
    """Character error rate after normalisation (spaces count as characters)."""
    ref, hyp = normalize_text(reference), normalize_text(hypothesis)
    if not ref:
        raise ValueError(f"reference text {reference!r} is empty after normalisation")
    return float(jiwer.cer(ref, hyp)) if hyp else 1.0


REGEX_TIMEOUT_S = 0.25
"""A ``re:`` pattern is scenario input: one that backtracks catastrophically
(``(a+)+$``) is stopped after this long and counted as not found."""


@dataclass(frozen=True, slots=True, kw_only=True)
class ContainsResult:
    """Which of the required keywords/regexes were found and which were missing."""

    found: tuple[str, ...]
    missing: tuple[str, ...]
    timed_out: tuple[str, ...] = ()
    """Regexes stopped after ``REGEX_TIMEOUT_S`` (also listed in ``missing``)."""

    @property
    def passed(self) -> bool:
        return not self.missing


def check_contains(transcript: str, required: tuple[str, ...] | list[str]) -> ContainsResult:
    """Each item must occur: a keyword as whole words after normalisation, or a ``re:`` regex.

    Regexes run on the raw transcript case-insensitively (a regex author may want
    punctuation or digits), with the ``regex`` engine and a time limit; keywords are
    normalised like the transcript, so ``"Paris"`` matches "paris." and ``"4"`` matches
    "four".
    """
    normal = f" {normalize_text(transcript)} "
    found: list[str] = []
    missing: list[str] = []
    timed_out: list[str] = []
    for item in required:
        if item.startswith("re:"):
            try:
                hit = regex.search(item[3:], transcript, regex.IGNORECASE,
                                   timeout=REGEX_TIMEOUT_S) is not None
            except regex.error as exc:
                raise ValueError(f"bad regex in contains: {item!r}: {exc}") from None
            except TimeoutError:
                hit = False
                timed_out.append(item)
        else:
            key = normalize_text(item)
            hit = bool(key) and f" {key} " in normal
        (found if hit else missing).append(item)
    return ContainsResult(found=tuple(found), missing=tuple(missing), timed_out=tuple(timed_out))

"""The ``tts`` mode's brain: a genuine cascade of local ASR -> simple rules -> Piper TTS.

It exists so the harness can be tested against an agent whose *content* is known: each
corpus question has one scripted answer, "repeat after me: X" answers X, and anything
else gets a fixed fallback. ``wrong_answers=True`` swaps in answers that are wrong on
purpose, which is how a test proves the keyword checks catch a bad agent.

Latency matters (the agent's reply delay is measured), so the fixed answers are
synthesised once at start-up (``warm_up``) and only repeated phrases and the heard
text's ASR cost time per turn.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import soxr
from numpy.typing import NDArray

from harness.analysis.segmentation import segment_speech
from harness.asr.text import normalize_text
from harness.asr.whisper import get_transcriber
from harness.corpus.script import VoiceSettings
from harness.corpus.tts import PiperSynthesizer
from harness.webrtc.audio import SAMPLE_RATE, Float32Audio

__all__ = ["DEFAULT_RULES", "FALLBACK", "WRONG_RULES", "CascadeBrain", "Rule", "answer_for"]


@dataclass(frozen=True, slots=True, kw_only=True)
class Rule:
    """Answer ``answer`` when every keyword phrase occurs (as whole words) in the heard text."""

    keywords: tuple[str, ...]
    answer: str


def _r(keywords: str, answer: str) -> Rule:
    return Rule(keywords=tuple(k.strip() for k in keywords.split("|")), answer=answer)


# Order matters: the first matching rule answers, so specific rules come before general ones.
DEFAULT_RULES: tuple[Rule, ...] = (
    _r("capital|france", "The capital of France is Paris."),
    _r("two plus two", "Two plus two is four."),
    _r("open tomorrow", "We open at nine tomorrow morning."),
    _r("what time", "It is ten o'clock."),
    _r("weather", "It is sunny and warm today."),
    _r("your name", "My name is Joe, the reference agent."),
    _r("how are you", "I am doing well, thank you."),
    _r("days|week", "There are seven days in a week."),
    _r("order", "Your order is on its way."),
    _r("timer", "Timer set for five minutes."),
    _r("table", "Your table for two at seven is booked."),
    _r("call|mother", "Calling your mother now."),
    _r("music", "Playing some music."),
    _r("lights", "Turning off the kitchen lights."),
    _r("joke", "Why did the chicken cross the road? To get to the other side."),
    _r("cancel", "Your appointment is cancelled."),
    _r("remind", "I will remind you to buy milk."),
    _r("help", "Sure, I can help with your account."),
    _r("count", "One, two, three, four, five."),
    _r("goodbye", "Goodbye, have a nice day."),
    _r("hear me", "Yes, I can hear you."),
    _r("hi", "Hi, how can I help?"),
    _r("hello", "Hello, how can I help?"),
)

WRONG_RULES: tuple[Rule, ...] = (
    _r("capital|france", "The capital of France is Berlin."),
    _r("two plus two", "Two plus two is five."),
    _r("days|week", "There are eight days in a week."),
    *DEFAULT_RULES,
)
"""A knowingly faulty agent: three factual answers are wrong, the rest as usual."""

FALLBACK = "Sorry, I did not understand that."
_REPEAT = re.compile(r"repeat after me\W*(.+)", re.IGNORECASE | re.DOTALL)


def answer_for(heard: str, rules: Sequence[Rule] = DEFAULT_RULES) -> str:
    """The answer text for what was heard: a repeated phrase, a rule's answer or the fallback."""
    repeat = _REPEAT.search(heard)
    if repeat:
        phrase = repeat.group(1).strip().rstrip(".!?,;: ")
        if phrase:
            return phrase[0].upper() + phrase[1:] + "."
    words = f" {normalize_text(heard)} "
    for rule in rules:
        if all(f" {normalize_text(k)} " in words for k in rule.keywords):
            return rule.answer
    return FALLBACK


class CascadeBrain:
    """ASR -> rules -> TTS; one per agent process (models are loaded once and shared)."""

    def __init__(
        self,
        *,
        wrong_answers: bool = False,
        rules: Sequence[Rule] | None = None,
        asr_model: str | None = None,
        warm: bool = True,
    ) -> None:
        self.rules: tuple[Rule, ...] = tuple(rules) if rules is not None else (
            WRONG_RULES if wrong_answers else DEFAULT_RULES
        )
        self._asr = get_transcriber(asr_model)
        self._tts = PiperSynthesizer(VoiceSettings(backend="piper"))
        self._cache: dict[str, Float32Audio] = {}
        self._lock = threading.Lock()
        if warm:
            self.warm_up()

    def warm_up(self) -> None:
        """Synthesise every fixed answer now, so a turn only pays for ASR (and new phrases)."""
        for text in {*(r.answer for r in self.rules), FALLBACK}:
            self.speak(text)

    def speak(self, text: str) -> Float32Audio:
        """``text`` as 48 kHz float32 mono whose first sample is voiced (cached per text)."""
        with self._lock:
            cached = self._cache.get(text)
        if cached is not None:
            return cached
        audio, rate = self._tts.synthesize(text)
        x = np.asarray(soxr.resample(audio, rate, SAMPLE_RATE), dtype=np.float32)
        segments = segment_speech(x, SAMPLE_RATE)
        if segments:
            x = x[segments[0].start : segments[-1].end]
        x = np.ascontiguousarray(x, dtype=np.float32)
        with self._lock:
            self._cache[text] = x
        return x

    def respond(self, turn_audio_48k: NDArray[np.floating]) -> tuple[str, str, Float32Audio]:
        """(heard text, answer text, answer audio at 48 kHz starting on a voiced sample)."""
        heard = self._asr.transcribe(np.asarray(turn_audio_48k, dtype=np.float32), SAMPLE_RATE)
        answer = answer_for(heard, self.rules)
        return heard, answer, self.speak(answer)

"""The reference agent's tts mode is a genuine cascade, and content checks judge it.

Real calls: the caller asks the corpus questions; the agent transcribes them with the
bundled Whisper model, picks an answer by rule and speaks it with Piper. The accuracy
metrics (the harness's own ASR of the reply) must pass for the right answers and catch
the deliberately wrong ones.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from support import local_endpoint, run_calls

from harness.corpus.model import Corpus
from harness.records import EventKind
from harness.scenario.loader import load_scenario
from harness.scoring import score_call

pytestmark = [pytest.mark.network, pytest.mark.slow]

SUITE = Path(__file__).resolve().parents[2] / "suites" / "accuracy" / "tts_answers.yaml"


def test_tts_agent_answers_and_wrong_answers_are_caught(corpus: Corpus, start_agent) -> None:  # type: ignore[no-untyped-def]
    scenario = load_scenario(SUITE, corpus)
    right = start_agent("--mode", "tts")
    wrong = start_agent("--mode", "tts", "--wrong-answers")
    arts = run_calls(corpus, [(scenario, local_endpoint(right.url, "right")),
                              (scenario, local_endpoint(wrong.url, "wrong"))])
    texts = {u.id: u.text for u in corpus}
    verdicts = {}
    for art in arts:
        assert art.recording.failure is None, art.recording.failure
        result = score_call(art.recording, scenario, art.received_audio,
                            caller_audio=art.caller_audio, texts=texts)
        verdicts[art.recording.endpoint] = {
            (m.turn, m.metric): m.passed for m in result.measurements
            if m.metric in ("reply_contains", "reply_wer")
        }
        kinds = {e.kind for e in art.recording.events}
        assert EventKind.INPUT_TRANSCRIPT in kinds and EventKind.OUTPUT_TRANSCRIPT in kinds
    assert verdicts["right"] == {(0, "reply_contains"): True, (1, "reply_contains"): True,
                                 (2, "reply_contains"): True, (3, "reply_wer"): True}
    # Wrong rules: Berlin, five, eight. The repeat-after-me answer is still right.
    assert verdicts["wrong"] == {(0, "reply_contains"): False, (1, "reply_contains"): False,
                                 (2, "reply_contains"): False, (3, "reply_wer"): True}

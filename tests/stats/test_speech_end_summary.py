"""A run's caller-end line: the definition, the median effective level, the ends kept."""

from __future__ import annotations

from harness.records import CallerSpeechEnd
from harness.stats.speech_end import describe_speech_end, summarize_speech_ends


def end(effective: float | None, shift_ms: float = 0.0, *, level: float | None = None,
        kept: str = "") -> CallerSpeechEnd:
    return CallerSpeechEnd(step_index=0, utterance_id="u", detector_end_ns=5_000_000_000,
                           end_ns=5_000_000_000 + round(shift_ms * 1e6), effective_dbfs=effective,
                           level_dbfs=level, kept_because=kept)


def test_the_detector_definition_states_its_median_effective_level() -> None:
    summary = summarize_speech_ends(None, [end(-51.0), end(-64.0), end(-58.5), end(None)])
    assert (summary.effective_dbfs_p50, summary.effective_dbfs_min, summary.effective_dbfs_max) == (-58.5, -64.0, -51.0)
    assert summary.utterances == 4 and summary.shift_ms_p50 is None and summary.kept == 0
    assert describe_speech_end(summary) == (
        "caller speech ends: detector release (effective -58.5 dBFS median, -64..-51, 4 utterances)")


def test_a_level_states_its_shift_and_the_ends_it_could_not_move() -> None:
    ends = [end(-60.0, -20.0, level=-40.0), end(-62.0, -30.0, level=-40.0), end(-61.0, -25.0, level=-40.0),
            end(None, level=-40.0, kept="no caller audio")]
    summary = summarize_speech_ends(-40.0, ends)
    assert summary.shift_ms_p50 == -25.0  # the kept end is not a shift of 0
    assert summary.kept == 1 and summary.kept_because == ("no caller audio: 1",)
    text = describe_speech_end(summary)
    assert text.startswith("caller speech ends: last sample ≥ -40 dBFS (-25 ms median from the detector's end")
    assert text.endswith("detector end kept for 1 (no caller audio: 1)")


def test_no_utterances_still_states_the_definition() -> None:
    assert describe_speech_end(summarize_speech_ends(None, [])) == (
        "caller speech ends: detector release (no utterance scored)")

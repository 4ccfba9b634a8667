"""Content accuracy (docs/metrics.md, "Content accuracy").

Output side, per step that awaits a reply and has ``expect.exact`` or ``expect.contains``:
the reply's received audio is transcribed with the local ASR (``harness.asr``; Whisper
tiny.en by default) and compared after normalisation (case, punctuation, contractions,
numbers):

- ``reply_wer`` / ``reply_cer`` against ``exact``; ``reply_wer`` passes when it is at
  most ``max_wer`` (no verdict without ``max_wer``);
- ``reply_contains``: the fraction of ``contains`` items found (keywords as whole words
  after normalisation, ``re:`` items as case-insensitive regexes on the raw transcript);
  passes when all are found. A failing row's reason quotes what was heard.

Steps without such expectations are not transcribed (ASR is the costly part of
scoring), and backchannel steps never are: they are judged by timing.

Input side: each of the endpoint's own transcripts of the caller
(``EventKind.INPUT_TRANSCRIPT``) is matched to the latest utterance whose last voiced
sample precedes its arrival, and ``input_wer`` compares it with that utterance's corpus
text (``CallAudio.texts``); backchannels (step kind or corpus tag) are skipped, so are utterances with no text.
"""

from __future__ import annotations

from harness.asr.text import REGEX_TIMEOUT_S, cer, check_contains, wer
from harness.asr.whisper import AsrError, get_transcriber
from harness.metrics.base import check_same_call, measurement
from harness.metrics.replies import StepReply, reply_audio, step_replies
from harness.records import (
    CallAudio,
    CallRecording,
    EventKind,
    Measurement,
    Scenario,
    StepKind,
    Timeline,
)

__all__ = [
    "INPUT_WER",
    "REPLY_CER",
    "REPLY_CONTAINS",
    "REPLY_WER",
    "measure_accuracy",
]

REPLY_WER = "reply_wer"
REPLY_CER = "reply_cer"
REPLY_CONTAINS = "reply_contains"
INPUT_WER = "input_wer"
ASR_MARGIN_MS = 100.0
"""Audio kept either side of the detected reply so a soft first or last phoneme is heard."""
NO_RECEIVED_SPEECH = "no received speech"


def measure_accuracy(
    timeline: Timeline, scenario: Scenario, recording: CallRecording, audio: CallAudio | None
) -> tuple[Measurement, ...]:
    check_same_call(timeline, scenario, recording)
    out: list[Measurement] = []
    if audio is not None:
        for r in step_replies(timeline, scenario, recording):
            if r.step.expect.exact is not None or r.step.expect.contains:
                out += _reply(r, recording, audio)
        out += _input_transcripts(timeline, recording, audio)
    return tuple(out)


def _reply(r: StepReply, recording: CallRecording, audio: CallAudio) -> list[Measurement]:
    expect = r.step.expect
    metrics = ([REPLY_WER, REPLY_CER] if expect.exact is not None else []) + (
        [REPLY_CONTAINS] if expect.contains else []
    )

    def missing(reason: str) -> list[Measurement]:
        return [
            measurement(recording, turn=r.step.index, metric=m, value=None, unit="ratio",
                        passed=False, reason=reason)
            for m in metrics
        ]

    if r.reply is None:
        return missing(NO_RECEIVED_SPEECH)
    samples = reply_audio(recording, audio.received, r.reply, ASR_MARGIN_MS)
    try:
        heard = get_transcriber().transcribe(samples, recording.sample_rate)
    except AsrError as exc:
        return missing(str(exc))
    out: list[Measurement] = []
    if expect.exact is not None:
        w = wer(expect.exact, heard)
        passed = None if expect.max_wer is None else w <= expect.max_wer
        reason = None
        if passed is False:
            reason = f"WER {w:.2f} over {expect.max_wer:g}: heard {heard!r}, expected {expect.exact!r}"
        out.append(measurement(recording, turn=r.step.index, metric=REPLY_WER, value=w, unit="ratio",
                               passed=passed, reason=reason))
        out.append(measurement(recording, turn=r.step.index, metric=REPLY_CER,
                               value=cer(expect.exact, heard), unit="ratio"))
    if expect.contains:
        result = check_contains(heard, expect.contains)
        reason = None if result.passed else f"missing {list(result.missing)} in {heard!r}" + (
            f" (regex {list(result.timed_out)} stopped after {REGEX_TIMEOUT_S:g} s)" if result.timed_out else "")
        out.append(measurement(recording, turn=r.step.index, metric=REPLY_CONTAINS,
                               value=len(result.found) / len(expect.contains), unit="ratio",
                               passed=result.passed, reason=reason))
    return out


def _input_transcripts(timeline: Timeline, recording: CallRecording, audio: CallAudio) -> list[Measurement]:
    sent = sorted(timeline.caller_speech, key=lambda u: u.speech_end_ns)
    done: set[int] = set()
    out: list[Measurement] = []
    for event in sorted(timeline.events, key=lambda e: e.t_ns):
        if event.kind is not EventKind.INPUT_TRANSCRIPT:
            continue
        text = event.data.get("transcript")
        said = [u for u in sent if u.speech_end_ns <= event.t_ns]
        if not isinstance(text, str) or not said:
            continue
        utterance = said[-1]
        script = audio.texts.get(utterance.utterance_id, "")
        backchannel = utterance.kind is StepKind.BACKCHANNEL or "backchannel" in utterance.utterance_tags
        if backchannel or utterance.step_index in done or not script.strip():
            continue
        done.add(utterance.step_index)
        try:
            value = wer(script, text)
        except ValueError:
            continue  # script empty after normalisation: nothing to score
        out.append(measurement(recording, turn=utterance.step_index, metric=INPUT_WER, value=value,
                               unit="ratio", reason=None if value == 0 else f"endpoint heard {text!r}"))
    return out

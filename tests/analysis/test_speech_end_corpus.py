"""On the built-in corpus: the end at -40 dBFS comes before the detector's release.

The detector lets go where its end envelope falls below the stay level, at most
``max(floor + release_db, absolute_floor_dbfs)``; a synthesised corpus has a floor far
below that, so the release sits near -60 dBFS and every utterance's effective level is
below -40: the last sample at -40 dBFS must come first. Bounds asserted, each for a
reason rather than a measured figure:

- earlier: the shift is negative (> 0 ms), since the effective level is below -40;
- not before the utterance's last voiced run: every run of TTS speech rises above
  -40 dBFS (checked as a premise), so the last sample at -40 lies inside the last run;
- the same sample as a brute-force 2 ms mean square (``np.convolve``) finds, so the
  harness's envelope is the one the definition names.
"""

from __future__ import annotations

import numpy as np
import soundfile

from harness.analysis.speech_end import caller_speech_ends
from harness.corpus.model import Corpus
from harness.records import CallerKind, CallRecording, SegmentationParams, SentUtterance, StepKind

SR = 48_000
W = 96
OFFSET = 4_800  # the clip starts 100 ms into caller.wav


def brute_force_last(x: np.ndarray, lo: int, hi: int, level_dbfs: float) -> int:
    power = np.convolve(x.astype(np.float64) ** 2, np.ones(W) / W)[W - 1:]  # window starting at i
    power = np.concatenate([power, np.zeros(W)])[: x.size]  # windows past the end hold silence
    above = np.flatnonzero(power[lo:hi] >= 10 ** (level_dbfs / 10))
    return lo + int(above[-1]) + 1


def test_minus_40_ends_before_the_detectors_release_on_the_built_in_corpus(corpus: Corpus) -> None:
    checked = 0
    for utt in corpus:
        if "noise" in utt.tags:  # not speech: a cough or pink noise has no "end of speech" to compare
            continue
        clip, rate = soundfile.read(str(utt.wav), dtype="float32")
        assert rate == SR
        x = np.concatenate([np.zeros(OFFSET, np.float32), clip, np.zeros(SR, np.float32)])
        ns = lambda s: s * 1_000_000_000 // SR  # noqa: E731 - the sample clock
        sent = SentUtterance(
            step_index=0, kind=StepKind.SAY, utterance_id=utt.id, start_sample=OFFSET, start_ns=ns(OFFSET),
            speech_start_ns=ns(OFFSET + utt.speech_start), speech_end_ns=ns(OFFSET + utt.speech_end),
            voiced_ns=tuple((ns(OFFSET + a), ns(OFFSET + b)) for a, b in utt.voiced),
            speech_end_sample=OFFSET + utt.speech_end)
        rec = CallRecording(call_id="c", scenario_id="s", endpoint="e", caller=CallerKind.AIORTC, sent=(sent,))
        (said,), (end,) = caller_speech_ends(rec, x, SegmentationParams(caller_end_dbfs=-40.0))
        last_run = (OFFSET + utt.voiced[-1][0], OFFSET + utt.voiced[-1][1])
        assert end.effective_dbfs is not None and end.effective_dbfs < -40.0, utt.id
        loudest = 10 * np.log10(np.max(np.convolve(x[last_run[0]:last_run[1]] ** 2, np.ones(W) / W, "valid")))
        assert loudest >= -40.0, f"{utt.id}: premise: its last voiced run reaches -40 dBFS"
        shift_ms = (end.end_ns - end.detector_end_ns) / 1e6
        assert shift_ms < 0, f"{utt.id}: the -40 end is {shift_ms} ms from the detector's"
        assert said.speech_end_sample is not None
        assert last_run[0] < said.speech_end_sample < last_run[1], utt.id
        assert said.speech_end_sample == brute_force_last(x, OFFSET, last_run[1] + SR // 4, -40.0), utt.id
        checked += 1
    assert checked >= 10  # the built-in corpus has dozens of spoken items

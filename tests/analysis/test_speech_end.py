"""Where the caller's speech ends, against fades whose envelope crossings are known analytically.

The end envelope is the detector's: the mean square of the ``envelope_ms`` (2 ms, 96
samples at 48 kHz) window *starting* at a sample. For an exponential fade
``a(n) = A·exp(-(n - n0)/T)`` on a carrier whose square is constant (alternating ±1:
a tone at the Nyquist frequency) it is exactly ``A²·G·exp(-2(i - n0)/T)`` with
``G = (1 - exp(-2W/T)) / (W·(1 - exp(-2/T)))``, so the last sample at or above L dBFS
is ``floor(n0 + T/2·ln(A²·G / 10^(L/10)))``. Tolerances (stated once):

- Nyquist carrier: exact (the crossings are kept >= 0.05 sample away from an integer,
  so float rounding cannot move them);
- 1 kHz sine (two whole periods per window): the sin² ripple of a decaying amplitude
  moves the crossing by a few samples: within 0.1 ms (5 samples).
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from harness.analysis.speech_end import (
    NO_AUDIO,
    NOT_REACHED,
    caller_speech_ends,
    check_caller_end_dbfs,
    last_sample_at_or_above,
)
from harness.records import CallerKind, CallRecording, SegmentationParams, SentUtterance, StepKind

SR = 48_000
W = 96  # SegmentationParams().envelope_ms at 48 kHz
SINE_TOL = 5
A_DBFS = -20.0  # mean-square level of the tone before its fade


def nyquist(n: int) -> np.ndarray:
    """Unit mean square, constant square: the fade alone shapes the envelope."""
    return np.where(np.arange(n) % 2 == 0, 1.0, -1.0)


def sine(n: int) -> np.ndarray:
    return math.sqrt(2.0) * np.sin(2 * np.pi * 1000.0 * np.arange(n) / SR + 0.4)


def faded(carrier: np.ndarray, n0: int, tau: float) -> np.ndarray:
    """The carrier at A_DBFS until ``n0``, then fading by e every ``tau`` samples."""
    n = np.arange(carrier.size)
    amp = 10 ** (A_DBFS / 20) * np.exp(-np.maximum(n - n0, 0) / tau)
    return (amp * carrier).astype(np.float32)


def crossing(n0: int, tau: float, level_dbfs: float) -> float:
    """Where the exponential fade's end envelope equals ``level_dbfs`` (a real sample index)."""
    gain = (1 - math.exp(-2 * W / tau)) / (W * (1 - math.exp(-2 / tau)))
    return n0 + tau / 2 * math.log(10 ** (A_DBFS / 10) * gain / 10 ** (level_dbfs / 10))


@pytest.mark.parametrize("tau", [240.0, 517.0, 2417.0])  # 5, ~10.8 and ~50 ms time constants
@pytest.mark.parametrize("level", [-40.0, -50.0, -60.0])
def test_end_is_the_last_sample_at_the_level_of_an_exponential_fade(tau: float, level: float) -> None:
    n0 = 12_000
    x = faded(nyquist(n0 + int(40 * tau)), n0, tau)
    truth = crossing(n0, tau, level)
    assert min(truth % 1, 1 - truth % 1) >= 0.05, f"crossing {truth}: too near a sample boundary to be exact"
    assert last_sample_at_or_above(x, 0, x.size, level, W) == math.floor(truth) + 1


@pytest.mark.parametrize("level", [-40.0, -50.0])
def test_a_sine_tone_fading_out_ends_within_a_tenth_of_a_millisecond(level: float) -> None:
    n0, tau = 9_600, 480.0
    x = faded(sine(n0 + 20_000), n0, tau)
    expected = math.floor(crossing(n0, tau, level)) + 1
    assert abs(last_sample_at_or_above(x, 0, x.size, level, W) - expected) <= SINE_TOL


def test_the_end_lies_inside_the_search_window_or_nowhere() -> None:
    x = faded(nyquist(30_000), 12_000, 480.0)
    end_40 = math.floor(crossing(12_000, 480.0, -40.0)) + 1
    assert last_sample_at_or_above(x, 0, end_40 - 10, -40.0, W) == end_40 - 10  # still loud at the bound
    assert last_sample_at_or_above(x, end_40 + 1, x.size, -40.0, W) is None
    assert last_sample_at_or_above(x, 5, 5, -40.0, W) is None


def recording(*sent: SentUtterance) -> CallRecording:
    return CallRecording(call_id="c", scenario_id="s", endpoint="e", caller=CallerKind.AIORTC,
                         sample_rate=SR, sent=sent)


def sent_at(start: int, speech_start: int, end: int, *, index: int = 0, recorded: bool = True) -> SentUtterance:
    """A clip starting at sample ``start`` of caller.wav whose detector end is ``end``."""
    ns = lambda s: s * 1_000_000_000 // SR  # noqa: E731 - the sample clock
    return SentUtterance(step_index=index, kind=StepKind.SAY, utterance_id=f"u{index}", start_sample=start,
                         start_ns=ns(start), speech_start_ns=ns(speech_start), speech_end_ns=ns(end),
                         voiced_ns=((ns(speech_start), ns(end)),),
                         speech_end_sample=end if recorded else None)


def test_a_level_moves_the_end_by_its_distance_in_samples_and_keeps_the_detector_level() -> None:
    n0, tau = 12_000, 517.0
    x = faded(nyquist(40_000), n0, tau)
    detector_end = math.floor(crossing(n0, tau, -63.0)) + 1  # a release near the corpus's
    u = sent_at(2_000, 2_400, detector_end)
    said, (end,) = caller_speech_ends(recording(u), x, SegmentationParams(caller_end_dbfs=-40.0))
    found = math.floor(crossing(n0, tau, -40.0)) + 1
    assert end.end_ns - end.detector_end_ns == round((found - detector_end) * 1e9 / SR)
    assert said[0].speech_end_ns == end.end_ns and said[0].speech_end_sample == found
    assert said[0].voiced_ns[-1][1] == end.end_ns  # the last voiced run ends there too
    # The effective level: the end envelope at the detector's last voiced sample.
    assert end.effective_dbfs == pytest.approx(10 * math.log10(
        10 ** (A_DBFS / 10) * math.exp(-2 * (detector_end - 1 - n0) / tau)
        * (1 - math.exp(-2 * W / tau)) / (W * (1 - math.exp(-2 / tau)))), abs=0.01)
    assert -63.0 < end.effective_dbfs < -62.0  # one sample before the -63 crossing
    assert end.kept_because == "" and end.level_dbfs == -40.0


def test_the_default_keeps_the_recorded_end_and_states_its_level() -> None:
    x = faded(nyquist(40_000), 12_000, 517.0)
    u = sent_at(2_000, 2_400, 14_000)
    said, (end,) = caller_speech_ends(recording(u), x, SegmentationParams())
    assert said == (u,)
    assert end.end_ns == end.detector_end_ns == u.speech_end_ns
    assert end.effective_dbfs is not None and end.level_dbfs is None


def test_without_caller_audio_the_recorded_end_is_kept_and_says_why() -> None:
    u = sent_at(2_000, 2_400, 14_000)
    said, (end,) = caller_speech_ends(recording(u), None, SegmentationParams(caller_end_dbfs=-40.0))
    assert said == (u,) and end.end_ns == u.speech_end_ns
    assert end.kept_because == NO_AUDIO and end.effective_dbfs is None


def test_a_level_the_utterance_never_reaches_keeps_the_recorded_end() -> None:
    x = faded(nyquist(40_000), 12_000, 517.0)  # -20 dBFS at its loudest
    u = sent_at(2_000, 2_400, 14_000)
    said, (end,) = caller_speech_ends(recording(u), x, SegmentationParams(caller_end_dbfs=-10.0))
    assert said == (u,) and end.kept_because.startswith(NOT_REACHED)


def test_a_low_level_never_reaches_into_the_callers_next_clip() -> None:
    x = faded(nyquist(60_000), 12_000, 240.0)
    detector_end = math.floor(crossing(12_000, 240.0, -60.0)) + 1
    next_start = detector_end + 2_400  # 50 ms later: within the detector's 250 ms hangover
    x[next_start:] = faded(nyquist(x.size - next_start), x.size, 1.0)  # loud again
    first = sent_at(2_000, 2_400, detector_end)
    second = sent_at(next_start, next_start, x.size - 100, index=1)
    _, (end, _) = caller_speech_ends(recording(first, second), x, SegmentationParams(caller_end_dbfs=-90.0))
    assert end.end_ns - end.detector_end_ns <= round((next_start - detector_end) * 1e9 / SR)
    assert end.end_ns > end.detector_end_ns  # -90 lies past the -60 release, in the fade's tail


def test_older_recordings_place_the_end_by_its_time_on_the_sample_clock() -> None:
    x = faded(nyquist(40_000), 12_000, 517.0)
    detector_end = math.floor(crossing(12_000, 517.0, -63.0)) + 1
    params = SegmentationParams(caller_end_dbfs=-40.0)
    _, (new,) = caller_speech_ends(recording(sent_at(2_000, 2_400, detector_end)), x, params)
    _, (old,) = caller_speech_ends(recording(sent_at(2_000, 2_400, detector_end, recorded=False)), x, params)
    assert abs(old.end_ns - new.end_ns) <= 1_000_000_000 // SR  # one sample of ns rounding


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), -120.0, 3.0])
def test_a_level_that_cannot_mean_an_end_is_refused(bad: float) -> None:
    with pytest.raises(ValueError, match="caller_end_dbfs"):
        check_caller_end_dbfs(bad)
    with pytest.raises(ValueError, match="caller_end_dbfs"):
        caller_speech_ends(recording(), None, SegmentationParams(caller_end_dbfs=bad))

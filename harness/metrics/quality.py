"""Audio quality of the agent's replies (docs/metrics.md, "Audio quality").

Which replies get which score is decided by the scenario's tags, explicitly:

- ``echo``: the endpoint repeats the caller's turn, so the caller's own turn (its sent
  audio from the first to the last voiced sample) is the reference and the reply is the
  degraded signal: full-reference **PESQ** wideband (P.862.2, 16 kHz) and narrowband
  (P.862, 8 kHz) and **STOI** per reply, after coarse cross-correlation alignment. The
  reply is cut to the reference's length at the best lag, so both are trimmed to speech.
- ``quality`` without ``echo``: no reference exists, so non-intrusive **DNSMOS** (P.835
  SIG/BAK/OVRL) per reply. It costs ~0.3 s of CPU per 9 s window, which is why it is not
  run on every scenario.
- anything else: no per-reply quality numbers (transport facts are in ``transport``).

A step with no reply, or a reply or reference with no speech, gets ``value=None`` with
reason ``no received speech`` / ``no reference speech`` (pesq raises on silence; that
never escapes); so does every reply when the ``quality`` extra is not installed, with
the reason naming it. Without audio (``audio is None``) the family measures nothing.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

import numpy as np
import soxr
from numpy.typing import NDArray
from scipy import signal

from harness.extras import MissingExtra
from harness.metrics.base import check_same_call, measurement
from harness.metrics.replies import StepReply, caller_turn_audio, reply_audio, step_replies
from harness.records import CallAudio, CallRecording, Measurement, Scenario, Timeline

__all__ = [
    "DNSMOS_BAK",
    "DNSMOS_OVRL",
    "DNSMOS_SIG",
    "DNSMOS_TAG",
    "ECHO_TAG",
    "NO_RECEIVED_SPEECH",
    "NO_REFERENCE_SPEECH",
    "PESQ_NB",
    "PESQ_WB",
    "STOI",
    "align_to_reference",
    "dnsmos_scores",
    "intrusive_scores",
    "measure_quality",
]

ECHO_TAG = "echo"
DNSMOS_TAG = "quality"
PESQ_WB = "pesq_wb"
PESQ_NB = "pesq_nb"
STOI = "stoi"
DNSMOS_SIG = "dnsmos_sig"
DNSMOS_BAK = "dnsmos_bak"
DNSMOS_OVRL = "dnsmos_ovrl"
NO_REFERENCE_SPEECH = "no reference speech"
NO_RECEIVED_SPEECH = "no received speech"

SILENCE_RMS = 1e-4
"""Below -80 dBFS RMS a signal is treated as silent (pesq would raise on it)."""
REPLY_MARGIN_MS = 250.0
"""Received audio kept around the detected reply, so alignment can find all of it."""
MAX_LAG_S = 1.0
"""Alignment searches this far either way; the detected reply is already close."""
ALIGN_RATE = 8_000


def _rms(x: NDArray[np.float32]) -> float:
    return float(np.sqrt(np.mean(np.square(x, dtype=np.float64)))) if x.size else 0.0


def align_to_reference(
    reference: NDArray[np.float32], degraded: NDArray[np.float32], sample_rate: int
) -> NDArray[np.float32]:
    """``degraded`` cut to ``reference``'s length at the lag of best cross-correlation.

    Computed on 8 kHz copies (coarse: one 8 kHz sample is 6 samples at 48 kHz, well
    inside PESQ's own fine alignment); zero-padded where the degraded signal ends early.
    """
    factor = sample_rate / ALIGN_RATE
    ref8 = soxr.resample(reference, sample_rate, ALIGN_RATE)
    deg8 = soxr.resample(degraded, sample_rate, ALIGN_RATE)
    corr = signal.correlate(deg8, ref8, mode="full", method="fft")
    lags = signal.correlation_lags(deg8.size, ref8.size, mode="full")
    window = np.abs(lags) <= MAX_LAG_S * ALIGN_RATE + max(deg8.size - ref8.size, 0)
    lag8 = int(lags[window][np.argmax(corr[window])])
    lag = round(lag8 * factor)
    out = np.zeros(reference.size, dtype=np.float32)
    src_lo, dst_lo = max(lag, 0), max(-lag, 0)
    n = min(reference.size - dst_lo, degraded.size - src_lo)
    if n > 0:
        out[dst_lo : dst_lo + n] = degraded[src_lo : src_lo + n]
    return out


def intrusive_scores(
    reference: NDArray[np.float32], degraded: NDArray[np.float32], sample_rate: int
) -> dict[str, tuple[float | None, str | None]]:
    """PESQ-WB, PESQ-NB and STOI of ``degraded`` against ``reference`` (any rate, mono)."""
    try:
        from pesq import PesqError, pesq
        from pystoi import stoi
    except ImportError as exc:
        missing = str(MissingExtra("quality", "PESQ and STOI", exc))
        return dict.fromkeys((PESQ_WB, PESQ_NB, STOI), (None, missing))
    if _rms(reference) < SILENCE_RMS:
        return dict.fromkeys((PESQ_WB, PESQ_NB, STOI), (None, NO_REFERENCE_SPEECH))
    if _rms(degraded) < SILENCE_RMS:
        return dict.fromkeys((PESQ_WB, PESQ_NB, STOI), (None, NO_RECEIVED_SPEECH))
    aligned = align_to_reference(reference, degraded, sample_rate)
    if _rms(aligned) < SILENCE_RMS:
        return dict.fromkeys((PESQ_WB, PESQ_NB, STOI), (None, NO_RECEIVED_SPEECH))
    out: dict[str, tuple[float | None, str | None]] = {}
    for name, rate, mode in ((PESQ_WB, 16_000, "wb"), (PESQ_NB, 8_000, "nb")):
        ref = soxr.resample(reference, sample_rate, rate).astype(np.float32)
        deg = soxr.resample(aligned, sample_rate, rate).astype(np.float32)
        try:
            out[name] = (float(pesq(rate, ref, deg, mode)), None)
        except (PesqError, ValueError) as exc:
            out[name] = (None, f"pesq failed: {type(exc).__name__}: {exc}")
    ref16 = soxr.resample(reference, sample_rate, 16_000)
    deg16 = soxr.resample(aligned, sample_rate, 16_000)
    out[STOI] = (float(stoi(ref16, deg16, 16_000, extended=False)), None)
    return out


# -------------------------------------------------------------------------- DNSMOS

DNSMOS_RATE = 16_000
_DNSMOS_INPUT = int(9.01 * DNSMOS_RATE)


@functools.cache
def _dnsmos_model() -> Any:
    """speechmos's own DNSMOS with the ONNX models shipped inside the package (no download).

    Only the SIG/BAK/OVRL network is run; the P.808 branch needs a librosa mel
    spectrogram whose first call JIT-compiles for tens of seconds.
    """
    try:
        from speechmos import dnsmos
    except ImportError as exc:
        raise MissingExtra("quality", "DNSMOS", exc) from None

    root = Path(dnsmos.__file__).resolve().parent / "dnsmos_models"
    return dnsmos.DNSMOS(str(root / "sig_bak_ovr.onnx"), str(root / "model_v8.onnx"))


def dnsmos_scores(audio: NDArray[np.float32], sample_rate: int) -> tuple[float, float, float] | None:
    """(SIG, BAK, OVRL) MOS of ``audio``; ``None`` when it is silent.

    Audio shorter than the model's 9.01 s input is repeated to fill it (as speechmos
    does); longer audio is scored in non-overlapping 9.01 s windows (speechmos hops by
    1 s, nine times the cost) and the window scores are averaged.
    """
    if _rms(audio) < SILENCE_RMS:
        return None
    x = np.clip(soxr.resample(audio, sample_rate, DNSMOS_RATE), -1.0, 1.0).astype(np.float32)
    if x.size < _DNSMOS_INPUT:
        x = np.tile(x, -(-_DNSMOS_INPUT // x.size))
    starts = list(range(0, x.size - _DNSMOS_INPUT + 1, _DNSMOS_INPUT))
    if starts[-1] + _DNSMOS_INPUT < x.size and x.size - starts[-1] - _DNSMOS_INPUT > DNSMOS_RATE:
        starts.append(x.size - _DNSMOS_INPUT)
    model = _dnsmos_model()
    scores = []
    for s in starts:
        raw = model.onnx_sess.run(None, {"input_1": x[np.newaxis, s : s + _DNSMOS_INPUT]})[0][0]
        scores.append(model.get_polyfit_val(raw[0], raw[1], raw[2], False))
    sig, bak, ovrl = (float(np.mean([sc[i] for sc in scores])) for i in range(3))
    return sig, bak, ovrl


# -------------------------------------------------------------------------- family


def measure_quality(
    timeline: Timeline, scenario: Scenario, recording: CallRecording, audio: CallAudio | None
) -> tuple[Measurement, ...]:
    check_same_call(timeline, scenario, recording)
    if audio is None:
        return ()
    if ECHO_TAG in scenario.tags:
        return tuple(m for r in step_replies(timeline, scenario, recording) for m in _echo(r, recording, audio))
    if DNSMOS_TAG in scenario.tags:
        return tuple(m for r in step_replies(timeline, scenario, recording) for m in _dnsmos(r, recording, audio))
    return ()


def _echo(r: StepReply, recording: CallRecording, audio: CallAudio) -> list[Measurement]:
    reference = caller_turn_audio(recording, audio.caller, r.sent)
    if r.reply is None:
        degraded = np.zeros(0, dtype=np.float32)
    else:
        degraded = reply_audio(recording, audio.received, r.reply, REPLY_MARGIN_MS)
    scores = intrusive_scores(reference, degraded, recording.sample_rate)
    units = {PESQ_WB: "mos", PESQ_NB: "mos", STOI: "ratio"}
    return [
        measurement(recording, turn=r.step.index, metric=k, value=v, unit=units[k], reason=why)
        for k, (v, why) in scores.items()
    ]


def _dnsmos(r: StepReply, recording: CallRecording, audio: CallAudio) -> list[Measurement]:
    names = (DNSMOS_SIG, DNSMOS_BAK, DNSMOS_OVRL)
    degraded = (
        reply_audio(recording, audio.received, r.reply) if r.reply is not None else np.zeros(0, np.float32)
    )
    try:
        scores = dnsmos_scores(degraded, recording.sample_rate)
    except MissingExtra as exc:
        scores, why = None, str(exc)
    else:
        why = NO_RECEIVED_SPEECH
    if scores is None:
        return [
            measurement(recording, turn=r.step.index, metric=n, value=None, unit="mos", reason=why)
            for n in names
        ]
    return [
        measurement(recording, turn=r.step.index, metric=n, value=v, unit="mos")
        for n, v in zip(names, scores, strict=True)
    ]

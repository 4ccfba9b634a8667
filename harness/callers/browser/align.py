"""Where each clip the page played really went out: found in the audio that was sent.

The page schedules a clip at an AudioContext frame; between that frame and the wire
lie the WebAudio render, the capture FIFO into WebRTC and 20 ms Opus framing. Rather
than model that path, the harness decodes the Opus frames the page actually sent
(tapped after encoding, with their RTP timestamps and send times) and finds each clip
in them by normalised cross-correlation. The clip's first sample then has an exact RTP
sample index, and its send time follows from the frame that carried it — the same
"wire time of the sample" the aiortc caller reports.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.signal import fftconvolve

from harness.webrtc.audio import OPUS_DELAY_SAMPLES, Float32Audio

MIN_QUALITY = 0.5
"""A correlation peak below this is not trusted (the clip was mangled or not sent)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class ClipLocation:
    position: int
    """Index of the clip's first sample in the encoder's input (RTP timestamp - first)."""
    quality: float
    """Normalised correlation at the peak, 0..1; 1 is a perfect match."""


def locate_clip(
    sent: Float32Audio,
    clip: Float32Audio,
    predicted: int,
    window: int,
    codec_delay: int = OPUS_DELAY_SAMPLES,
) -> ClipLocation | None:
    """Best match of ``clip`` in decoded ``sent`` audio within ``predicted ± window``.

    ``sent`` is the decoder's output, which lags the encoder's input by ``codec_delay``;
    positions in and out are encoder-input indices. ``None`` when the search range holds
    no audio or the clip is silent.
    """
    n = clip.size
    lo = max(0, predicted + codec_delay - window)
    hi = min(sent.size, predicted + codec_delay + window + n)
    if hi - lo < n // 4 or n == 0:
        return None
    x = sent[lo:hi].astype(np.float64)
    ref = clip.astype(np.float64)
    if x.size < n:
        ref = ref[: x.size]
    m = ref.size
    ref_norm = float(np.sqrt(np.dot(ref, ref)))
    if ref_norm == 0.0:
        return None
    corr = fftconvolve(x, ref[::-1], mode="valid")
    energy = np.concatenate(([0.0], np.cumsum(x * x)))
    window_energy = energy[m:] - energy[:-m]
    ncc = corr / (ref_norm * np.sqrt(np.maximum(window_energy, 1e-20)))
    ncc[window_energy < 1e-12 * m] = 0.0  # digital silence: no match, not a division blow-up
    best = int(np.argmax(ncc))
    return ClipLocation(position=lo + best - codec_delay, quality=float(ncc[best]))

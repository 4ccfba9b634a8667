"""Non-speech items (pink-noise burst, cough, knock) from a fixed seed.

They exist to test false barge-in: a caller sound that is loud but is not a turn. The
shapes are crude on purpose; what matters is that they are loud, short, broadband
and identical on every build.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from harness.corpus.audio import CORPUS_RATE, Audio, ms_to_samples, scale_to_peak
from harness.corpus.script import NoiseSpec

_EDGE_MS = 5.0


def generate_noise(spec: NoiseSpec, rate: int = CORPUS_RATE) -> Audio:
    rng = np.random.default_rng(spec.seed)
    if spec.kind == "pink":
        raw = _pink_burst(rng, ms_to_samples(spec.duration_ms, rate), rate)
    elif spec.kind == "cough":
        raw = _train(rng, spec.count, rate, _cough, spacing_ms=420.0)
    else:
        raw = _train(rng, spec.count, rate, _knock, spacing_ms=180.0)
    return scale_to_peak(raw, spec.peak_dbfs)


def _ramp(n: int, rate: int) -> np.ndarray:
    """Raised-cosine edges, so a burst starts and stops without a click."""
    edge = min(ms_to_samples(_EDGE_MS, rate), n // 2)
    window = np.ones(n)
    if edge > 0:
        rise = 0.5 - 0.5 * np.cos(np.pi * np.arange(edge) / edge)
        window[:edge] = rise
        window[n - edge :] = rise[::-1]
    return window


def _pink_burst(rng: np.random.Generator, n: int, rate: int) -> Audio:
    """White noise shaped to 1/f power in the frequency domain."""
    spectrum = np.fft.rfft(rng.standard_normal(n))
    freqs = np.fft.rfftfreq(n, 1.0 / rate)
    freqs[0] = freqs[1]
    pink = np.fft.irfft(spectrum / np.sqrt(freqs), n)
    return np.asarray(pink * _ramp(n, rate), dtype=np.float32)


def _cough(rng: np.random.Generator, rate: int) -> np.ndarray:
    """Band-passed noise with a sharp attack and ~60 ms decay, plus a weaker second phase."""
    from scipy import signal  # imported here: scipy.signal costs ~1 s, a cache hit never needs it

    n = ms_to_samples(300.0, rate)
    t = np.arange(n) / rate
    sos = signal.butter(4, [250.0, 3500.0], btype="bandpass", fs=rate, output="sos")
    noise = signal.sosfilt(sos, rng.standard_normal(n))
    attack = np.minimum(t / 0.008, 1.0)
    envelope = attack * (
        np.exp(-t / 0.06) + 0.35 * np.exp(-np.maximum(t - 0.09, 0) / 0.05) * (t > 0.09)
    )
    return np.asarray(noise * envelope * _ramp(n, rate))


def _knock(rng: np.random.Generator, rate: int) -> np.ndarray:
    """Two damped resonances (a door panel) excited by a short noise click."""
    n = ms_to_samples(120.0, rate)
    t = np.arange(n) / rate
    body = np.sin(2 * np.pi * 190.0 * t) * np.exp(-t / 0.03) + 0.6 * np.sin(
        2 * np.pi * 470.0 * t
    ) * np.exp(-t / 0.015)
    click = np.zeros(n)
    click_n = ms_to_samples(3.0, rate)
    click[:click_n] = rng.standard_normal(click_n) * 0.5
    return np.asarray((body + click) * _ramp(n, rate))


def _train(
    rng: np.random.Generator,
    count: int,
    rate: int,
    make: Callable[[np.random.Generator, int], np.ndarray],
    *,
    spacing_ms: float,
) -> Audio:
    events = [np.asarray(make(rng, rate), dtype=np.float64) for _ in range(count)]
    spacing = ms_to_samples(spacing_ms, rate)
    total = spacing * (count - 1) + len(events[-1])
    out = np.zeros(total)
    for i, event in enumerate(events):
        # Each repeat a little weaker, as a real second cough or knock tends to be.
        out[i * spacing : i * spacing + len(event)] += event * (0.85**i)
    return out.astype(np.float32)

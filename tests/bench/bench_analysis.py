"""Speed of the speech detectors (not a test): ``.venv/bin/python tests/bench/bench_analysis.py``.

Prints how many times faster than real time the offline segmenter runs on one core,
and what one 20 ms ``LiveSpeechDetector.push`` costs. The target is >= 200x real time.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from harness.analysis.live import LiveSpeechDetector
from harness.analysis.segmentation import segment_speech


def conversation(seconds: float, sr: int, rng: np.random.Generator) -> np.ndarray:
    """Noise at -55 dBFS with speech-like bursts (0.3-3 s) and gaps (0.1-1.5 s)."""
    n = int(seconds * sr)
    x = rng.standard_normal(n) * 10 ** (-55 / 20)
    pos = int(0.5 * sr)
    while pos < n:
        length = int(rng.uniform(0.3, 3.0) * sr)
        end = min(pos + length, n)
        t = np.arange(end - pos) / sr
        x[pos:end] += (
            10 ** (rng.uniform(-35, -15) / 20)
            * rng.standard_normal(end - pos)
            * (0.6 + 0.4 * np.cos(2 * np.pi * 4 * t))
        )
        pos = end + int(rng.uniform(0.1, 1.5) * sr)
    return x.astype(np.float32)


def best_of(fn: object, repeats: int) -> float:
    assert callable(fn)
    best = float("inf")
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t)
    return best


def main() -> None:
    rng = np.random.default_rng(0)
    seconds = 300.0
    print(f"segment_speech on {seconds:.0f} s of conversation-like audio (best of 5, one core):")
    for sr in (48000, 16000, 8000):
        x = conversation(seconds, sr, rng)
        n_segments = len(segment_speech(x, sr))
        elapsed = best_of(lambda x=x, sr=sr: segment_speech(x, sr), 5)
        print(
            f"  {sr:>5} Hz: {elapsed * 1000:7.1f} ms -> {seconds / elapsed:8.0f}x real time"
            f" ({n_segments} segments)"
        )

    sr = 48000
    x = conversation(60.0, sr, rng)
    chunk = sr // 50
    det = LiveSpeechDetector(sr)
    t = time.perf_counter()
    pushes = 0
    for pos in range(0, x.size - chunk + 1, chunk):
        det.push(x[pos : pos + chunk], pos * 20_833)
        pushes += 1
    per_push = (time.perf_counter() - t) / pushes
    print(
        f"LiveSpeechDetector.push (20 ms chunks at 48 kHz): {per_push * 1e6:.1f} µs per push"
        f" -> {0.020 / per_push:.0f}x real time"
    )


if __name__ == "__main__":
    main()

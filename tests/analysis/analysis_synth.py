"""Synthetic signals with sample-exact, known speech bounds for the segmentation tests."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray


def db_to_amp(dbfs: float) -> float:
    """Amplitude giving a mean-square level of ``dbfs`` for unit-RMS material."""
    return float(10.0 ** (dbfs / 20.0))


@dataclass(frozen=True)
class Burst:
    start: int
    """First sample of the burst (first non-zero sample of its envelope)."""
    end: int
    """One past its last non-zero sample."""


def noise_bed(n: int, dbfs: float, rng: np.random.Generator) -> NDArray[np.float32]:
    return (rng.standard_normal(n) * db_to_amp(dbfs)).astype(np.float32)


def ramp_envelope(n: int, ramp: int) -> NDArray[np.float64]:
    """1 inside, linear ramps of ``ramp`` samples at both ends; first and last samples non-zero."""
    env = np.ones(n)
    if ramp > 0:
        r = np.arange(1, ramp + 1) / ramp
        env[:ramp] = r
        env[-ramp:] = np.minimum(env[-ramp:], r[::-1])
    return env


def tone(
    n: int, sr: int, dbfs: float, freq: float, rng: np.random.Generator
) -> NDArray[np.float64]:
    """Unit-RMS-scaled sine at ``dbfs`` whose first sample is not a zero crossing."""
    phase = rng.uniform(0.3, np.pi - 0.3)
    return np.sqrt(2.0) * db_to_amp(dbfs) * np.sin(2 * np.pi * freq * np.arange(n) / sr + phase)


def speechlike(n: int, sr: int, dbfs: float, rng: np.random.Generator) -> NDArray[np.float64]:
    """Noise with a 4 Hz syllabic envelope (depth 0.25..1), at ``dbfs`` peak level.

    The modulation is at its peak at both ends, so both burst edges are sharp.
    """
    i = np.arange(n)
    t = np.minimum(i, n - 1 - i) / sr
    syllables = 0.625 + 0.375 * np.cos(2 * np.pi * 4.0 * t)
    return db_to_amp(dbfs) * rng.standard_normal(n) * syllables


def add(x: NDArray[np.float32], start: int, burst: NDArray[np.float64]) -> Burst:
    x[start : start + burst.size] += burst.astype(np.float32)
    return Burst(start=start, end=start + burst.size)

"""Reproducible random streams for the bootstrap, one per (seed, keys).

The same run always gets the same confidence intervals, and each metric and group its
own stream, so adding a metric does not shift another's resamples. Keys are hashed with
crc32, not ``hash()``: Python salts str hashes per process.
"""

from __future__ import annotations

import zlib

import numpy as np

__all__ = ["keyed_rng"]


def keyed_rng(seed: int, *keys: str) -> np.random.Generator:
    return np.random.default_rng([seed, *(zlib.crc32(k.encode()) for k in keys)])

"""Sample-level helpers of corpus building: rate, level, 16-bit storage, checksums.

Every corpus WAV is 48 kHz mono 16-bit. Speech bounds are measured on exactly the
samples a reader will get back (the 16-bit values as soundfile returns them), so the
manifest describes the file, not an intermediate float signal.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import numpy as np
import numpy.typing as npt
import soundfile
import soxr

from harness.safe_io import open_regular

CORPUS_RATE = 48_000

Audio = npt.NDArray[np.float32]
Pcm16 = npt.NDArray[np.int16]


def to_mono(samples: npt.NDArray[np.floating]) -> Audio:
    """Average channels: a stereo recording of one talker keeps its level."""
    if samples.ndim == 1:
        return samples.astype(np.float32, copy=False)
    return np.asarray(samples.mean(axis=1, dtype=np.float64), dtype=np.float32)


def resample(samples: Audio, from_rate: int, to_rate: int = CORPUS_RATE) -> Audio:
    if from_rate == to_rate:
        return samples.astype(np.float32, copy=False)
    out = soxr.resample(samples, from_rate, to_rate, quality="HQ")
    return np.asarray(out, dtype=np.float32)


def scale_to_peak(samples: Audio, peak_dbfs: float) -> Audio:
    peak = float(np.max(np.abs(samples))) if samples.size else 0.0
    if peak < 1e-9:
        return samples.astype(np.float32, copy=True)
    gain = 10.0 ** (peak_dbfs / 20.0) / peak
    return np.asarray(samples.astype(np.float64) * gain, dtype=np.float32)


def quantize(samples: Audio) -> Pcm16:
    return np.clip(np.round(samples.astype(np.float64) * 32767.0), -32768, 32767).astype(np.int16)


def dequantize(pcm: Pcm16) -> Audio:
    """What ``soundfile.read(dtype="float32")`` returns for these 16-bit samples."""
    return (pcm.astype(np.float32) / np.float32(32768.0)).astype(np.float32)


def write_wav(path: Path, pcm: Pcm16, rate: int = CORPUS_RATE) -> None:
    """Atomic write, so an interrupted build never leaves a short file under the real name."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    soundfile.write(str(tmp), pcm, rate, subtype="PCM_16", format="WAV")
    tmp.replace(path)


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open_regular(path) as f:  # a FIFO in a corpus folder must not hang the cache check
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def ms_to_samples(ms: float, rate: int = CORPUS_RATE) -> int:
    return round(ms * rate / 1000.0)

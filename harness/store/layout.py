"""The names inside a run folder and the rules for names that become paths.

Shared by the writer (``run_folder``) and the readers (``readers``), so both agree on
the layout without importing each other.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import numpy.typing as npt

__all__ = [
    "AUDIO_FORMAT",
    "CALLS_DIR",
    "MIX_FLAC",
    "MIX_WAV",
    "RECORDING_JSON",
    "RESULTS_JSONL",
    "RUN_JSON",
    "SAFE_NAME",
    "SCENARIO_JSON",
    "TEXTS_JSON",
    "Audio",
    "AudioNotKept",
    "RunFolderError",
    "check_file_name",
    "check_name",
    "flac_name",
]

RUN_JSON = "run.json"
RESULTS_JSONL = "results.jsonl"
CALLS_DIR = "calls"
RECORDING_JSON = "recording.json"
MIX_WAV = "mix.wav"
"""The stereo mix's name in folders written before audio was stored as FLAC."""
MIX_FLAC = "mix.flac"
AUDIO_FORMAT, AUDIO_SUFFIX = "FLAC", ".flac"
"""Call audio is FLAC: lossless 16-bit, about a tenth of the WAV size on a call's tracks."""
SCENARIO_JSON = "scenario.json"
"""The scenario as it was run, so ``rescore`` needs no YAML that may have changed since."""
TEXTS_JSON = "texts.json"
"""Corpus text per utterance id the call said, so ``rescore`` needs no corpus (input WER)."""

SAFE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:@+=\-]{0,199}")
"""Run and call ids become folder names: no separators, no leading dot, no ``..``."""

Audio = npt.NDArray[np.float32] | npt.NDArray[np.int16]


class RunFolderError(Exception):
    """A run folder, or a file in it, that cannot be written or read as expected."""


class AudioNotKept(RunFolderError):
    """The call's audio was dropped by a soak's retention policy; its recording.json remains."""


def is_safe_name(name: str) -> bool:
    return SAFE_NAME.fullmatch(name) is not None and ".." not in name


def check_name(kind: str, name: str) -> str:
    if not is_safe_name(name):
        raise RunFolderError(
            f"{kind} {name!r} cannot be a folder name: use letters, digits and _ . : @ + = -"
            " (no '..')"
        )
    return name


def check_file_name(name: str) -> str:
    if Path(name).name != name or name.startswith(".") or "\x00" in name:
        raise RunFolderError(f"{name!r} is not a plain file name")
    return name


def flac_name(name: str) -> str:
    """``caller.wav`` -> ``caller.flac`` (a recording names its files; the audio is FLAC)."""
    return Path(check_file_name(name)).with_suffix(AUDIO_SUFFIX).name

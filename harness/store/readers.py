"""Reading a run folder back: results, run.json, and each call's recording and audio.

Everything read here may have been damaged or edited since the harness wrote it, so
every reader refuses what it cannot use with a ``RunFolderError`` naming the file (and
line or field): non-regular files, oversized or too deeply nested JSON, WAV headers or
recordings that claim impossible sizes (``harness.store.limits``).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Literal, TypeVar

import numpy as np
import soundfile as sf

from harness.records import SCHEMA_VERSION, CallRecording, Measurement, Scenario
from harness.redact import SecretRedactor
from harness.safe_io import read_regular_file, utf8_safe
from harness.store.layout import (
    CALLS_DIR,
    RECORDING_JSON,
    RESULTS_JSONL,
    RUN_JSON,
    SCENARIO_JSON,
    TEXTS_JSON,
    Audio,
    AudioNotKept,
    RunFolderError,
    check_file_name,
)
from harness.store.limits import (
    RecordingLimitError,
    check_recording,
    check_wav_header,
)
from harness.store.run_info import RunInfo
from harness.store.serialize import SerializationError, from_json_obj

__all__ = [
    "MAX_JSON_BYTES",
    "MAX_RESULTS_BYTES",
    "audio_kept",
    "iter_call_dirs",
    "load_recording",
    "load_scenario",
    "load_texts",
    "read_recording",
    "read_results",
    "read_run_info",
]

MAX_JSON_BYTES = 256 * 1024 * 1024
"""recording.json of a 2 h call is a few MB; anything this big is not one."""
MAX_RESULTS_BYTES = 4 * 1024 * 1024 * 1024
"""A soak of 100,000 calls writes well under this."""

T = TypeVar("T")



def read_results(run_dir: Path, redactor: SecretRedactor | None = None) -> list[Measurement]:
    """Every measurement in results.jsonl, in file order.

    An unterminated last line is what a crash mid-append leaves; it is skipped. Any
    other bad line is an error naming the file and line, and so is a metric whose unit
    differs from its first line's (no statistic can mix milliseconds and seconds).
    """
    path = run_dir / RESULTS_JSONL
    try:
        raw = read_regular_file(path, max_bytes=MAX_RESULTS_BYTES)
    except OSError as exc:
        raise RunFolderError(f"{path}: cannot read: {exc.strerror or exc}") from None
    lines = raw.split(b"\n")
    torn_tail = lines[-1] != b""
    out: list[Measurement] = []
    units: dict[str, tuple[str, int]] = {}
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
            if redactor is not None and isinstance(obj, dict):
                obj = utf8_safe(redactor.redact_obj(obj))
            m = from_json_obj(Measurement, obj)
        except RecursionError:
            raise RunFolderError(f"{path}:{number}: JSON nested too deeply") from None
        except (ValueError, SerializationError) as exc:
            if torn_tail and number == len(lines):
                break
            raise RunFolderError(f"{path}:{number}: {exc}") from None
        unit, first = units.setdefault(m.metric, (m.unit, number))
        if m.unit != unit:
            raise RunFolderError(
                f"{path}:{number}: field 'unit': metric {m.metric!r} is in {m.unit!r} here but "
                f"in {unit!r} on line {first}"
            )
        out.append(m)
    return out


def read_run_info(run_dir: Path, redactor: SecretRedactor | None = None) -> RunInfo:
    return _read_json_record(run_dir / RUN_JSON, RunInfo, redactor)


def read_recording(call_dir: Path, redactor: SecretRedactor | None = None) -> CallRecording:
    """A call's recording.json, checked against the limits of a real call (no audio read).

    ``redactor``: for display (reports), every string is scrubbed as it is read (and
    made UTF-8-encodable)."""
    path = call_dir / RECORDING_JSON
    recording = _read_json_record(path, CallRecording, redactor)
    try:
        check_recording(recording)
        for field in ("caller_wav", "received_wav"):
            check_file_name(getattr(recording, field))
        if recording.heard_wav:
            check_file_name(recording.heard_wav)
    except (RecordingLimitError, RunFolderError) as exc:
        raise RunFolderError(f"{path}: {exc}") from None
    return recording


def load_recording(
    call_dir: Path, dtype: Literal["float32", "int16"] = "float32"
) -> tuple[CallRecording, Audio, Audio]:
    """A call folder back in memory: (recording, caller audio, received audio), for rescore.

    Reads FLAC and the WAVs of older folders alike (recording.json names the files);
    ``AudioNotKept`` when a soak's retention policy dropped the call's audio.
    """
    recording = read_recording(call_dir)
    if not audio_kept(recording):
        raise AudioNotKept(f"{call_dir}: the call's audio was not kept (--keep-audio)")
    caller = _read_wav(call_dir / recording.caller_wav, recording.sample_rate, dtype)
    received = _read_wav(call_dir / recording.received_wav, recording.sample_rate, dtype)
    return recording, caller, received


def audio_kept(recording: CallRecording) -> bool:
    return bool(recording.caller_wav and recording.received_wav)


def load_scenario(call_dir: Path, redactor: SecretRedactor | None = None) -> Scenario:
    return _read_json_record(call_dir / SCENARIO_JSON, Scenario, redactor)


def load_texts(call_dir: Path) -> dict[str, str] | None:
    """The call's corpus texts, or ``None`` for a call folder written without them."""
    path = call_dir / TEXTS_JSON
    if not path.exists() and not path.is_symlink():
        return None
    obj = _read_json(path)
    texts = obj.get("texts") if isinstance(obj, dict) else None
    if not isinstance(obj, dict) or obj.get("schema_version") != SCHEMA_VERSION:
        raise RunFolderError(f"{path}: not a texts file of schema_version {SCHEMA_VERSION}")
    if not isinstance(texts, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in texts.items()
    ):
        raise RunFolderError(f"{path}: 'texts' must map utterance ids to strings")
    return dict(texts)


def iter_call_dirs(run_dir: Path) -> Iterator[Path]:
    """Call folders with a complete recording (recording.json present), sorted by call id."""
    calls = run_dir / CALLS_DIR
    if calls.is_dir():
        yield from sorted(p for p in calls.iterdir() if (p / RECORDING_JSON).is_file())


def _read_json(path: Path) -> object:
    try:
        return json.loads(read_regular_file(path, max_bytes=MAX_JSON_BYTES))
    except OSError as exc:
        raise RunFolderError(f"{path}: cannot read: {exc.strerror or exc}") from None
    except RecursionError:
        raise RunFolderError(f"{path}: not usable JSON: nested too deeply") from None
    except ValueError as exc:
        raise RunFolderError(f"{path}: not JSON: {exc}") from None


def _read_json_record(path: Path, cls: type[T], redactor: SecretRedactor | None = None) -> T:
    obj = _read_json(path)
    if not isinstance(obj, dict):
        raise RunFolderError(f"{path}: expected a JSON object, got {type(obj).__name__}")
    try:
        cleaned = utf8_safe(redactor.redact_obj(obj)) if redactor is not None else obj
        assert isinstance(cleaned, dict)
        return from_json_obj(cls, cleaned)
    except SerializationError as exc:
        raise RunFolderError(f"{path}: {exc}") from None
    except RecursionError:
        raise RunFolderError(f"{path}: JSON nested too deeply") from None


def _read_wav(path: Path, rate: int, dtype: Literal["float32", "int16"]) -> Audio:
    """The file's samples (FLAC or WAV), after its header was checked (rate, mono,
    bounded length)."""
    try:
        if not path.is_file():
            raise RunFolderError(f"{path}: cannot read audio: missing or not a regular file")
        if path.stat().st_size == 0:  # how the writer stores a signal with no samples (a failed call)
            return np.zeros(0, dtype=dtype)
        info = sf.info(str(path))
        check_wav_header(info.frames, info.samplerate, info.channels, rate)
        data, _ = sf.read(path, dtype=dtype, always_2d=False)
    except RecordingLimitError as exc:
        raise RunFolderError(f"{path}: {exc}") from None
    except (OSError, RuntimeError, sf.LibsndfileError) as exc:
        raise RunFolderError(f"{path}: cannot read audio: {exc}") from None
    if data.ndim != 1:
        raise RunFolderError(f"{path}: expected mono, got {data.shape[1]} channels")
    return data  # type: ignore[no-any-return]

"""The run folder on disk: what a run leaves behind, written so that a crash loses little.

Layout (docs/run-folder.md; the parts written while calls run)::

    <root>/<run_id>/
      run.json              RunInfo; rewritten atomically (temp file + rename)
      results.jsonl         one Measurement per line, appended + fsync'd as calls finish
      calls/<call_id>/
        caller.wav          what the caller sent, 16-bit mono; sample 0 is t=0
        received.wav        what arrived, laid out on the same call clock
        mix.wav             stereo for listening: left = caller, right = agent
        recording.json      the CallRecording (written last: its presence marks the call complete)

Appends to ``results.jsonl`` take an exclusive ``flock`` and go out as one ``O_APPEND``
write, so calls finishing in several processes never interleave their lines, and each
batch is on disk before the function returns: a killed soak keeps every finished call.
Everything after a recording can be recomputed from this folder (``rescore``).
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import secrets
import sys
from collections.abc import Iterable, Iterator, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

import numpy as np
import numpy.typing as npt
import soundfile as sf

from harness.records import SCHEMA_VERSION, CallRecording, JSONValue, Measurement, Scenario
from harness.redact import SecretRedactor, register_secret_env
from harness.safe_io import utf8_safe
from harness.store.layout import (
    AUDIO_FORMAT,
    CALLS_DIR,
    MIX_FLAC,
    MIX_WAV,
    RECORDING_JSON,
    RESULTS_JSONL,
    RUN_JSON,
    SAFE_NAME,
    SCENARIO_JSON,
    TEXTS_JSON,
    Audio,
    AudioNotKept,
    RunFolderError,
    check_name,
    flac_name,
)
from harness.store.readers import (
    audio_kept,
    iter_call_dirs,
    load_recording,
    load_scenario,
    load_texts,
    read_recording,
    read_results,
    read_run_info,
)
from harness.store.run_info import RunInfo
from harness.store.serialize import to_json_obj

__all__ = [  # the readers and layout names are re-exported: callers import them from here
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
    "RunFolder",
    "RunFolderError",
    "audio_kept",
    "iter_call_dirs",
    "load_recording",
    "load_scenario",
    "load_texts",
    "new_run_id",
    "read_recording",
    "read_results",
    "read_run_info",
]

if sys.platform != "win32":
    import fcntl

_NUMERIC_FIELDS = frozenset({"received_anchors", "heard_anchors"})
"""CallRecording fields typed as integer pairs: nothing in them can be a secret."""


def new_run_id(now: datetime | None = None) -> str:
    """``2026-11-25T17-30-05_ab12``: sorts by start time (UTC), unique by its random tail."""
    now = now or datetime.now(UTC)
    return f"{now.astimezone(UTC):%Y-%m-%dT%H-%M-%S}_{secrets.token_hex(2)}"


class RunFolder:
    """One run's folder; safe to use from several processes for the same run."""

    def __init__(self, path: Path, *, redactor: SecretRedactor | None = None) -> None:
        self.path = path
        self.redactor = (redactor or SecretRedactor()).add_environment()
        """Applied to every string written (endpoint text can echo credentials): it knows
        the environment's keys, and learns each endpoint's ``api_key_env`` from run.json."""

    @classmethod
    def create(
        cls, root: Path, run_id: str | None = None, *, redactor: SecretRedactor | None = None
    ) -> RunFolder:
        """A new, empty run folder under ``root``; an explicit ``run_id`` must not exist yet."""
        for _ in range(20):
            rid = check_name("run id", run_id) if run_id is not None else new_run_id()
            path = root / rid
            try:
                root.mkdir(parents=True, exist_ok=True)
                path.mkdir()
            except FileExistsError:
                if run_id is not None:
                    raise RunFolderError(f"{path}: run folder already exists") from None
                continue
            except OSError as exc:
                raise RunFolderError(f"{path}: cannot create run folder: {exc}") from None
            folder = cls(path, redactor=redactor)
            (path / CALLS_DIR).mkdir()
            folder.results_path.touch()
            _fsync_dir(path)
            return folder
        raise RunFolderError(f"{root}: could not find a free run id")

    @classmethod
    def open(cls, path: Path, *, redactor: SecretRedactor | None = None) -> RunFolder:
        """An existing run folder (to resume, rescore or add results from another process)."""
        if not path.is_dir():
            raise RunFolderError(f"{path}: no such run folder")
        folder = cls(path, redactor=redactor)
        with contextlib.suppress(RunFolderError):  # a run.json not written yet names no key
            folder._learn_keys(read_run_info(path))
        return folder

    @property
    def run_id(self) -> str:
        return self.path.name

    @property
    def results_path(self) -> Path:
        return self.path / RESULTS_JSONL

    @property
    def run_json_path(self) -> Path:
        return self.path / RUN_JSON

    def call_dir(self, call_id: str) -> Path:
        """The call's folder, created if needed."""
        path = self.path / CALLS_DIR / check_name("call id", call_id)
        path.mkdir(parents=True, exist_ok=True)
        return path

    # ---------------------------------------------------------------- writing

    def write_recording(
        self, recording: CallRecording, caller_audio: Audio, received_audio: Audio,
        heard_audio: Audio | None = None, *, keep_audio: bool = True,
    ) -> Path:
        """Write the call's audio (FLAC) and recording.json; return the call folder.

        Both signals must already be on the call clock (sample i is at i / sample_rate
        seconds of call time), so the stereo mix is a plain zero-pad to equal length.
        Float audio is taken as [-1, 1] and clipped; int16 is written as is. The files
        are named in recording.json (``caller.flac``, ...). With ``keep_audio`` off (a
        soak's retention policy) only recording.json is written, its audio names empty.
        """
        call_dir = self.call_dir(recording.call_id)
        if not keep_audio:
            recording = dataclasses.replace(recording, caller_wav="", received_wav="", heard_wav="")
            self._write_json(call_dir / RECORDING_JSON, to_json_obj(recording), numeric=_NUMERIC_FIELDS)
            return call_dir
        caller = _to_int16(caller_audio, "caller audio")
        received = _to_int16(received_audio, "received audio")
        rate = recording.sample_rate
        heard = None
        if heard_audio is not None and len(heard_audio) and recording.heard_wav:
            heard = _to_int16(heard_audio, "heard audio")  # the page's own recording, for listening
        recording = dataclasses.replace(
            recording, caller_wav=flac_name(recording.caller_wav),
            received_wav=flac_name(recording.received_wav),
            heard_wav=flac_name(recording.heard_wav) if heard is not None else "")

        mix = np.zeros((max(len(caller), len(received)), 2), dtype=np.int16)
        mix[: len(caller), 0] = caller
        mix[: len(received), 1] = received
        files = [(recording.caller_wav, caller), (recording.received_wav, received), (MIX_FLAC, mix)]
        if heard is not None:
            files.append((recording.heard_wav, heard))
        for name, data in files:
            with _atomic_file(call_dir / name) as out:
                if len(data):  # a call with no audio (most failures) gets an empty file: FLAC has no empty form
                    sf.write(out, data, rate, format=AUDIO_FORMAT, subtype="PCM_16")
        self._write_json(call_dir / RECORDING_JSON, to_json_obj(recording), numeric=_NUMERIC_FIELDS)
        return call_dir

    def append_results(self, measurements: Iterable[Measurement]) -> int:
        """Append one line per measurement to results.jsonl, durably; return the line count.

        One locked ``O_APPEND`` write per call keeps a call's lines together and other
        processes' lines whole; ``fsync`` before returning makes them survive a crash.
        """
        lines = [self._json_line(to_json_obj(m)) for m in measurements]
        if not lines:
            return 0
        data = "".join(lines).encode("utf-8")
        try:
            fd = os.open(self.results_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        except OSError as exc:
            raise RunFolderError(f"{self.results_path}: cannot open for appending: {exc}") from None
        try:
            _lock(fd)
            view = memoryview(data)
            while view:
                written = os.write(fd, view)
                view = view[written:]
            os.fsync(fd)
        except OSError as exc:
            raise RunFolderError(f"{self.results_path}: cannot append: {exc}") from None
        finally:
            os.close(fd)  # also releases the lock
        return len(lines)

    def write_scenario(self, call_id: str, scenario: Scenario) -> Path:
        path = self.call_dir(call_id) / SCENARIO_JSON
        self._write_json(path, to_json_obj(scenario), indent=2)
        return path

    def write_texts(self, call_id: str, texts: Mapping[str, str]) -> Path:
        """The corpus text of every utterance the call said (what ``input_wer`` compares with)."""
        path = self.call_dir(call_id) / TEXTS_JSON
        obj: dict[str, Any] = {"schema_version": SCHEMA_VERSION, "texts": dict(texts)}
        self._write_json(path, obj, indent=2)
        return path

    def replace_results(self, measurements: Iterable[Measurement]) -> int:
        """Rewrite results.jsonl at once (rescore): readers see the old or the new file."""
        lines = [self._json_line(to_json_obj(m)) for m in measurements]
        with _atomic_file(self.results_path) as out:
            out.write("".join(lines).encode("utf-8"))
        return len(lines)

    def write_run_json(self, info: RunInfo) -> Path:
        """Write (or replace) run.json atomically: readers see the old or the new, never half.

        The endpoints it names teach the folder's redactor their keys, so everything
        written after the first run.json (every call) is scrubbed of them."""
        self._learn_keys(info)
        self._write_json(self.run_json_path, to_json_obj(info), indent=2)
        return self.run_json_path

    def read_run_json(self) -> RunInfo:
        return read_run_info(self.path)

    # --------------------------------------------------------------- helpers

    def _learn_keys(self, info: RunInfo) -> None:
        names = [spec.api_key_env for spec in info.endpoints if spec.api_key_env]
        for name in names:
            register_secret_env(name)
        self.redactor.add_environment(names)

    def _clean(self, obj: dict[str, Any], numeric: frozenset[str] = frozenset()) -> JSONValue:
        """Every string redacted and made UTF-8-encodable (a lone surrogate from an endpoint
        must not stop a run). Top-level fields in ``numeric`` are integer arrays by the
        record's type (packet anchors: thousands of pairs) and are passed through unwalked:
        a long call's recording is cleaned in milliseconds."""
        redact = self.redactor.redact

        def walk(value: Any) -> Any:
            kind = type(value)
            if kind is str:
                return utf8_safe(redact(value))
            if kind is list:
                return [walk(v) for v in value]
            if kind is dict:
                return {walk(k): walk(v) for k, v in value.items()}
            return value

        return {walk(k): (v if k in numeric else walk(v)) for k, v in obj.items()}

    def _json_line(self, obj: dict[str, Any]) -> str:
        text = json.dumps(
            self._clean(obj), ensure_ascii=False, allow_nan=False, separators=(",", ":")
        )
        return text + "\n"

    def _write_json(
        self, path: Path, obj: dict[str, Any], indent: int | None = None,
        numeric: frozenset[str] = frozenset(),
    ) -> None:
        text = json.dumps(self._clean(obj, numeric), ensure_ascii=False, allow_nan=False, indent=indent)
        with _atomic_file(path) as out:
            out.write(text.encode("utf-8") + b"\n")


# --------------------------------------------------------------------- file helpers


def _to_int16(audio: Audio, what: str) -> npt.NDArray[np.int16]:
    data: npt.NDArray[Any] = np.asarray(audio)
    if data.ndim == 2 and 1 in data.shape:
        data = data.reshape(-1)
    if data.ndim != 1:
        raise RunFolderError(f"{what}: expected mono samples, got shape {data.shape}")
    if data.dtype == np.int16:
        return data.astype(np.int16, copy=False)
    if not np.issubdtype(data.dtype, np.floating):
        raise RunFolderError(f"{what}: expected float or int16 samples, got {data.dtype}")
    scaled = data.astype(np.float64) * 32768.0
    if not np.all(np.isfinite(scaled)):
        raise RunFolderError(f"{what}: contains NaN or infinite samples")
    # Scale by 32768, as soundfile does when reading int16 back as float.
    return np.clip(np.round(scaled), -32768, 32767).astype(np.int16)


@contextlib.contextmanager
def _atomic_file(path: Path) -> Iterator[IO[bytes]]:
    """Write to a temporary sibling, fsync, then rename over ``path``."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(3)}.tmp")
    try:
        with tmp.open("wb") as out:
            yield out
            out.flush()
            os.fsync(out.fileno())
        tmp.replace(path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    _fsync_dir(path.parent)


def _fsync_dir(path: Path) -> None:
    """Make a rename or a new file in ``path`` durable (no-op where directories cannot be opened)."""
    if sys.platform == "win32":
        return
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _lock(fd: int) -> None:
    if sys.platform != "win32":
        fcntl.flock(fd, fcntl.LOCK_EX)

"""Run-folder readers: a damaged or hand-edited file is a value within limits or a RunFolderError.

Mutations of a real call folder (recording.json fields set to hostile values, WAV
header bytes overwritten, results lines replaced by garbage) are read back the way
``rescore`` and ``report`` read them. A recording that passes the readers must also be
placeable on the call clock (``build_timeline``) without anything but a ValueError.
"""

from __future__ import annotations

import contextlib
import copy
import json
import tempfile
from pathlib import Path

import numpy as np
from fuzz.hostile import hostile_json, hostile_numbers, nested
from hypothesis import example, given
from hypothesis import strategies as st
from slo.synth_runs import write_call

from harness.analysis.timeline import build_timeline
from harness.store.limits import MAX_CALL_NS
from harness.store.run_folder import (
    RunFolder,
    RunFolderError,
    load_recording,
    load_scenario,
    load_texts,
    read_recording,
    read_results,
)

_ROOT = Path(tempfile.mkdtemp(prefix="vh-fuzz-"))
_FOLDER = RunFolder.create(_ROOT, "run")
write_call(_FOLDER, "c0", turns=1)
_CALL = _FOLDER.path / "calls" / "c0"
_RECORDING = json.loads((_CALL / "recording.json").read_text())
_RECEIVED_FILE = _CALL / str(_RECORDING["received_wav"])  # FLAC since soak retention; WAV before
_RECEIVED = _RECEIVED_FILE.read_bytes()
_SCENARIO = (_CALL / "scenario.json").read_text()

FIELDS = [
    ("sample_rate",), ("duration_ns",), ("connected_ns",), ("received_anchors",), ("received_anchors", 0),
    ("received_anchors", 0, 0), ("received_anchors", 0, 1), ("heard_anchors",), ("sent",), ("sent", 0),
    ("sent", 0, "start_sample"), ("sent", 0, "speech_end_ns"), ("sent", 0, "voiced_ns"), ("steps", 0),
    ("steps", 0, "ended_ns"), ("events",), ("events", 0, "t_ns"), ("events", 0, "data"), ("events", 0, "kind"),
    ("caller_wav",), ("received_wav",), ("heard_wav",), ("failure",), ("schema_version",), ("call_id",),
    ("dialect_info",), ("transport",), ("send_timing",), ("validity",), ("caller",),
]
VALUES = st.one_of(hostile_json, hostile_numbers, st.integers(20, 60).map(nested),
                   st.sampled_from(["../../run.json", "/dev/zero", "received.wav", ".x", "a\x00b", [[10**15, 0]],
                                    [[0, 10**30]], [[960, 0], [0, 1]], 1, 10**15, -(10**15), MAX_CALL_NS + 1]))


def _set(obj: object, path: tuple[str | int, ...], value: object) -> None:
    for part in path[:-1]:
        if (isinstance(obj, dict) and part in obj) or (isinstance(obj, list) and isinstance(part, int) and part < len(obj)):
            obj = obj[part]
        else:
            return
    last = path[-1]
    if isinstance(obj, dict) or (isinstance(obj, list) and isinstance(last, int) and last < len(obj)):
        obj[last] = value


recording_changes = st.lists(st.tuples(st.sampled_from(FIELDS), VALUES), min_size=1, max_size=3)
wav_patches = st.lists(st.tuples(st.integers(0, 60), st.binary(min_size=1, max_size=4)), min_size=1, max_size=4)
call_damage = st.one_of(
    st.tuples(st.just("recording"), recording_changes),
    st.tuples(st.just("wav"), wav_patches),
    st.tuples(st.sampled_from(["texts", "scenario"]), hostile_json),
)


_ORIGINAL = {"recording": ("recording.json", json.dumps(_RECORDING).encode()),
             "wav": (_RECEIVED_FILE.name, _RECEIVED), "scenario": ("scenario.json", _SCENARIO.encode()),
             "texts": ("texts.json", None)}


def _restore(kind: str) -> None:
    """Put back only the file an example damaged (file writes are most of the cost)."""
    name, data = _ORIGINAL[kind]
    if data is None:
        (_CALL / name).unlink(missing_ok=True)
    else:
        (_CALL / name).write_bytes(data)


def _damage(kind: str, change: object) -> None:
    if kind == "recording":
        obj = copy.deepcopy(_RECORDING)
        for path, value in change:  # type: ignore[attr-defined]
            _set(obj, path, value)
        (_CALL / "recording.json").write_text(json.dumps(obj))
    elif kind == "wav":
        data = bytearray(_RECEIVED)
        for offset, chunk in change:  # type: ignore[attr-defined]
            data[offset: offset + len(chunk)] = chunk
        _RECEIVED_FILE.write_bytes(bytes(data))
    else:
        wrapped = {"schema_version": 1, "texts": change} if kind == "texts" else change
        (_CALL / f"{kind}.json").write_text(json.dumps(wrapped, allow_nan=True))


@given(call_damage)
@example(("recording", [(("sent", 0, "start_sample"), 10**15)]))
@example(("recording", [(("received_anchors",), [[10**15, 0]])]))
@example(("recording", [(("received_anchors",), [[960, 0], [0, 20_000_000]])]))
@example(("recording", [(("received_anchors",), [[0, 10**30]])]))
@example(("recording", [(("sample_rate",), 1)]))
@example(("recording", [(("caller_wav",), "../../run.json")]))
@example(("wav", [(24, b"\x01\x00\x00\x00")]))  # 1 Hz
@example(("wav", [(40, b"\xff\xff\xff\x7f")]))  # a data chunk claiming 2 GB
@example(("wav", [(22, b"\x08\x00")]))  # 8 channels
@example(("texts", {"q": 5}))
@example(("scenario", {"schema_version": 1, "id": 5}))
def test_call_folder_damage(damage: tuple[str, object]) -> None:
    """What rescore reads of a call: recording.json, its WAVs, scenario.json, texts.json."""
    _damage(*damage)
    try:
        try:
            recording, _, received = load_recording(_CALL)
            load_scenario(_CALL)
            load_texts(_CALL)
        except RunFolderError as exc:
            assert str(_CALL) in str(exc)
            return
        assert read_recording(_CALL) == recording
        assert received.ndim == 1 and received.size <= 2 * 3600 * recording.sample_rate
        with contextlib.suppress(ValueError):
            build_timeline(recording, np.asarray(received, dtype=np.float32))
    finally:
        _restore(damage[0])


_LINE = json.dumps({"schema_version": 1, "call_id": "c0", "scenario": "s", "endpoint": "e", "caller": "aiortc",
                    "repeat": 0, "turn": 0, "metric": "turn_latency_ms", "value": 1.0, "unit": "ms"})
lines = st.one_of(st.just(_LINE), st.binary(max_size=40),
                  hostile_json.map(lambda v: json.dumps(v, allow_nan=True)),
                  st.builds(lambda k, v: json.dumps({**json.loads(_LINE), k: v}, allow_nan=True),
                            st.sampled_from(["value", "unit", "turn", "caller", "metric", "schema_version", "x"]),
                            hostile_json))


@given(st.lists(st.one_of(lines.map(lambda x: x.encode() if isinstance(x, str) else x)), max_size=6),
       st.booleans())
@example([b"\x00garbage{"], True)
@example([(_LINE.replace('"ms"', '"s"')).encode(), _LINE.encode()], True)
def test_results_lines(content: list[bytes], newline_at_end: bool) -> None:
    data = b"\n".join(content) + (b"\n" if newline_at_end else b"")
    (_FOLDER.path / "results.jsonl").write_bytes(data)
    try:
        rows = read_results(_FOLDER.path)
    except RunFolderError as exc:
        assert "results.jsonl:" in str(exc)
        return
    units: dict[str, str] = {}
    for m in rows:
        assert units.setdefault(m.metric, m.unit) == m.unit

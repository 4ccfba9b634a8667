"""The run folder: WAV layout and content, durable concurrent appends, atomic run.json."""

from __future__ import annotations

import dataclasses
import json
import multiprocessing
import re
import sys
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from harness.endpoints.config import endpoint_redactor
from harness.records import (
    SCHEMA_VERSION,
    CallerKind,
    CallRecording,
    Dialect,
    EndpointSpec,
    Failure,
    FailureKind,
    Measurement,
)
from harness.store import run_folder
from harness.store.run_folder import (
    AudioNotKept,
    RunFolder,
    RunFolderError,
    iter_call_dirs,
    load_recording,
    new_run_id,
    read_results,
    read_run_info,
)
from harness.store.run_info import RunInfo, collect_environment, git_state, utc_now_iso
from harness.store.serialize import to_json_obj

RATE = 48000
SECRET = "sk-test-Secret0123456789"


def measurement(i: int, *, call: str = "c0", reason: str | None = None) -> Measurement:
    return Measurement(
        call_id=call,
        scenario="smoke_single_turn",
        endpoint="local-openai",
        caller=CallerKind.AIORTC,
        repeat=i % 3,
        turn=i,
        metric="turn_latency",
        value=400.0 + i / 8,
        unit="ms",
        passed=i % 2 == 0,
        reason=reason,
    )


def recording(call_id: str = "smoke-local-aiortc-0", reason: str = "ok") -> CallRecording:
    return CallRecording(
        call_id=call_id,
        scenario_id="smoke",
        endpoint="local-openai",
        caller=CallerKind.AIORTC,
        duration_ns=2_000_000_000,
        received_anchors=((0, 5_000_000), (960, 25_000_000)),
        failure=Failure(kind=FailureKind.DROPPED, reason=reason),
    )


# ---------------------------------------------------------------------- creation


def test_run_ids_sort_by_time_and_are_unique(tmp_path: Path) -> None:
    rid = new_run_id(datetime(2026, 11, 25, 17, 30, 5, tzinfo=UTC))
    assert re.fullmatch(r"2026-11-25T17-30-05_[0-9a-f]{4}", rid)
    folders = [RunFolder.create(tmp_path) for _ in range(5)]
    assert len({f.path for f in folders}) == 5
    for folder in folders:
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d-\d\d-\d\d_[0-9a-f]{4}", folder.run_id)
        assert folder.results_path.read_bytes() == b""
        assert (folder.path / "calls").is_dir()


def test_explicit_run_id_must_be_new_and_safe(tmp_path: Path) -> None:
    folder = RunFolder.create(tmp_path / "reports", "nightly-1")
    assert folder.path == tmp_path / "reports" / "nightly-1"
    with pytest.raises(RunFolderError, match="run folder already exists"):
        RunFolder.create(tmp_path / "reports", "nightly-1")
    for bad in ("../escape", "a/b", ".hidden", "", "has space"):
        with pytest.raises(RunFolderError, match="cannot be a folder name"):
            RunFolder.create(tmp_path, bad)
    with pytest.raises(RunFolderError, match="cannot be a folder name"):
        folder.call_dir("../../etc")
    with pytest.raises(RunFolderError, match="no such run folder"):
        RunFolder.open(tmp_path / "nope")


# --------------------------------------------------------------------- recording


def test_write_recording_lays_out_flacs_on_the_call_clock(tmp_path: Path) -> None:
    folder = RunFolder.create(tmp_path, "r")
    rng = np.random.default_rng(7)
    caller = rng.integers(-20000, 20000, size=RATE, dtype=np.int16)  # 1.0 s, exact int16
    received = (rng.uniform(-0.9, 0.9, size=RATE + RATE // 2)).astype(np.float32)  # 1.5 s
    received[:100] = [1.5, -1.5] * 50  # out of range: must clip, not wrap

    call_dir = folder.write_recording(recording(), caller, received)
    assert call_dir == tmp_path / "r" / "calls" / "smoke-local-aiortc-0"
    assert sorted(p.name for p in call_dir.iterdir()) == [
        "caller.flac",
        "mix.flac",
        "received.flac",
        "recording.json",
    ]
    for name, channels, frames in (
        ("caller.flac", 1, RATE),
        ("received.flac", 1, 72000),
        ("mix.flac", 2, 72000),
    ):
        info = sf.info(call_dir / name)
        assert (info.samplerate, info.channels, info.frames, info.subtype, info.format) == (
            RATE,
            channels,
            frames,
            "PCM_16",
            "FLAC",
        )

    got_caller, _ = sf.read(call_dir / "caller.flac", dtype="int16")
    np.testing.assert_array_equal(got_caller, caller)
    got_received, _ = sf.read(call_dir / "received.flac", dtype="float32")
    assert got_received[0] == pytest.approx(32767 / 32768) and got_received[1] == -1.0
    # Quantisation to 16 bits: at most half a step (1/65536) off the float input.
    np.testing.assert_allclose(got_received[100:], received[100:], rtol=0, atol=0.5 / 32768 + 1e-7)

    mix, _ = sf.read(call_dir / "mix.flac", dtype="int16")
    np.testing.assert_array_equal(mix[:RATE, 0], caller)
    np.testing.assert_array_equal(mix[RATE:, 0], 0)  # caller padded with silence
    got_received_int, _ = sf.read(call_dir / "received.flac", dtype="int16")
    np.testing.assert_array_equal(mix[:, 1], got_received_int)


def test_load_recording_gives_back_what_was_written(tmp_path: Path) -> None:
    folder = RunFolder.create(tmp_path, "r")
    caller = np.arange(-500, 500, dtype=np.int16)
    received = np.zeros((300, 1), dtype=np.int16)  # (n, 1) is accepted as mono
    received[10, 0] = 1234
    rec = recording()
    folder.write_recording(rec, caller, received)
    back, got_caller, got_received = load_recording(folder.call_dir(rec.call_id), dtype="int16")
    assert back == dataclasses.replace(rec, caller_wav="caller.flac", received_wav="received.flac")
    np.testing.assert_array_equal(got_caller, caller)
    np.testing.assert_array_equal(got_received, received[:, 0])
    _, as_float, _ = load_recording(folder.call_dir(rec.call_id))
    assert as_float.dtype == np.float32
    np.testing.assert_allclose(as_float, caller / 32768.0, rtol=0, atol=1e-7)
    assert list(iter_call_dirs(folder.path)) == [folder.call_dir(rec.call_id)]


def test_a_call_with_no_audio_reads_back_empty(tmp_path: Path) -> None:
    """A call that failed before any audio (refused offer, wrong URL) has empty signals;
    FLAC has no empty form, so they are empty files, which read back as no samples and
    not as damage (rescore and timelines of failed calls depend on it)."""
    folder = RunFolder.create(tmp_path, "r")
    failed = dataclasses.replace(recording(), failure=Failure(kind=FailureKind.CONNECT_ERROR, reason="cannot reach"))
    call_dir = folder.write_recording(failed, np.zeros(0, np.float32), np.zeros(0, np.int16))
    assert (call_dir / "caller.flac").stat().st_size == 0 and (call_dir / "mix.flac").stat().st_size == 0
    back, caller, received = load_recording(call_dir)
    assert back.failure == failed.failure
    assert caller.shape == (0,) and received.shape == (0,) and caller.dtype == np.float32
    # one side empty, the other not: each reads back as written
    call_dir = folder.write_recording(dataclasses.replace(failed, call_id="half"), np.ones(50, np.int16),
                                      np.zeros(0, np.int16))
    _, caller, received = load_recording(call_dir, dtype="int16")
    np.testing.assert_array_equal(caller, np.ones(50, np.int16))
    assert received.shape == (0,)


def test_bad_audio_is_refused(tmp_path: Path) -> None:
    folder = RunFolder.create(tmp_path, "r")
    ok = np.zeros(10, dtype=np.float32)
    with pytest.raises(RunFolderError, match="caller audio: expected mono samples, got shape"):
        folder.write_recording(recording(), np.zeros((10, 2), np.float32), ok)
    with pytest.raises(RunFolderError, match="received audio: contains NaN"):
        folder.write_recording(recording(), ok, np.array([0.0, np.nan], np.float32))
    with pytest.raises(RunFolderError, match="expected float or int16 samples"):
        folder.write_recording(recording(), ok, np.zeros(3, np.int32))
    bad_name = CallRecording(
        call_id="x", scenario_id="s", endpoint="e", caller=CallerKind.AIORTC, caller_wav="../x.wav"
    )
    with pytest.raises(RunFolderError, match="not a plain file name"):
        folder.write_recording(bad_name, ok, ok)


def test_folders_written_with_wavs_still_load(tmp_path: Path) -> None:
    """A run folder from before FLAC (caller.wav, received.wav) reads the same."""
    folder = RunFolder.create(tmp_path, "r")
    rec = recording()
    call_dir = folder.call_dir(rec.call_id)
    caller = np.arange(-300, 300, dtype=np.int16)
    sf.write(call_dir / "caller.wav", caller, RATE, format="WAV", subtype="PCM_16")
    sf.write(call_dir / "received.wav", caller[::-1], RATE, format="WAV", subtype="PCM_16")
    (call_dir / "recording.json").write_bytes(json.dumps(to_json_obj(rec)).encode())
    back, got_caller, got_received = load_recording(call_dir, dtype="int16")
    assert back.caller_wav == "caller.wav"
    np.testing.assert_array_equal(got_caller, caller)
    np.testing.assert_array_equal(got_received, caller[::-1])


def test_audio_not_kept(tmp_path: Path) -> None:
    """The retention policy may drop a call's audio: only recording.json is written, and
    reading the audio says why instead of returning silence to score."""
    folder = RunFolder.create(tmp_path, "r")
    call_dir = folder.write_recording(recording(), np.ones(100, np.float32) / 2, np.zeros(100, np.int16),
                                      keep_audio=False)
    assert sorted(p.name for p in call_dir.iterdir()) == ["recording.json"]
    with pytest.raises(AudioNotKept, match="not kept"):
        load_recording(call_dir)
    assert list(iter_call_dirs(folder.path)) == [call_dir]  # still listed: the call happened


def test_flac_is_smaller_than_wav_on_speech_with_pauses(tmp_path: Path) -> None:
    """A tone burst in silence (what a call's tracks mostly are): FLAC at most a fifth of WAV."""
    folder = RunFolder.create(tmp_path, "r")
    t = np.arange(RATE * 4) / RATE
    audio = (0.3 * np.sin(2 * np.pi * 220 * t) * (t % 2 < 0.7)).astype(np.float32)
    call_dir = folder.write_recording(recording(), audio, audio)
    wav_bytes = 44 + audio.size * 2
    assert (call_dir / "caller.flac").stat().st_size < wav_bytes / 5


def test_load_recording_reports_damage(tmp_path: Path) -> None:
    folder = RunFolder.create(tmp_path, "r")
    call_dir = folder.write_recording(recording(), np.zeros(10, np.int16), np.zeros(10, np.int16))
    sf.write(call_dir / "received.flac", np.zeros(10, np.int16), 16000)
    with pytest.raises(
        RunFolderError, match=r"received\.flac: sample rate 16000 Hz, recording\.json says 48000 Hz"
    ):
        load_recording(call_dir)
    (call_dir / "recording.json").write_text('{"schema_version": 99}')
    with pytest.raises(
        RunFolderError, match=r"recording\.json: CallRecording: schema_version 99 is not supported"
    ):
        load_recording(call_dir)


# ----------------------------------------------------------------------- results


def test_results_lines_have_the_agreed_fields(tmp_path: Path) -> None:
    folder = RunFolder.create(tmp_path, "r")
    written = [measurement(i, reason="slow" if i else None) for i in range(3)]
    assert folder.append_results(written) == 3
    assert folder.append_results([]) == 0
    lines = folder.results_path.read_text(encoding="utf-8").splitlines()
    assert len(lines) == 3
    first = json.loads(lines[0])
    assert set(first) >= {
        "schema_version",
        "call_id",
        "scenario",
        "endpoint",
        "caller",
        "repeat",
        "turn",
        "metric",
        "value",
        "unit",
        "passed",
        "reason",
    }
    assert first["schema_version"] == SCHEMA_VERSION
    assert first["caller"] == "aiortc"
    assert read_results(folder.path) == written


def test_a_torn_last_line_is_skipped_but_other_damage_is_an_error(tmp_path: Path) -> None:
    folder = RunFolder.create(tmp_path, "r")
    folder.append_results([measurement(0), measurement(1)])
    with folder.results_path.open("ab") as out:
        out.write(b'{"schema_version": 1, "call_id": "c0", "scen')  # killed mid-append
    assert read_results(folder.path) == [measurement(0), measurement(1)]

    folder.results_path.write_bytes(b"")
    folder.append_results([measurement(0)])
    with folder.results_path.open("ab") as out:
        out.write(b"not json\n")
    folder.append_results([measurement(2)])
    with pytest.raises(RunFolderError, match=rf"{re.escape(str(folder.results_path))}:2: "):
        read_results(folder.path)


def _append_worker(
    run_dir: str, worker: int, count: int, start: multiprocessing.synchronize.Barrier
) -> None:
    folder = RunFolder.open(Path(run_dir))
    start.wait()
    # Lines far larger than PIPE_BUF (4096 bytes), so unlocked writes could interleave.
    padding = chr(ord("a") + worker) * 6000
    for i in range(count):
        folder.append_results([measurement(i, call=f"w{worker}", reason=f"{worker}:{i}:{padding}")])


@pytest.mark.slow
def test_two_processes_appending_never_interleave(tmp_path: Path) -> None:
    folder = RunFolder.create(tmp_path, "r")
    ctx = multiprocessing.get_context("spawn")
    start = ctx.Barrier(2)
    workers = [
        ctx.Process(target=_append_worker, args=(str(folder.path), w, 500, start)) for w in range(2)
    ]
    for p in workers:
        p.start()
    for p in workers:
        p.join(timeout=120)
        assert p.exitcode == 0

    raw = folder.results_path.read_bytes()
    assert raw.endswith(b"\n")
    lines = raw.split(b"\n")[:-1]
    assert len(lines) == 1000
    seen: dict[int, list[int]] = {0: [], 1: []}
    for line in lines:
        obj = json.loads(line)
        worker, i, padding = obj["reason"].split(":")
        assert padding == chr(ord("a") + int(worker)) * 6000
        assert obj["call_id"] == f"w{worker}" and obj["turn"] == int(i)
        seen[int(worker)].append(int(i))
    # Every line of each process is there, in that process's order.
    assert seen == {0: list(range(500)), 1: list(range(500))}
    assert len(read_results(folder.path)) == 1000


# ---------------------------------------------------------------------- run.json


def info(run_id: str, finished: str | None = None) -> RunInfo:
    return RunInfo(
        run_id=run_id,
        started_at="2026-11-25T17:30:05+00:00",
        finished_at=finished,
        argv=("voice-harness", "run", f"--note={SECRET}"),
        environment=collect_environment(),
        endpoints=(
            EndpointSpec(
                name="openai",
                dialect=Dialect.OPENAI_REALTIME,
                url="https://api.openai.com",
                api_key_env="VH_TEST_OPENAI_KEY",
            ),
        ),
    )


def test_run_json_is_atomic_and_free_of_secrets(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("VH_TEST_OPENAI_KEY", SECRET)
    first = info("r")
    redactor = endpoint_redactor(first.endpoints)
    folder = RunFolder.create(tmp_path, "r", redactor=redactor)
    folder.write_run_json(first)
    folder.write_run_json(info("r", finished="2026-11-25T17:31:00+00:00"))
    assert sorted(p.name for p in folder.path.iterdir()) == ["calls", "results.jsonl", "run.json"]

    text = folder.run_json_path.read_text(encoding="utf-8")
    assert SECRET not in text
    assert '"api_key_env": "VH_TEST_OPENAI_KEY"' in text
    back = read_run_info(folder.path)
    assert back.finished_at == "2026-11-25T17:31:00+00:00"
    assert back.argv == ("voice-harness", "run", "--note=***")
    assert back.environment.packages["numpy"] == np.__version__
    assert back == folder.read_run_json()

    # The same redactor scrubs recordings and results.
    folder.write_recording(
        recording(reason=f"401 for key {SECRET}"), np.zeros(4, np.int16), np.zeros(4, np.int16)
    )
    folder.append_results([measurement(0, reason=f"Bearer {SECRET}")])
    for path in folder.path.rglob("*.json*"):
        assert SECRET not in path.read_text(encoding="utf-8"), path


def test_failed_write_leaves_the_old_file_and_no_temp(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = RunFolder.create(tmp_path, "r")
    folder.write_run_json(info("r"))
    before = folder.run_json_path.read_bytes()

    def disk_full(fd: int) -> None:
        raise OSError(28, "No space left on device")

    # Fails after the temporary file has been written, before the rename.
    monkeypatch.setattr(run_folder.os, "fsync", disk_full)
    with pytest.raises(OSError, match="No space left"):
        folder.write_run_json(info("r", finished="2026-11-25T17:31:00+00:00"))
    assert folder.run_json_path.read_bytes() == before
    assert sorted(p.name for p in folder.path.iterdir()) == ["calls", "results.jsonl", "run.json"]


def test_environment_facts(tmp_path: Path) -> None:
    env = collect_environment()
    assert env.python.split()[0] == ".".join(map(str, sys.version_info[:3]))
    assert env.packages["pydantic"]
    assert git_state(tmp_path) == (None, None)  # not a repository: no crash, no value
    sha, _dirty = git_state(Path(__file__).parent)
    if (Path(__file__).resolve().parents[2] / ".git").exists():  # a checkout (not an sdist): a sha
        assert sha is not None and re.fullmatch(r"[0-9a-f]{40}", sha), sha
    assert datetime.fromisoformat(utc_now_iso()).tzinfo is not None

"""What a recording read back from disk may claim before anything is computed from it.

``recording.json`` and the WAVs beside it are input like any other once they are on
disk: a damaged or hand-edited folder can declare a 1 Hz sample rate (scoring would
resample 300,000 samples to 48 kHz: 57 GB), a sample index of 10**15 (the plots
allocate up to it) or anchors out of order. Every bound here is far outside what a real
call produces, so only nonsense is refused, and each refusal names the field.
"""

from __future__ import annotations

from collections.abc import Iterable

from harness.records import CallRecording

__all__ = [
    "MAX_CALL_SECONDS",
    "MAX_SAMPLE_RATE",
    "MIN_SAMPLE_RATE",
    "RecordingLimitError",
    "check_recording",
    "check_wav_header",
]

MIN_SAMPLE_RATE = 8_000
MAX_SAMPLE_RATE = 192_000
MAX_CALL_SECONDS = 2 * 3600
"""No call the harness makes lasts two hours; a longer claim is damage."""
MAX_CALL_NS = MAX_CALL_SECONDS * 1_000_000_000
MAX_ITEMS = 2_000_000
"""Anchors, events or steps per recording (a 2 h call has ~360,000 packet anchors)."""


class RecordingLimitError(ValueError):
    """A recording (or its WAV) that claims something no real call produces."""


def _time(field: str, value: int | None) -> None:
    if value is not None and abs(value) > MAX_CALL_NS:
        raise RecordingLimitError(
            f"{field} = {value} ns is more than {MAX_CALL_SECONDS} s from the call start"
        )


def _anchors(field: str, anchors: tuple[tuple[int, int], ...], max_samples: int) -> None:
    if len(anchors) > MAX_ITEMS:
        raise RecordingLimitError(f"{field} has {len(anchors)} entries; at most {MAX_ITEMS}")
    previous = -1
    for i, (sample, t_ns) in enumerate(anchors):
        if not 0 <= sample <= max_samples:
            raise RecordingLimitError(
                f"{field}[{i}] sample index {sample} is outside 0..{max_samples}"
            )
        if sample < previous:
            raise RecordingLimitError(
                f"{field}[{i}] sample index {sample} comes after {previous}: not sorted"
            )
        previous = sample
        _time(f"{field}[{i}] arrival", t_ns)


def _count(field: str, items: Iterable[object]) -> None:
    n = sum(1 for _ in items)
    if n > MAX_ITEMS:
        raise RecordingLimitError(f"{field} has {n} entries; at most {MAX_ITEMS}")


def check_recording(rec: CallRecording) -> None:
    """Refuse a recording whose rate, times or sample positions are out of any real range."""
    if not MIN_SAMPLE_RATE <= rec.sample_rate <= MAX_SAMPLE_RATE:
        raise RecordingLimitError(
            f"sample_rate = {rec.sample_rate} Hz is outside {MIN_SAMPLE_RATE}..{MAX_SAMPLE_RATE}"
        )
    if not 0 <= rec.duration_ns <= MAX_CALL_NS:
        raise RecordingLimitError(
            f"duration_ns = {rec.duration_ns} is outside 0..{MAX_CALL_NS} ({MAX_CALL_SECONDS} s)"
        )
    max_samples = MAX_CALL_SECONDS * rec.sample_rate
    _time("connected_ns", rec.connected_ns)
    _anchors("received_anchors", rec.received_anchors, max_samples)
    _anchors("heard_anchors", rec.heard_anchors, max_samples)
    for field, items in (("sent", rec.sent), ("steps", rec.steps), ("events", rec.events),
                         ("transport", rec.transport)):
        _count(field, items)
    for i, u in enumerate(rec.sent):
        if not 0 <= u.start_sample <= max_samples:
            raise RecordingLimitError(
                f"sent[{i}].start_sample = {u.start_sample} is outside 0..{max_samples}"
            )
        if u.speech_end_sample is not None and not 0 <= u.speech_end_sample <= max_samples:
            raise RecordingLimitError(
                f"sent[{i}].speech_end_sample = {u.speech_end_sample} is outside 0..{max_samples}"
            )
        for name in ("start_ns", "speech_start_ns", "speech_end_ns", "trigger_ns", "agent_onset_ns"):
            _time(f"sent[{i}].{name}", getattr(u, name))
        _count(f"sent[{i}].voiced_ns", u.voiced_ns)
        for j, (a, b) in enumerate(u.voiced_ns):
            _time(f"sent[{i}].voiced_ns[{j}]", a)
            _time(f"sent[{i}].voiced_ns[{j}]", b)
    for i, s in enumerate(rec.steps):
        _time(f"steps[{i}].started_ns", s.started_ns)
        _time(f"steps[{i}].ended_ns", s.ended_ns)
    for i, e in enumerate(rec.events):
        _time(f"events[{i}].t_ns", e.t_ns)
    for i, t in enumerate(rec.transport):
        _time(f"transport[{i}].t_ns", t.t_ns)
    if rec.failure is not None:
        _time("failure.t_ns", rec.failure.t_ns)


def check_wav_header(frames: int, rate: int, channels: int, expected_rate: int) -> None:
    """A WAV's header, before its samples are read: rate as recorded, mono, bounded length."""
    if rate != expected_rate:
        raise RecordingLimitError(f"sample rate {rate} Hz, recording.json says {expected_rate} Hz")
    if channels != 1:
        raise RecordingLimitError(f"expected mono, got {channels} channels")
    if frames > MAX_CALL_SECONDS * rate:
        raise RecordingLimitError(
            f"declares {frames} samples ({frames / rate:.0f} s); at most {MAX_CALL_SECONDS} s"
        )

"""The validity guard: did the harness itself disturb a call it was measuring?

A call's numbers are only about the endpoint if the caller kept its own timing: sent
its 20 ms frames on schedule and kept its event loop responsive. This module turns
the figures a worker collected while the call ran (per-frame hand-off errors, loop-lag
probe readings, the browser's injection lateness) into a ``CallValidity``: the figures
plus a verdict against :class:`ValiditySettings`, the one place the thresholds live.
They are recorded in ``run.json``; ``docs/validity.md`` explains each one.

Pure: no clock, no I/O, so the guard is tested against synthetic frame timings.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from harness.records import CallerKind, CallRecording, CallValidity, JSONValue, SendTiming

FRAME_MS = 20.0
"""The caller's frame period: consecutive frames are this far apart when on time."""
LATE_FRAME_MS = 5.0
"""A frame handed over later than this after its slot counts as late (``SendTiming``)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class ValiditySettings:
    """The guard's thresholds; a call beyond any one of them is ``disturbed``.

    ``None`` switches a check off. Defaults (see docs/validity.md for why):
    """

    send_p99_ms: float | None = 5.0
    """p99 of the per-frame send error (hand-off time - slot time). Turn latency is
    measured from the wire time of the caller's last voiced sample, so a late frame
    does not shift a latency by itself, but a caller that runs p99 > 5 ms behind is a
    caller whose loop is contended: the endpoint hears bursts instead of a microphone."""
    max_frame_gap_ms: float | None = 40.0
    """Largest interval between two consecutive sent frames. Above 40 ms (two frame
    periods) the endpoint hears a gap in the caller's speech: its VAD can end a turn
    there, which is a measurement of the harness, not of the endpoint."""
    loop_lag_max_ms: float | None = 20.0
    """Largest lateness of the worker's loop-lag probe during the call (aiortc caller).
    Endpoint events (data channel) are stamped when the loop reads them and live
    triggers (barge-in offsets) fire from the loop, so a lag above one frame period
    moves those by more than the 20 ms the harness claims to resolve; a quiet loop
    stays under ~2 ms. The browser caller's page keeps its own time: its worker's lag
    is recorded, not judged."""
    injection_p99_ms: float | None = 20.0
    """Browser caller: p99 of how late the page scheduled clips into WebAudio (its
    lateness shifts when speech starts; the measured start is still exact, but a
    page this late is one whose renderer is starved)."""
    browser_send_p99_ms: float | None = 15.0
    """Browser caller: p99 send error against the fitted frame grid. Chromium's headless
    audio device is timer-driven and hands frames to the encoder in 10 ms bursts: quiet
    calls (one at a time, nothing else running) measured p99 10.3-11.9 ms over 16 smoke
    calls on 2026-11-30, so the old 10 ms limit flagged every quiet browser call. 15 ms
    sits above that; a starved renderer shows 19-140 ms and frame gaps over 40 ms."""

    def as_json(self) -> dict[str, JSONValue]:
        return {name: getattr(self, name) for name in self.__dataclass_fields__}

    def with_overrides(self, items: Sequence[str]) -> ValiditySettings:
        """``["send_p99_ms=8", "loop_lag_max_ms=off"]`` -> new settings (``--guard`` on the
        command line); ``ValueError`` naming the bad item and the known names."""
        names = tuple(self.__dataclass_fields__)
        changes: dict[str, float | None] = {}
        for item in items:
            name, sep, text = item.partition("=")
            name = name.strip().replace("-", "_")
            if not sep or name not in names:
                raise ValueError(f"bad guard threshold {item!r}: use NAME=MS or NAME=off, NAME one of "
                                 f"{', '.join(names)}")
            text = text.strip().lower()
            if text in ("off", "none"):
                changes[name] = None
                continue
            try:
                value = float(text)
            except ValueError:
                raise ValueError(f"bad guard threshold {item!r}: {text!r} is not a number of ms or 'off'") from None
            if not value > 0:
                raise ValueError(f"bad guard threshold {item!r}: must be > 0 ms (or 'off')")
            changes[name] = value
        return dataclasses.replace(self, **changes)


def frame_gaps_ms(handoff_errors_ns: Sequence[int], frame_ms: float = FRAME_MS) -> np.ndarray:
    """Intervals between consecutive hand-offs, from each frame's error against its slot.

    Frame n is due at origin + n x frame; handed over at due + e_n, so the gap between
    n - 1 and n is frame + e_n - e_(n-1).
    """
    errors = np.asarray(handoff_errors_ns, dtype=np.float64) / 1e6
    if errors.size < 2:
        return np.zeros(0, dtype=np.float64)
    return frame_ms + np.diff(errors)


def send_timing(handoff_errors_ns: Sequence[int]) -> SendTiming | None:
    """The caller's send-timing record from its per-frame hand-off errors (ns)."""
    if not handoff_errors_ns:
        return None
    ms = np.asarray(handoff_errors_ns, dtype=np.float64) / 1e6
    gaps = frame_gaps_ms(handoff_errors_ns)
    return SendTiming(
        frames=len(ms),
        late_frames=int(np.count_nonzero(ms > LATE_FRAME_MS)),
        error_p50_ms=float(np.percentile(ms, 50)),
        error_p99_ms=float(np.percentile(ms, 99)),
        error_max_ms=float(ms.max()),
        max_gap_ms=float(gaps.max()) if gaps.size else None,
    )


def _p99_max(values_ms: Iterable[float]) -> tuple[float | None, float | None]:
    arr = np.asarray(list(values_ms), dtype=np.float64)
    if arr.size == 0:
        return None, None
    return float(np.percentile(arr, 99)), float(arr.max())


def injection_lateness_ms(recording: CallRecording) -> list[float]:
    """Browser caller: how late each clip was scheduled (``caller_info.clips``)."""
    clips = recording.caller_info.get("clips")
    out: list[float] = []
    for clip in clips if isinstance(clips, list) else ():
        late = clip.get("late_schedule_ms") if isinstance(clip, dict) else None
        if isinstance(late, int | float) and not isinstance(late, bool):
            out.append(float(late))
    return out


def _over(name: str, observed: float | None, limit: float | None, reasons: list[str]) -> None:
    if observed is not None and limit is not None and observed > limit:
        reasons.append(f"{name} {observed:.1f} ms, over the {limit:g} ms limit")


def judge(
    recording: CallRecording,
    loop_lags_ns: Sequence[int] = (),
    settings: ValiditySettings | None = None,
) -> CallValidity:
    """The guard's verdict on one call from its recording and the loop's lag readings.

    ``loop_lags_ns``: the worker's probe readings taken while the call's audio ran.
    A call with no figures at all (it failed before sending) is not disturbed: its
    failure already says what went wrong.
    """
    s = settings or ValiditySettings()
    timing = recording.send_timing
    lag_p99, lag_max = _p99_max(lag / 1e6 for lag in loop_lags_ns)
    inj_p99, _ = _p99_max(injection_lateness_ms(recording))
    browser = recording.caller is CallerKind.BROWSER
    reasons: list[str] = []
    if timing is not None:
        _over("send error p99", timing.error_p99_ms, s.browser_send_p99_ms if browser else s.send_p99_ms,
              reasons)
        _over("largest gap between sent frames", timing.max_gap_ms, s.max_frame_gap_ms, reasons)
    if browser:
        # The page plays the scenario and stamps its evidence on its own clocks; the
        # worker's loop only waits, so its lag is recorded but judges nothing here.
        _over("injection lateness p99", inj_p99, s.injection_p99_ms, reasons)
    else:
        _over("loop lag max", lag_max, s.loop_lag_max_ms, reasons)
    return CallValidity(
        disturbed=bool(reasons),
        reasons=tuple(reasons),
        send_error_p50_ms=None if timing is None else timing.error_p50_ms,
        send_error_p99_ms=None if timing is None else timing.error_p99_ms,
        send_error_max_ms=None if timing is None else timing.error_max_ms,
        max_frame_gap_ms=None if timing is None else timing.max_gap_ms,
        loop_lag_p99_ms=lag_p99,
        loop_lag_max_ms=lag_max,
        injection_p99_ms=inj_p99,
    )


def is_disturbed(recording: CallRecording) -> bool:
    return recording.validity is not None and recording.validity.disturbed


__all__ = [
    "ValiditySettings",
    "frame_gaps_ms",
    "injection_lateness_ms",
    "is_disturbed",
    "judge",
    "send_timing",
]

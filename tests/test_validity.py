"""The validity guard's figures and verdicts against frame timings the test controls.

Synthetic hand-off errors stand for the caller's per-frame log: frame n is due at
n x 20 ms and handed over e_n later. A loop stall of S ms makes the frame due during
it late by up to S and the following frames catch up at once (the track sleeps until
each slot, so a past slot does not wait): that shape is what the guard must see.
"""

from __future__ import annotations

import pytest

from harness.records import CallerKind, CallRecording
from harness.validity import (
    ValiditySettings,
    frame_gaps_ms,
    injection_lateness_ms,
    judge,
    send_timing,
)

MS = 1_000_000


def stalled(frames: int, at: int, stall_ms: float, jitter_ms: float = 0.2) -> list[int]:
    """On-time frames (``jitter_ms`` late each) with a stall that begins just after
    frame ``at``'s slot: frame ``at + 1`` waits it out, the frames due meanwhile follow
    at once, then the schedule is met again."""
    errors = [int(jitter_ms * MS)] * frames
    stall_end = at * 20.0 + stall_ms
    for n in range(at + 1, frames):
        due = n * 20.0
        if due >= stall_end:
            break
        errors[n] = int((stall_end - due) * MS)
    return errors


def recording(errors_ns: list[int], caller: CallerKind = CallerKind.AIORTC, **fields: object) -> CallRecording:
    return CallRecording(call_id="c", scenario_id="s", endpoint="e", caller=caller,
                         send_timing=send_timing(errors_ns), **fields)  # type: ignore[arg-type]


def test_gaps_follow_from_the_errors() -> None:
    gaps = frame_gaps_ms([0, 1 * MS, 31 * MS, 0, 0])
    assert gaps.tolist() == pytest.approx([21.0, 50.0, -11.0, 20.0])


def test_a_quiet_call_is_valid_with_its_figures() -> None:
    errors = [int((0.1 + (n % 7) * 0.3) * MS) for n in range(500)]  # 0.1..1.9 ms
    lags = [int(0.5 * MS)] * 300 + [int(3 * MS)]
    v = judge(recording(errors), lags)
    assert not v.disturbed and v.reasons == ()
    assert v.send_error_max_ms == pytest.approx(1.9)
    assert v.send_error_p50_ms == pytest.approx(1.0, abs=1e-3)
    assert v.max_frame_gap_ms == pytest.approx(20.0 + 0.3)  # the largest step between neighbours
    assert v.loop_lag_max_ms == pytest.approx(3.0)
    assert v.loop_lag_p99_ms == pytest.approx(0.5, abs=0.1)


def test_a_200_ms_stall_is_caught_by_gap_and_loop_lag() -> None:
    errors = stalled(1000, at=400, stall_ms=200.0)
    v = judge(recording(errors), [int(0.4 * MS)] * 999 + [int(200 * MS)])
    assert v.disturbed
    # frame 401 was due 20 ms into the stall and left at its end: 180 ms late, 200 ms after 400
    assert v.send_error_max_ms == pytest.approx(180.0, abs=0.01)
    assert v.max_frame_gap_ms == pytest.approx(200.0 - 0.2, abs=0.01)  # frame 400 left 0.2 ms late
    assert v.loop_lag_max_ms == pytest.approx(200.0)
    assert any(r.startswith("largest gap between sent frames 199.8 ms") for r in v.reasons)
    assert any(r.startswith("loop lag max 200.0 ms") for r in v.reasons)
    # 9 late frames of 1000 do not move p99: one stall in a 20 s call is what the gap is for
    assert v.send_error_p99_ms == pytest.approx(0.2)
    assert not any(r.startswith("send error") for r in v.reasons)


def test_each_threshold_on_its_own() -> None:
    # a short stall: 35 ms gap (under 40), one 15 ms late frame, p99 quiet -> valid
    short = stalled(1000, at=100, stall_ms=35.0)
    assert judge(recording(short)).disturbed is False
    # a 45 ms stall: gap 45 > 40 ms, p99 still quiet
    v = judge(recording(stalled(1000, at=100, stall_ms=45.0)))
    assert v.disturbed and len(v.reasons) == 1 and v.reasons[0].startswith("largest gap")
    # persistent 6 ms lateness on 2 % of frames: p99 over 5 ms, every gap small
    errors = [int((6.0 if n % 50 in (0, 1) else 0.5) * MS) for n in range(1000)]
    v = judge(recording(errors))
    assert v.disturbed and v.reasons[0].startswith("send error p99 6.0 ms")
    assert v.max_frame_gap_ms is not None and v.max_frame_gap_ms < 40
    # loop lag alone
    v = judge(recording([0] * 100), [int(25 * MS)])
    assert v.disturbed and v.reasons == ("loop lag max 25.0 ms, over the 20 ms limit",)


def test_thresholds_are_settings_and_can_be_switched_off() -> None:
    rec = recording(stalled(1000, at=100, stall_ms=45.0))
    assert judge(rec, settings=ValiditySettings(max_frame_gap_ms=50.0)).disturbed is False
    assert judge(rec, settings=ValiditySettings().with_overrides(["max_frame_gap_ms=off"])).disturbed is False
    tight = ValiditySettings().with_overrides(["send-p99-ms=0.1"])
    assert tight.send_p99_ms == 0.1 and judge(recording([int(0.5 * MS)] * 50), settings=tight).disturbed
    for bad in ("nope=3", "send_p99_ms", "send_p99_ms=fast", "send_p99_ms=0"):
        with pytest.raises(ValueError, match="guard threshold"):
            ValiditySettings().with_overrides([bad])


def test_browser_calls_use_their_own_send_limit_and_injection_lateness() -> None:
    errors = [int((7.0 if n % 50 == 0 else 1.0) * MS) for n in range(1000)]  # p99 7 ms
    clips = [{"step": i, "late_schedule_ms": late} for i, late in enumerate((0.0, 1.5, 3.0))]
    quiet = recording(errors, CallerKind.BROWSER, caller_info={"clips": clips})
    assert injection_lateness_ms(quiet) == [0.0, 1.5, 3.0]
    v = judge(quiet)
    assert not v.disturbed and v.injection_p99_ms == pytest.approx(2.97)
    assert judge(recording(errors)).disturbed  # the aiortc caller's 5 ms limit
    lagging = judge(quiet, [int(300 * MS)])  # the page keeps time; the worker's loop only waits
    assert not lagging.disturbed and lagging.loop_lag_max_ms == pytest.approx(300.0)
    late = recording(errors, CallerKind.BROWSER, caller_info={"clips": [*clips, {"late_schedule_ms": 80.0}]})
    v = judge(late)
    assert v.disturbed and v.reasons[0].startswith("injection lateness p99")


def test_a_call_without_figures_is_not_disturbed() -> None:
    v = judge(CallRecording(call_id="c", scenario_id="s", endpoint="e", caller=CallerKind.AIORTC))
    assert not v.disturbed and v.send_error_p99_ms is None and v.loop_lag_max_ms is None

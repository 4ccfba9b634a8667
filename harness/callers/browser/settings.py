"""The browser caller's settings, and the ``config`` message that tells the page of them."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from harness.callers.browser.gum import GumPlan, GumSettings
from harness.callers.browser.page_config import (
    DetectorConfig,
    GumPagePlan,
    GumPageStep,
    PageStep,
    PlayerConfig,
)
from harness.callers.browser.pool import PoolSettings
from harness.callers.browser.protocol import ConfigMessage
from harness.callers.script import PlayerSettings, ResolvedStep
from harness.records import NetworkProfile, SegmentationParams, StepKind
from harness.webrtc.audio import SAMPLE_RATE

__all__ = ["ICE_GATHERING_TIMEOUT_MS", "BrowserSettings", "call_time_bound_s", "config_message"]

ICE_GATHERING_TIMEOUT_MS = 3000
"""The page offers what it gathered by then (loopback host candidates come at once)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class BrowserSettings:
    pool: PoolSettings = dataclasses.field(default_factory=PoolSettings)
    player: PlayerSettings = dataclasses.field(default_factory=PlayerSettings)
    detector: SegmentationParams = dataclasses.field(default_factory=SegmentationParams)
    """The page's live onset detector (steers the call only; numbers come from the analysis)."""
    page_timeout_s: float = 20.0
    """Page load, AudioContext start, clip loading and ICE gathering, up to the offer."""
    signalling_timeout_s: float = 10.0
    connect_timeout_s: float = 15.0
    stats_interval_s: float = 0.25
    pings: int = 12
    """Clock-calibration round trips before and again after the call (best one wins)."""
    schedule_lead_ms: float = 40.0
    """How far ahead of the AudioContext's render position a "say" clip is scheduled."""
    trigger_wake_ms: float = 25.0
    """A live-triggered clip is scheduled this long before its trigger time."""
    record_heard: bool = True
    """Also record what the page's audio graph got (heard.wav, for listening/quality)."""
    heard_block_ms: float = 100.0
    playout_poll_ms: float = 10.0
    """How often the page reads getSynchronizationSources: each packet's entry stands for
    its 20 ms of playout, so polling at half that sees every packet."""
    stop_grace_s: float = 5.0
    """After a failure, how long the page may take to flush its evidence."""
    use_get_user_media: bool = False
    """Send through getUserMedia with Chromium's AEC/NS/AGC; fixed schedule, one browser
    per call, no live triggers (see ``gum`` for the limits)."""
    gum: GumSettings = dataclasses.field(default_factory=GumSettings)
    network: NetworkProfile | None = None
    """Emulated network (as ``CallerSettings.network``); a call's own profile wins."""


def call_time_bound_s(steps: list[ResolvedStep], player: PlayerSettings) -> float:
    """The longest a well-behaved call can take; past it the call is declared hung."""
    total = player.post_roll_ms / 1000.0 + 10.0
    for s in steps:
        clip = (s.audio.size / SAMPLE_RATE) if s.audio is not None else 0.0
        reply = s.timeout_ms / 1000.0 + player.max_reply_s
        if s.kind is StepKind.SILENCE:
            total += (s.duration_ms or 0) / 1000.0
        elif s.kind is StepKind.LISTEN:
            total += reply
        elif s.kind is StepKind.BACKCHANNEL:
            total += s.timeout_ms / 1000.0 + clip
        else:
            waits_onset = s.timeout_ms / 1000.0 if s.kind is StepKind.BARGE_IN else 0.0
            total += waits_onset + clip + (reply if s.await_reply else 0.0)
    return total


def config_message(
    steps: list[ResolvedStep],
    settings: BrowserSettings,
    *,
    clip_ids: list[str],
    datachannel_label: str | None,
    opening_messages: list[str],
    loopback_only: bool,
    gum_plan: GumPlan | None,
) -> ConfigMessage:
    """Everything the page needs for the call: its steps, clips, player and detector."""
    s, d = settings, settings.detector
    return ConfigMessage(
        sample_rate=SAMPLE_RATE,
        clip_ids=tuple(clip_ids),
        steps=tuple(
            PageStep(
                index=st.index, kind=st.kind, utterance=st.utterance.id if st.utterance else None,
                duration_ms=st.duration_ms, timeout_ms=st.timeout_ms, await_reply=st.await_reply,
                after_onset_ms=st.after_onset_ms, reply_quiet_ms=st.reply_quiet_ms,
                speech_start=st.utterance.speech_start if st.utterance else 0,
                speech_end=st.utterance.speech_end if st.utterance else 0,
            )
            for st in steps
        ),
        player=PlayerConfig(
            reply_quiet_ms=s.player.reply_quiet_ms, max_reply_s=s.player.max_reply_s,
            post_roll_ms=s.player.post_roll_ms, schedule_lead_ms=s.schedule_lead_ms,
            trigger_wake_ms=s.trigger_wake_ms,
        ),
        detector=DetectorConfig(
            frame_ms=d.frame_ms, threshold_db=d.threshold_db, release_db=d.release_db,
            absolute_floor_dbfs=d.absolute_floor_dbfs, min_speech_ms=d.min_speech_ms,
            hangover_ms=d.hangover_ms, floor_rise_db_per_s=d.floor_rise_db_per_s,
        ),
        heard_block_samples=round(s.heard_block_ms * SAMPLE_RATE / 1000),
        record_heard=s.record_heard,
        stats_interval_ms=s.stats_interval_s * 1000,
        playout_poll_ms=s.playout_poll_ms,
        connect_timeout_ms=s.connect_timeout_s * 1000,
        ice_gathering_timeout_ms=ICE_GATHERING_TIMEOUT_MS,
        datachannel_label=datachannel_label,
        opening_messages=tuple(opening_messages),
        loopback_only=loopback_only,
        use_get_user_media=gum_plan is not None,
        gum_plan=None if gum_plan is None else GumPagePlan(
            duration_ms=gum_plan.duration_ms,
            steps=tuple(GumPageStep(index=p.index, kind=p.kind, utterance=p.utterance,
                                    start_ms=p.start_ms, end_ms=p.end_ms) for p in gum_plan.steps),
        ),
    )

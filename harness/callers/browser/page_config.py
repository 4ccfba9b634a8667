"""The records the page's ``config`` message is made of (``protocol.ConfigMessage``).

The scenario's steps, the player's and the live detector's settings as the page reads
them (``page/protocol.js`` has the same shapes as JSDoc types). Kept apart from
``protocol`` only for size; ``protocol_record`` is what makes every message record.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TypeVar, dataclass_transform

from pydantic import ConfigDict, with_config

from harness.records import StepKind

__all__ = ["DetectorConfig", "GumPagePlan", "GumPageStep", "PageStep", "PlayerConfig", "protocol_record"]

_T = TypeVar("_T")


@dataclass_transform(frozen_default=True, kw_only_default=True, field_specifiers=(field,))
def protocol_record(cls: type[_T]) -> type[_T]:
    """A frozen record that refuses fields it does not know and values of the wrong JSON
    type (no "3" for 3): the two ends must agree exactly."""
    record: type[_T] = dataclass(frozen=True, slots=True, kw_only=True)(cls)
    return with_config(ConfigDict(extra="forbid", strict=True))(record)


@protocol_record
class PageStep:
    """A resolved scenario step as the page's player runs it."""

    index: int
    kind: StepKind
    utterance: str | None
    """The clip id (``/clip/<token>/<id>``) for steps that speak."""
    duration_ms: int | None
    timeout_ms: int
    await_reply: bool
    after_onset_ms: int | None
    reply_quiet_ms: int | None
    speech_start: int
    """The clip's first voiced sample (0 for steps without a clip)."""
    speech_end: int


@protocol_record
class PlayerConfig:
    reply_quiet_ms: float
    max_reply_s: float
    post_roll_ms: float
    schedule_lead_ms: float
    trigger_wake_ms: float


@protocol_record
class DetectorConfig:
    """The live detector's thresholds (``SegmentationParams``; see ``worklet.js``)."""

    frame_ms: float
    threshold_db: float
    release_db: float
    absolute_floor_dbfs: float
    min_speech_ms: float
    hangover_ms: float
    floor_rise_db_per_s: float


@protocol_record
class GumPageStep:
    index: int
    kind: StepKind
    utterance: str | None
    start_ms: float
    """From capture start."""
    end_ms: float


@protocol_record
class GumPagePlan:
    """getUserMedia mode: when each step's audio plays from the capture file."""

    duration_ms: float
    steps: tuple[GumPageStep, ...]

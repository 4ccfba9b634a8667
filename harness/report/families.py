"""Which family a metric belongs to on the report: latency, interruptions, endpointing, ...

The metric registry (``harness.metrics.FAMILIES``) is organised by how a number is
computed (the ``cutoffs`` family also yields talk-over; the ``heard`` family yields a
latency and a jitter-buffer figure). A reader looks for what a number is *about*, so the
report groups by topic. Names are matched by glob in order, the first match wins; a
metric added later that fits no pattern lands in ``other`` rather than disappearing.
"""

from __future__ import annotations

import fnmatch
import re

from harness.metrics.accuracy import INPUT_WER, REPLY_CER, REPLY_CONTAINS, REPLY_WER
from harness.metrics.activity import AGENT_SPEECH, AGENT_TURNS
from harness.metrics.breakdown import ENDPOINTING_DELAY, GENERATION_DELAY, RESPONSE_CREATED_DELAY
from harness.metrics.heard import JITTER_BUFFER
from harness.metrics.latency import GREETING_LATENCY, NO_RESPONSE, TURN_CUT_IN, TURN_LATENCY
from harness.metrics.quality import DNSMOS_BAK, DNSMOS_OVRL, DNSMOS_SIG, PESQ_NB, PESQ_WB, STOI
from harness.metrics.transport import CLIPPING, CONCEALED, JITTER, LOUDNESS, PACKET_LOSS, RTT
from harness.scoring import CALL_FAILED

__all__ = ["FAMILY_ORDER", "PATTERNS", "family_of", "family_rank"]

FAMILY_ORDER = ("latency", "interruptions", "endpointing", "audio quality", "accuracy",
                "transport", "failures", "activity", "other")
"""The order families appear in on the page."""

PATTERNS: tuple[tuple[str, str], ...] = (
    (TURN_CUT_IN, "endpointing"),  # before *latency*: an agent that started inside the turn
    ("cutoff*", "endpointing"),
    (JITTER_BUFFER, "transport"),
    (TURN_LATENCY, "latency"),
    ("*_heard_ms", "latency"),
    (GREETING_LATENCY, "latency"),
    (NO_RESPONSE, "latency"),
    (ENDPOINTING_DELAY, "latency"),
    (GENERATION_DELAY, "latency"),
    (RESPONSE_CREATED_DELAY, "latency"),
    ("barge_in_*", "interruptions"),
    ("false_stop", "interruptions"),
    ("talk_over_ms", "interruptions"),
    (PESQ_WB, "audio quality"),
    (PESQ_NB, "audio quality"),
    (STOI, "audio quality"),
    (DNSMOS_SIG, "audio quality"),
    (DNSMOS_BAK, "audio quality"),
    (DNSMOS_OVRL, "audio quality"),
    (CLIPPING, "audio quality"),
    (LOUDNESS, "audio quality"),
    (REPLY_WER, "accuracy"),
    (REPLY_CER, "accuracy"),
    (REPLY_CONTAINS, "accuracy"),
    (INPUT_WER, "accuracy"),
    (PACKET_LOSS, "transport"),
    (JITTER, "transport"),
    (RTT, "transport"),
    (CONCEALED, "transport"),
    (CALL_FAILED, "failures"),
    (AGENT_SPEECH, "activity"),
    (AGENT_TURNS, "activity"),
)
"""(glob, family) in match order."""

_DIGITS = re.compile(r"(\d+)")


def family_of(metric: str) -> str:
    """The report family of ``metric`` (``other`` when no pattern matches)."""
    return next((family for pattern, family in PATTERNS if fnmatch.fnmatchcase(metric, pattern)), "other")


def family_rank(metric: str) -> tuple[int, tuple[str | int, ...]]:
    """Sort key: family in :data:`FAMILY_ORDER`, then the name with its numbers as numbers
    (``cutoff_pause_300ms`` before ``cutoff_pause_1000ms``)."""
    natural = tuple(int(part) if part.isdigit() else part for part in _DIGITS.split(metric))
    return FAMILY_ORDER.index(family_of(metric)), natural

"""Which calls keep their audio: the retention policy that bounds a soak's disk use.

Every call keeps its ``recording.json`` (events, timings, validity, failure: the
evidence behind its numbers, a few tens of kB); the policy decides about the audio
(FLAC, roughly 20-40 kB per second of call for the three files):

- ``all``: every call (the default of ``run``);
- ``failed``: calls that failed, missed an expectation or were disturbed by the harness;
- ``outliers``: those, and calls with a latency in the soak's running tail (above its p95);
- ``none``: no audio at all.

``sample_every`` N additionally keeps every Nth call (0, 1*N, 2*N, ...), so a soak that
keeps only failures still has ordinary calls to listen to and to rescore.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

__all__ = ["AudioRetention", "KeepAudio"]


class KeepAudio(StrEnum):
    ALL = "all"
    FAILED = "failed"
    OUTLIERS = "outliers"
    NONE = "none"


@dataclass(frozen=True, slots=True, kw_only=True)
class AudioRetention:
    keep: KeepAudio = KeepAudio.ALL
    sample_every: int = 0
    """Also keep call 0, N, 2N, ... (by start order); 0 turns sampling off."""

    def __post_init__(self) -> None:
        if self.sample_every < 0:
            raise ValueError("--sample-audio must be 0 (off) or a positive N")

    @property
    def needs_outliers(self) -> bool:
        return self.keep is KeepAudio.OUTLIERS

    def keeps(self, index: int, *, failed: bool, outlier: bool = False) -> bool:
        """Whether call number ``index`` keeps its audio. ``failed``: failed, an expectation
        not met, or disturbed; ``outlier``: in the running tail (only asked for ``outliers``)."""
        if self.sample_every and index % self.sample_every == 0:
            return True
        if self.keep is KeepAudio.ALL:
            return True
        if self.keep is KeepAudio.NONE:
            return False
        if self.keep is KeepAudio.FAILED:
            return failed
        return failed or outlier

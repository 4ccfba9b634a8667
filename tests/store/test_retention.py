"""The audio retention policy's decisions."""

from __future__ import annotations

import pytest

from harness.store.retention import AudioRetention, KeepAudio


def kept(policy: AudioRetention, failed: set[int], outliers: frozenset[int] = frozenset()) -> list[int]:
    return [i for i in range(12) if policy.keeps(i, failed=i in failed, outlier=i in outliers)]


def test_modes() -> None:
    failed, outliers = {3, 7}, frozenset({5})
    assert kept(AudioRetention(), failed, outliers) == list(range(12))
    assert kept(AudioRetention(keep=KeepAudio.NONE), failed, outliers) == []
    assert kept(AudioRetention(keep=KeepAudio.FAILED), failed, outliers) == [3, 7]
    assert kept(AudioRetention(keep=KeepAudio.OUTLIERS), failed, outliers) == [3, 5, 7]


def test_sampling_adds_every_nth_call() -> None:
    assert kept(AudioRetention(keep=KeepAudio.FAILED, sample_every=5), {3}) == [0, 3, 5, 10]
    assert kept(AudioRetention(keep=KeepAudio.NONE, sample_every=4), set()) == [0, 4, 8]
    with pytest.raises(ValueError, match="sample-audio"):
        AudioRetention(sample_every=-1)

"""The caller-end definition is a scoring choice: it never reaches a corpus's cache key."""

from __future__ import annotations

from harness.corpus.bounds import SCORING_ONLY, segmentation_params_dict
from harness.corpus.cache import common_inputs
from harness.records import SegmentationParams


def test_caller_end_level_is_not_a_corpus_input() -> None:
    chosen = segmentation_params_dict(SegmentationParams(caller_end_dbfs=-40.0))
    assert chosen == segmentation_params_dict(SegmentationParams())
    assert "caller_end_dbfs" in SCORING_ONLY and "caller_end_dbfs" not in chosen
    assert not any(key.endswith("caller_end_dbfs") for key in common_inputs())
    assert segmentation_params_dict(SegmentationParams(hangover_ms=200.0))["hangover_ms"] == 200.0  # others stay

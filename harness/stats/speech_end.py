"""A run's caller speech ends in one line: which definition, and what level it came to.

Turn latency is counted from the end of the caller's speech, and that end is a
definition (``harness.analysis.speech_end``): run.json and the summaries state it, with
the detector's *effective level* (the median over the run's utterances), so a reader
knows what "the caller stopped" meant in dBFS.
"""

from __future__ import annotations

import statistics
from collections import Counter
from collections.abc import Iterable

from harness.records import CallerSpeechEnd, SpeechEndSummary

__all__ = ["describe_speech_end", "summarize_speech_ends"]


def summarize_speech_ends(level_dbfs: float | None, ends: Iterable[CallerSpeechEnd]) -> SpeechEndSummary:
    """The run's definition and, over its sent utterances, the effective level and shift."""
    ends = list(ends)
    levels = [e.effective_dbfs for e in ends if e.effective_dbfs is not None]
    moved = [(e.end_ns - e.detector_end_ns) / 1e6 for e in ends if not e.kept_because]
    reasons = Counter(e.kept_because for e in ends if e.kept_because)
    return SpeechEndSummary(
        level_dbfs=level_dbfs,
        utterances=len(ends),
        effective_dbfs_p50=round(statistics.median(levels), 1) if levels else None,
        effective_dbfs_min=round(min(levels), 1) if levels else None,
        effective_dbfs_max=round(max(levels), 1) if levels else None,
        shift_ms_p50=round(statistics.median(moved), 1) if level_dbfs is not None and moved else None,
        kept=sum(reasons.values()),
        kept_because=tuple(f"{why}: {n}" for why, n in sorted(reasons.items())),
    )


def describe_speech_end(summary: SpeechEndSummary) -> str:
    """E.g. ``caller speech ends: detector release (effective -64 dBFS median, -81..-60, 51 utterances)``."""
    effective = (
        "no utterance scored" if summary.utterances == 0
        else "effective level unknown (no caller audio)" if summary.effective_dbfs_p50 is None
        else f"effective {summary.effective_dbfs_p50:g} dBFS median, "
             f"{summary.effective_dbfs_min:g}..{summary.effective_dbfs_max:g}"
    )
    if summary.level_dbfs is None:
        count = f", {summary.utterances} utterances" if summary.utterances else ""
        text = f"caller speech ends: detector release ({effective}{count})"
    else:
        shift = "" if summary.shift_ms_p50 is None else f"{summary.shift_ms_p50:+g} ms median from the detector's end, "
        text = (f"caller speech ends: last sample ≥ {summary.level_dbfs:g} dBFS "
                f"({shift}whose {effective}; {summary.utterances} utterances)")
    if summary.kept:
        text += f"; detector end kept for {summary.kept} ({', '.join(summary.kept_because)})"
    return text

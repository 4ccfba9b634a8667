"""``voice-harness rescore RUN``: every measurement recomputed from the saved calls.

Rescoring rewrites ``results.jsonl``, the one file a run cannot make again, so it is
built never to lose a row:

- everything is computed in memory first; the new file is written beside the old one
  and renamed over it only once it is complete (readers see the old or the new file);
- a folder with no saved call to rescore (``calls/`` deleted or empty) is refused,
  and nothing is changed;
- a call that cannot be rescored (damaged recording, WAV or scenario) keeps its
  previous rows, and the reason is printed; so do calls that never had a folder (bad
  scenario files, an unavailable caller) and calls whose audio a soak did not keep
  (``--keep-audio``; a note, not a problem);
- rows that need what the call folder lacks are kept as they were: ``input_wer`` needs
  the corpus texts the call said (``texts.json``), absent from folders written before
  the runner stored them;
- rows keep the order of the previous file, so rescoring an untouched run reproduces
  ``results.jsonl`` byte for byte.

Calls are scored with today's detector settings and the caller-end definition run.json
recorded (``SegmentationParams.caller_end_dbfs``); ``--speech-end-dbfs`` picks another,
and run.json then records the settings used with its ``speech_end`` summary.
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from rich.console import Console
from rich.markup import escape

from harness.analysis.speech_end import check_caller_end_dbfs
from harness.exit_codes import EXIT_FAILURES, EXIT_OK, EXIT_USAGE
from harness.gate import finish_run
from harness.metrics.accuracy import INPUT_WER
from harness.records import (
    CallerSpeechEnd,
    CallResult,
    CallValidity,
    Measurement,
    SegmentationParams,
)
from harness.scoring import score_call
from harness.stats.percentiles import summarize
from harness.stats.speech_end import summarize_speech_ends
from harness.store.layout import is_safe_name
from harness.store.run_folder import (
    CALLS_DIR,
    RECORDING_JSON,
    AudioNotKept,
    RunFolder,
    RunFolderError,
    load_recording,
    load_scenario,
    load_texts,
    read_results,
    read_run_info,
)
from harness.store.serialize import SerializationError

__all__ = ["RescoreError", "Rescored", "SpeechEnd", "rescore_folder", "rescore_run"]

SUMMARY_GROUPS = ("metric", "endpoint", "caller")
"""How run.json's summary is grouped (as ``run`` writes it)."""

TEXT_METRICS = frozenset({INPUT_WER})
"""Metrics computed from the corpus texts a call said (``texts.json``)."""


class RescoreError(Exception):
    """The folder cannot be rescored; nothing in it was changed."""


@dataclass(frozen=True, slots=True)
class SpeechEnd:
    """A caller-end definition asked for on rescoring (``--speech-end-dbfs``); without one
    the run's own (run.json) stands."""

    level_dbfs: float | None
    """``None``: the detector's release; else the level in dBFS."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Rescored:
    measurements: tuple[Measurement, ...]
    """The new results.jsonl, in the previous file's order."""
    rescored: tuple[str, ...]
    """Call ids recomputed from their folder."""
    problems: tuple[str, ...] = ()
    """Calls that could not be rescored (their previous rows are kept), one line each."""
    notes: tuple[str, ...] = ()
    """Rows kept on purpose (no call folder, no texts.json): information, not errors."""
    changed: int = 0
    """Rows whose content differs from the previous file."""
    segmentation: SegmentationParams = field(default_factory=SegmentationParams)
    """What the calls were scored with."""
    caller_ends: tuple[CallerSpeechEnd, ...] = ()
    """The rescored calls' caller speech ends (run.json's ``speech_end`` summary)."""


def _call_folders(run_dir: Path) -> list[Path]:
    calls = run_dir / CALLS_DIR
    if calls.is_symlink() or not calls.is_dir():
        return []
    return sorted(p for p in calls.iterdir() if p.is_dir() and not p.is_symlink()
                  and (p / RECORDING_JSON).is_file())


def _keyed(rows: Iterable[Measurement]) -> list[tuple[tuple[int | None, str, int], Measurement]]:
    """(turn, metric, n-th occurrence) per row: how a row is matched with its predecessor."""
    seen: Counter[tuple[int | None, str]] = Counter()
    out = []
    for m in rows:
        seen[(m.turn, m.metric)] += 1
        out.append(((m.turn, m.metric, seen[(m.turn, m.metric)]), m))
    return out


def _in_previous_order(new: Sequence[Measurement], old: Sequence[Measurement]) -> list[Measurement]:
    position = {key: i for i, (key, _) in enumerate(_keyed(old))}
    keyed = _keyed(new)
    order = sorted(range(len(keyed)), key=lambda i: (position.get(keyed[i][0], len(old) + i)))
    return [keyed[i][1] for i in order]


def _rescore_call(
    call_dir: Path, old: Sequence[Measurement], params: SegmentationParams
) -> tuple[list[Measurement], str, tuple[CallerSpeechEnd, ...]]:
    """The call's new rows (in the old order), a note when some rows were kept, its caller ends."""
    recording, caller, received = load_recording(call_dir, dtype="float32")
    scenario = load_scenario(call_dir)
    texts = load_texts(call_dir)
    result = score_call(recording, scenario, np.asarray(received, dtype=np.float32), params,
                        caller_audio=np.asarray(caller, dtype=np.float32), texts=texts or {})
    rows = list(result.measurements)
    note = ""
    if texts is None:
        kept = [m for m in old if m.metric in TEXT_METRICS]
        rows = [m for m in rows if m.metric not in TEXT_METRICS] + kept
        if kept:
            note = (f"{call_dir.name}: no texts.json (written before texts were stored): "
                    f"{len(kept)} {'/'.join(sorted(TEXT_METRICS))} row(s) kept as they were")
    else:
        # A row whose utterance has no text here (a run whose driver lacked the corpus)
        # cannot be recomputed: it stands, rather than silently disappearing.
        said = {u.step_index: u.utterance_id for u in recording.sent}
        made = {(m.turn, m.metric) for m in rows if m.metric in TEXT_METRICS}
        kept = [m for m in old if m.metric in TEXT_METRICS and (m.turn, m.metric) not in made
                and said.get(m.turn if m.turn is not None else -1) not in texts]
        rows += kept
        if kept:
            note = (f"{call_dir.name}: texts.json lacks the text of {len(kept)} utterance(s) an "
                    f"{'/'.join(sorted(TEXT_METRICS))} row was computed from: kept as they were")
    return _in_previous_order(rows, old), note, result.caller_ends


def rescore_folder(run_dir: Path, speech_end: SpeechEnd | None = None) -> Rescored:
    """Compute the rescored results of ``run_dir`` without writing anything."""
    if not run_dir.is_dir():
        raise RescoreError(f"{run_dir}: no such run folder")
    try:
        chosen = read_run_info(run_dir).segmentation.caller_end_dbfs
        previous = read_results(run_dir)
    except RunFolderError as exc:
        raise RescoreError(f"{exc}; nothing was changed") from None
    # Today's detector (a fix to it reaches old runs), the run's own caller-end
    # definition unless another is asked for.
    params = SegmentationParams(caller_end_dbfs=chosen if speech_end is None else speech_end.level_dbfs)
    try:
        check_caller_end_dbfs(params.caller_end_dbfs)
    except ValueError as exc:
        raise RescoreError(f"{run_dir}: {exc}; nothing was changed") from None
    folders = _call_folders(run_dir)
    if not folders:
        raise RescoreError(
            f"{run_dir}: no saved calls to rescore (no {CALLS_DIR}/<call>/{RECORDING_JSON}); "
            "nothing was changed"
        )
    old_rows: dict[str, list[Measurement]] = {}
    for m in previous:
        old_rows.setdefault(m.call_id, []).append(m)

    blocks: dict[str, list[Measurement]] = {}
    ends: list[CallerSpeechEnd] = []
    problems: list[str] = []
    notes: list[str] = []
    no_audio = 0
    for call_dir in folders:
        old = old_rows.get(call_dir.name, [])
        try:
            rows, note, call_ends = _rescore_call(call_dir, old, params)
        except AudioNotKept:  # a soak's retention policy dropped it: its rows stand
            no_audio += 1
            continue
        except (RunFolderError, SerializationError) as exc:
            problems.append(f"{exc}" + ("; its previous rows are kept" if old else ""))
            continue
        except Exception as exc:  # one damaged call must never stop the others: it is a reason
            problems.append(f"{call_dir}: cannot be scored ({type(exc).__name__}: {exc})"
                            + ("; its previous rows are kept" if old else ""))
            continue
        blocks[call_dir.name] = rows
        ends.extend(call_ends)
        if note:
            notes.append(note)
    calls = run_dir / CALLS_DIR
    for cid in old_rows:  # every call keeps its recording.json, so a folder without one is damage
        if cid not in blocks and is_safe_name(cid) and (calls / cid).is_dir() \
                and (calls / cid) not in folders:
            problems.append(f"{calls / cid / RECORDING_JSON}: missing (nothing to rescore from); "
                            "its previous rows are kept")
    if no_audio:
        notes.append(f"{no_audio} call(s) whose audio the soak did not keep (--keep-audio): "
                     "their rows kept as they were")
    rescored = tuple(blocks)
    without_folder = [cid for cid in old_rows if cid not in blocks
                      and not (is_safe_name(cid) and (run_dir / CALLS_DIR / cid).exists())]
    if without_folder:
        notes.append(f"{len(without_folder)} result group(s) without a call folder (bad scenario files, "
                     "calls that never started) kept as they were")

    out: list[Measurement] = []
    for cid in dict.fromkeys(m.call_id for m in previous):
        out.extend(blocks.pop(cid) if cid in blocks else old_rows[cid])
    for cid in sorted(blocks):
        out.extend(blocks[cid])
    before = Counter(previous)
    changed = sum((Counter(out) - before).values())
    return Rescored(measurements=tuple(out), rescored=rescored, problems=tuple(problems),
                    notes=tuple(notes), changed=changed, segmentation=params, caller_ends=tuple(ends))


def _as_results(rows: Sequence[Measurement]) -> list[CallResult]:
    """Per-call results of the final rows, for the console summary's failed-call list."""
    by_call: dict[str, list[Measurement]] = {}
    for m in rows:
        by_call.setdefault(m.call_id, []).append(m)
    return [CallResult(spec_call_id=cid, scenario=ms[0].scenario, endpoint=ms[0].endpoint,
                       caller=ms[0].caller, repeat=ms[0].repeat, measurements=tuple(ms),
                       validity=CallValidity(disturbed=True) if any(m.disturbed for m in ms) else None)
            for cid, ms in by_call.items()]


def rescore_run(run_dir: Path, console: Console, speech_end: SpeechEnd | None = None) -> int:
    """Rescore, swap results.jsonl and run.json's summary in, rebuild the reports.

    ``speech_end``: where the caller's speech ends from now on (run.json's otherwise).
    Exit 2 when the folder cannot be rescored (nothing changed) or when some call could
    not be (the others are rescored, its rows kept); else 0 or 1 as ``run`` would.
    """
    from harness.session import print_summary

    try:
        outcome = rescore_folder(run_dir, speech_end)
    except RescoreError as exc:
        console.print(f"[red]error:[/red] {escape(str(exc))}")
        return EXIT_USAGE
    folder = RunFolder.open(run_dir)
    try:
        info = read_run_info(run_dir)
        folder.replace_results(outcome.measurements)
        # As ``run`` summarised: disturbed calls' rows only if that run counted them.
        counted = [m for m in outcome.measurements if info.summary_includes_disturbed or not m.disturbed]
        summary = summarize(counted, by=SUMMARY_GROUPS)
        ends = summarize_speech_ends(outcome.segmentation.caller_end_dbfs, outcome.caller_ends)
        folder.write_run_json(dataclasses.replace(info, summary=tuple(summary), segmentation=outcome.segmentation,
                                                  speech_end=ends))
    except (RunFolderError, OSError) as exc:
        console.print(f"[red]error:[/red] cannot write the rescored results: {escape(str(exc))}")
        return EXIT_USAGE
    print_summary(console, summary, _as_results(outcome.measurements), ends)
    console.print(f"rescored {len(outcome.rescored)} call(s); {outcome.changed} row(s) changed")
    for note in outcome.notes:
        console.print(f"[yellow]kept:[/yellow] {escape(note)}")
    for problem in outcome.problems:
        console.print(f"[red]not rescored:[/red] {escape(problem)}")
    # Exit 1 as ``run`` does: a failed call, a missed expectation or a disturbed call.
    failed = any(m.passed is False or m.disturbed for m in outcome.measurements)
    code = finish_run(run_dir, EXIT_FAILURES if failed else EXIT_OK, console)
    return EXIT_USAGE if outcome.problems else code

"""A run folder, or a folder that holds run folders: ``run --out DIR`` writes
``DIR/<run-id>/``, so ``compare DIR1 DIR2`` and ``report DIR`` take the folder the user
just named and use the latest run inside it, and say which.

The latest is the one whose run.json says it started last (run ids are names a user may
choose, so their order means nothing); a folder inside whose run.json cannot be read
(or that has none) is not a run to pick, and the note says how many were passed over.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from harness.store.layout import RESULTS_JSONL, RUN_JSON

__all__ = ["NoRunFolder", "PickedRun", "pick_run"]


class NoRunFolder(Exception):
    """Neither a run folder nor a folder that holds one."""


@dataclass(frozen=True, slots=True, kw_only=True)
class PickedRun:
    path: Path
    """The run folder to use."""
    note: str | None = None
    """Set when ``path`` was picked inside the folder given: which run, out of how many."""


def pick_run(path: Path) -> PickedRun:
    """``path`` itself when it is a run folder (a run.json or a results.jsonl: a run killed
    early may lack the first), else the latest run folder directly inside it."""
    if (path / RUN_JSON).is_file() or (path / RESULTS_JSONL).is_file():
        return PickedRun(path=path)
    if not path.is_dir():
        raise NoRunFolder(f"{path}: no such run folder")
    runs: list[tuple[datetime, str, Path]] = []
    unreadable = 0
    for child in sorted(path.iterdir()):
        if child.is_symlink() or not child.is_dir():
            continue
        if not (child / RUN_JSON).is_file():
            unreadable += (child / RESULTS_JSONL).is_file()  # a run, but when did it start?
            continue
        started = _started_at(child)
        if started is None:
            unreadable += 1
        else:
            runs.append((started, child.name, child))
    if not runs:
        more = f" ({unreadable} without a readable {RUN_JSON})" if unreadable else ""
        raise NoRunFolder(f"{path}: not a run folder (no {RUN_JSON}), and no run folder inside it{more}")
    latest = max(runs)[2]
    skipped = f"; {unreadable} without a readable {RUN_JSON} passed over" if unreadable else ""
    return PickedRun(path=latest, note=f"{path}: the latest of {len(runs)} run(s) in it: {latest}{skipped}")


def _started_at(run_dir: Path) -> datetime | None:
    from harness.store.run_folder import RunFolderError, read_run_info

    try:
        started = datetime.fromisoformat(read_run_info(run_dir).started_at)
    except (RunFolderError, OSError, ValueError):
        return None
    return started if started.tzinfo is not None else started.replace(tzinfo=UTC)

"""``windows.jsonl``: one ``WindowRow`` a line, appended and fsync'd as each window closes.

Written like ``results.jsonl``: one ``O_APPEND`` write per row, then ``fsync``, so a
soak killed at any moment (SIGKILL included) leaves every window that closed before it,
and at most a torn last line, which readers skip.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from harness.stats.windows import WindowRow
from harness.store.serialize import SerializationError, from_json_obj, to_json_obj

__all__ = ["WINDOWS_JSONL", "WindowsFileError", "append_window", "read_windows"]

WINDOWS_JSONL = "windows.jsonl"


class WindowsFileError(Exception):
    """A windows.jsonl that cannot be written or read; the message names the file and line."""


def append_window(run_dir: Path, row: WindowRow) -> None:
    """Append one row durably (on disk when this returns)."""
    path = run_dir / WINDOWS_JSONL
    line = json.dumps(to_json_obj(row), ensure_ascii=False, allow_nan=False, separators=(",", ":"))
    data = (line + "\n").encode("utf-8")
    try:
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    except OSError as exc:
        raise WindowsFileError(f"{path}: cannot open for appending: {exc}") from None
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view):]
        os.fsync(fd)
    except OSError as exc:
        raise WindowsFileError(f"{path}: cannot append: {exc}") from None
    finally:
        os.close(fd)


def read_windows(run_dir: Path) -> list[WindowRow]:
    """Every row, in file order; ``[]`` when the run has no windows.jsonl (not a soak).

    An unterminated last line is what a kill mid-append leaves and is skipped; any other
    bad line is an error naming the file and line.
    """
    path = run_dir / WINDOWS_JSONL
    if not path.is_file():
        return []
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise WindowsFileError(f"{path}: cannot read: {exc.strerror or exc}") from None
    lines = raw.split(b"\n")
    rows: list[WindowRow] = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            rows.append(from_json_obj(WindowRow, json.loads(line)))
        except (ValueError, SerializationError) as exc:
            if number == len(lines):  # no newline after it: torn by a kill
                break
            raise WindowsFileError(f"{path}:{number}: {exc}") from None
    return rows

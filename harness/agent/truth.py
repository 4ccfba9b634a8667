"""The agent's ground-truth log: what it saw and did, on the shared CLOCK_MONOTONIC.

One JSON object a line, flushed as written, so a test can read it while the agent
runs and a crash loses nothing before it. Times are absolute ``time.monotonic_ns()``,
which the caller's clock shares on the same host.
"""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import IO

from harness.records import SCHEMA_VERSION, JSONValue


class TruthLog:
    def __init__(self, path: Path | None) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._file: IO[str] | None = None
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._file = path.open("a", encoding="utf-8")

    def write(self, kind: str, **fields: JSONValue) -> None:
        if self._file is None:
            return
        line = json.dumps({"schema_version": SCHEMA_VERSION, "kind": kind, **fields})
        with self._lock:
            self._file.write(line + "\n")
            self._file.flush()

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None


def read_truth(path: Path) -> list[dict[str, JSONValue]]:
    """Every complete line of a truth log (a torn last line is skipped)."""
    rows: list[dict[str, JSONValue]] = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            obj = json.loads(line)
        except ValueError:
            continue
        if isinstance(obj, dict):
            rows.append(obj)
    return rows

"""The agent's ground-truth log: what it saw and did, on the shared CLOCK_MONOTONIC.

One JSON object a line, flushed as written, so a test can read it while the agent
runs and a crash loses nothing before it. Times are absolute ``time.monotonic_ns()``,
which the caller's clock shares on the same host.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass
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


@dataclass(frozen=True, slots=True, kw_only=True)
class TruthTurn:
    """One caller turn as the agent saw and answered it (absolute monotonic ns)."""

    call_id: str
    turn: int
    speech_end_ns: int
    decided_ns: int
    delay_ms: float
    endpointing_ms: float
    onset_ns: int | None
    """When the first answer sample left the agent's (emulated) network; None if never."""
    voiced_onset_ns: int | None = None
    """When the answer's first voiced sample left it (``answer_voiced``); None if never, or
    in a log written before it was kept."""

    @property
    def latency_ms(self) -> float | None:
        return None if self.onset_ns is None else (self.onset_ns - self.speech_end_ns) / 1e6

    @property
    def voiced_latency_ms(self) -> float | None:
        """Turn latency's truth: from the caller's last voiced sample to the answer's first
        voiced sample (docs/timing.md); ``latency_ms`` when the log has no voiced onset."""
        if self.voiced_onset_ns is None:
            return self.latency_ms
        return (self.voiced_onset_ns - self.speech_end_ns) / 1e6


def truth_turns(path: Path, call_id: str | None = None) -> list[TruthTurn]:
    """The agent's turns joined with their answer onsets, optionally for one call."""
    rows = read_truth(path)
    onsets = {
        (str(r["call_id"]), int(r["turn"])): int(r["onset_ns"])  # type: ignore[arg-type]
        for r in rows if r.get("kind") == "answer_onset"
    }
    voiced = {
        (str(r["call_id"]), int(r["turn"])): int(r["voiced_ns"])  # type: ignore[arg-type]
        for r in rows if r.get("kind") == "answer_voiced"
    }
    turns = []
    for r in rows:
        if r.get("kind") != "turn" or (call_id is not None and r["call_id"] != call_id):
            continue
        key = (str(r["call_id"]), int(r["turn"]))  # type: ignore[arg-type]
        turns.append(TruthTurn(
            call_id=key[0], turn=key[1], speech_end_ns=int(r["speech_end_ns"]),  # type: ignore[arg-type]
            decided_ns=int(r["decided_ns"]), delay_ms=float(r["delay_ms"]),  # type: ignore[arg-type]
            endpointing_ms=float(r["endpointing_ms"]), onset_ns=onsets.get(key),  # type: ignore[arg-type]
            voiced_onset_ns=voiced.get(key),
        ))
    return turns

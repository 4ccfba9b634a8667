"""Everything the report writers need, read once from the run folder.

Each writer (junit, allure, html, markdown) is a function of this record, so the
reports agree with each other and are rebuilt from disk alone (``voice-harness report``).
Every string is redacted as it is read (the environment's keys and those of the run's
endpoints, plus credential shapes), so a folder written before redaction at the sink,
or by another tool, still never puts a key in a report.
A call folder that cannot be read (a run killed mid-write) is listed as unreadable
and the rest of the report is still written.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from harness.records import CallRecording, Measurement, Scenario, Verdict
from harness.redact import SecretRedactor
from harness.slo.baseline import MetricRow, drift_tolerance
from harness.stats.drift import DriftEntry, window_drift
from harness.stats.windows import WindowRow
from harness.store.run_folder import (
    RunFolderError,
    iter_call_dirs,
    load_scenario,
    read_recording,
    read_results,
    read_run_info,
)
from harness.store.run_info import RunInfo
from harness.store.serialize import SerializationError
from harness.store.windows import WindowsFileError, read_windows

__all__ = ["CallEntry", "ReportContext", "read_context"]


@dataclass(frozen=True, slots=True, kw_only=True)
class CallEntry:
    call_id: str
    path: Path
    recording: CallRecording | None
    scenario: Scenario | None
    measurements: tuple[Measurement, ...]
    error: str = ""
    """Why the call folder could not be read (the call is still listed)."""

    @property
    def ok(self) -> bool:
        return (
            self.recording is not None
            and self.recording.failure is None
            and all(m.passed is not False for m in self.measurements)
        )

    @property
    def disturbed(self) -> bool:
        """The validity guard marked the call: the harness, not the endpoint, was off."""
        validity = self.recording.validity if self.recording is not None else None
        return (validity is not None and validity.disturbed) or any(m.disturbed for m in self.measurements)

    @property
    def validity_text(self) -> str:
        """Why the call was disturbed, with the figures (empty when it was not)."""
        validity = self.recording.validity if self.recording is not None else None
        if validity is not None and validity.reasons:
            return "; ".join(validity.reasons)
        return "marked disturbed in results.jsonl" if self.disturbed else ""


@dataclass(frozen=True, slots=True, kw_only=True)
class ReportContext:
    run_dir: Path
    info: RunInfo | None
    measurements: tuple[Measurement, ...]
    calls: tuple[CallEntry, ...]
    verdicts: tuple[Verdict, ...] = ()
    baseline_rows: tuple[MetricRow, ...] = ()
    baseline_path: Path | None = None
    problems: tuple[str, ...] = field(default_factory=tuple)
    """Files that could not be read, named for the report's reader."""
    include_disturbed: bool = False
    """Whether summary statistics count disturbed calls (they are listed either way)."""
    windows: tuple[WindowRow, ...] = ()
    """A soak's windows (``windows.jsonl``); empty for other runs."""
    drift: tuple[DriftEntry, ...] = ()
    """A soak's drift entries (run.json's, or computed from the windows)."""

    @property
    def run_id(self) -> str:
        return self.info.run_id if self.info else self.run_dir.name

    @property
    def disturbed_calls(self) -> tuple[CallEntry, ...]:
        return tuple(c for c in self.calls if c.disturbed)

    @property
    def counted_measurements(self) -> tuple[Measurement, ...]:
        """The rows summary statistics are made of: as the gate counts them."""
        if self.include_disturbed:
            return self.measurements
        return tuple(m for m in self.measurements if not m.disturbed)


def read_context(
    run_dir: Path,
    verdicts: Sequence[Verdict] | None = None,
    baseline_rows: Sequence[MetricRow] = (),
    baseline_path: Path | None = None,
    *,
    include_disturbed: bool = False,
) -> ReportContext:
    problems: list[str] = []
    info: RunInfo | None
    redactor = SecretRedactor.from_environment()
    try:
        plain = read_run_info(run_dir)
        redactor.add_environment(e.api_key_env for e in plain.endpoints if e.api_key_env)
        info = read_run_info(run_dir, redactor)
    except RunFolderError as exc:
        info = None
        problems.append(redactor(str(exc)))
    measurements = tuple(read_results(run_dir, redactor))
    by_call: dict[str, list[Measurement]] = {}
    for m in measurements:
        by_call.setdefault(m.call_id, []).append(m)
    calls: list[CallEntry] = []
    seen: set[str] = set()
    for call_dir in iter_call_dirs(run_dir):
        cid = call_dir.name
        seen.add(cid)
        rec: CallRecording | None = None
        scn: Scenario | None = None
        error = ""
        try:
            rec = read_recording(call_dir, redactor)
            scn = load_scenario(call_dir, redactor) if (call_dir / "scenario.json").is_file() else None
        except (RunFolderError, SerializationError, OSError) as exc:
            error = redactor(str(exc))
            problems.append(error)
        calls.append(CallEntry(call_id=cid, path=call_dir, recording=rec, scenario=scn,
                               measurements=tuple(by_call.get(cid, ())), error=error))
    for cid, ms in by_call.items():  # results without a call folder (bad scenario files)
        if cid not in seen:
            calls.append(CallEntry(call_id=cid, path=run_dir / "calls" / cid, recording=None,
                                   scenario=None, measurements=tuple(ms)))
    if verdicts is None:
        verdicts = info.verdicts if info else ()
    try:
        windows = read_windows(run_dir)
    except WindowsFileError as exc:
        windows = []
        problems.append(str(exc))
    drift = tuple(info.drift) if info and info.drift else tuple(window_drift(windows, tolerance=drift_tolerance)) if windows else ()
    return ReportContext(run_dir=run_dir, info=info, measurements=measurements, calls=tuple(calls),
                         verdicts=tuple(verdicts), baseline_rows=tuple(baseline_rows),
                         baseline_path=baseline_path, problems=tuple(problems),
                         include_disturbed=include_disturbed, windows=tuple(windows), drift=drift)

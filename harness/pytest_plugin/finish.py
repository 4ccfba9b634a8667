"""The end of a session (controller only): run.json from what is on disk, then the gate
and the reports, as ``voice-harness run`` does them."""

from __future__ import annotations

import contextlib
import dataclasses
import io

import pytest

from harness.pytest_plugin.state import SCENARIOS, SUMMARY, PluginState, argv
from harness.records import CallResult, Measurement, SegmentationParams

__all__ = ["finish_session"]


def finish_session(session: pytest.Session, state: PluginState) -> None:
    """Write run.json, gate on ``--vh-slo``/``--vh-baseline``, render the reports, and set
    the session's exit status and summary lines from the verdicts."""
    from rich.console import Console

    from harness.gate import GateError, gate_and_report, print_verdicts

    _finalise_run_json(state)
    slo, baseline = state.options.slo, state.options.baseline
    try:
        paths = gate_and_report(state.run_dir, slo=slo, baseline=baseline)
    except GateError as exc:
        session.config.stash[SUMMARY] = [f"voice-harness gate error: {exc}"]
        session.exitstatus = pytest.ExitCode.USAGE_ERROR
        return
    lines = [f"voice-harness run folder: {state.run_dir}", f"report: {paths.html}"]
    if slo is not None or baseline is not None:
        console = Console(record=True, width=160, file=io.StringIO())
        print_verdicts(console, paths.verdicts)
        lines.append(console.export_text())
    if paths.gate_failed:
        lines.append("voice-harness gate FAILED")
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
    session.config.stash[SUMMARY] = lines


def _finalise_run_json(state: PluginState) -> None:
    """run.json from what is on disk (every worker's calls), as the CLI writes it."""
    from harness.runner import plan
    from harness.stats.percentiles import summarize
    from harness.store.run_folder import (
        RunFolder,
        iter_call_dirs,
        load_recording,
        read_results,
        read_run_info,
    )
    from harness.store.run_info import RunFailure, build_run_info, utc_now_iso
    from harness.store.serialize import SerializationError

    measurements = read_results(state.run_dir)
    by_call: dict[str, list[Measurement]] = {}
    for m in measurements:
        by_call.setdefault(m.call_id, []).append(m)
    results = [CallResult(spec_call_id=cid, scenario=ms[0].scenario, endpoint=ms[0].endpoint,
                          caller=ms[0].caller, repeat=ms[0].repeat, measurements=tuple(ms))
               for cid, ms in by_call.items()]
    scenarios = state.config.stash.get(SCENARIOS, {})
    endpoints = state.endpoints(placeholder=True)
    n_planned = len(plan(list(scenarios.values()), endpoints, state.callers, state.repeat).specs)
    try:
        started = read_run_info(state.run_dir).started_at
    except Exception:
        started = utc_now_iso()
    info = build_run_info(
        run_id=state.run_dir.name, started_at=started, finished_at=utc_now_iso(),
        argv=("pytest", *argv()), endpoints=endpoints, callers=state.callers,
        scenarios=list(scenarios.values()), repeats=state.repeat, planned=n_planned,
        results=results, summary=summarize(measurements, by=("metric", "endpoint", "caller")),
        segmentation=SegmentationParams(),
    )
    failures = []
    for call_dir in iter_call_dirs(state.run_dir):
        with contextlib.suppress(Exception):
            rec = load_recording(call_dir)[0]
            if rec.failure is not None:
                failures.append(RunFailure(failure=rec.failure, call_id=rec.call_id,
                                           scenario=rec.scenario_id, endpoint=rec.endpoint,
                                           caller=rec.caller, repeat=rec.repeat))
    info = dataclasses.replace(info, failures=tuple(failures))
    with contextlib.suppress(SerializationError, OSError):
        RunFolder.open(state.run_dir).write_run_json(info)

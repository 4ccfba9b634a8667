"""allure-results/: one Allure test per call (and per gate verdict), written with
allure-python-commons' own model and file logger, so any Allure version reads it.

Each call carries its steps (one per expectation), its WAVs, the timeline image and
recording.json as attachments; labels (suite = scenario, parentSuite = endpoint,
tag = caller) let Allure group a vendor comparison.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import uuid
from collections.abc import Mapping
from pathlib import Path

from allure_commons.logger import AllureFileLogger
from allure_commons.model2 import (
    Attachment,
    Label,
    Parameter,
    Status,
    StatusDetails,
    TestResult,
    TestStepResult,
)

from harness.records import VerdictStatus
from harness.report.context import CallEntry, ReportContext
from harness.store.serialize import to_json

__all__ = ["ALLURE_DIR", "write_allure"]

ALLURE_DIR = "allure-results"
_MIME = {".wav": "audio/wav", ".flac": "audio/flac", ".png": "image/png", ".json": "application/json"}


def _epoch_ms(iso: str) -> int | None:
    from datetime import datetime

    try:
        return int(datetime.fromisoformat(iso).timestamp() * 1000)
    except (TypeError, ValueError):
        return None


def _attach(logger: AllureFileLogger, out: Path, source: Path | bytes, name: str, ext: str) -> Attachment:
    file_name = f"{uuid.uuid4()}-attachment{ext}"
    if isinstance(source, bytes):
        logger.report_attached_data(source, file_name)  # type: ignore[no-untyped-call]
    else:
        try:  # a hard link: the WAVs are already in the run folder, no need for a 2nd copy
            os.link(source, out / file_name)
        except OSError:
            logger.report_attached_file(str(source), file_name)  # type: ignore[no-untyped-call]
    return Attachment(name=name, source=file_name, type=_MIME.get(ext, "application/octet-stream"))


def _call_result(logger: AllureFileLogger, out: Path, call: CallEntry, timeline: bytes | None, start: int | None) -> TestResult:
    rec = call.recording
    scenario = rec.scenario_id if rec else (call.measurements[0].scenario if call.measurements else "?")
    endpoint = rec.endpoint if rec else (call.measurements[0].endpoint if call.measurements else "?")
    caller = str(rec.caller) if rec else "?"
    steps = []
    for m in call.measurements:
        if m.passed is None:
            continue
        value = "-" if m.value is None else f"{m.value:g} {m.unit}"
        steps.append(TestStepResult(
            name=f"step {'call' if m.turn is None else m.turn}: {m.metric} = {value}",
            status=Status.PASSED if m.passed else Status.FAILED,
            statusDetails=None if m.passed else StatusDetails(message=m.reason or "expectation not met"),
            start=start, stop=start,
        ))
    message = None
    if rec is not None and rec.failure is not None:
        message = f"{rec.failure.kind}: {rec.failure.reason}"
    elif call.error:
        message = call.error
    else:
        failed = [m for m in call.measurements if m.passed is False]
        if failed:
            message = "; ".join(f"{m.metric} step {m.turn}: {m.reason or 'expectation not met'}" for m in failed)
    if call.disturbed:
        message = (f"{message}; " if message else "") + f"disturbed by the harness: {call.validity_text}"
    attachments = []
    for name in ("mix.flac", "caller.flac", "received.flac", "mix.wav", "caller.wav", "received.wav"):
        path = call.path / name
        if path.is_file():
            attachments.append(_attach(logger, out, path, name, path.suffix))
    if rec is not None:  # the record as read (redacted), not a link to the file on disk
        data = to_json(rec, indent=2).encode("utf-8")
        attachments.append(_attach(logger, out, data, "recording.json", ".json"))
    if timeline:
        attachments.append(_attach(logger, out, timeline, "timeline.png", ".png"))
    duration = int(rec.duration_ns / 1e6) if rec else 0
    history = hashlib.md5(call.call_id.encode(), usedforsecurity=False).hexdigest()
    return TestResult(
        uuid=str(uuid.uuid4()), historyId=history, testCaseId=history,
        fullName=f"{endpoint}.{scenario}.{call.call_id}", name=call.call_id,
        status=(Status.BROKEN if rec is None or call.disturbed else Status.FAILED) if not call.ok or call.disturbed
        else Status.PASSED,
        statusDetails=StatusDetails(message=message) if message else None,
        steps=steps, attachments=attachments,
        labels=[Label(name="parentSuite", value=endpoint), Label(name="suite", value=scenario),
                Label(name="tag", value=caller), Label(name="framework", value="voice-harness"),
                *([Label(name="tag", value="disturbed")] if call.disturbed else [])],
        parameters=[Parameter(name="repeat", value=str(rec.repeat if rec else 0))],
        start=start, stop=None if start is None else start + duration,
    )


def write_allure(ctx: ReportContext, timelines: Mapping[str, bytes] | None = None,
                 out: Path | None = None) -> Path:
    out = out or ctx.run_dir / ALLURE_DIR
    if out.is_dir():
        shutil.rmtree(out)  # rebuilt from the run folder each time: no stale results
    logger = AllureFileLogger(str(out))  # type: ignore[no-untyped-call]
    start = _epoch_ms(ctx.info.started_at) if ctx.info else None
    for call in ctx.calls:
        result = _call_result(logger, out, call, (timelines or {}).get(call.call_id), start)
        logger.report_result(result)  # type: ignore[no-untyped-call]
    for v in ctx.verdicts:
        status = {VerdictStatus.PASS: Status.PASSED, VerdictStatus.FAIL: Status.FAILED}.get(
            v.status, Status.SKIPPED)
        obs = "-" if v.observed is None else f"{v.observed:g}"
        name = f"{v.kind}: {v.metric} {v.stat} [{v.group}]"
        logger.report_result(TestResult(  # type: ignore[no-untyped-call]
            uuid=str(uuid.uuid4()), name=name, fullName=f"gate.{name}",
            historyId=hashlib.md5(name.encode(), usedforsecurity=False).hexdigest(),
            status=status,
            statusDetails=StatusDetails(message=f"observed {obs} {v.unit}, threshold {v.op} "
                                                f"{v.threshold:g}, n={v.n}. {v.detail}"),
            labels=[Label(name="parentSuite", value="gate"), Label(name="suite", value=str(v.kind))],
            start=start, stop=start,
        ))
    return out

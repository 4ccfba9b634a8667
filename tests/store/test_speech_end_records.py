"""The caller-end fields survive run.json and recording.json, and old files still read."""

from __future__ import annotations

import dataclasses

from harness.records import (
    CallerKind,
    CallerSpeechEnd,
    CallRecording,
    SegmentationParams,
    SentUtterance,
    StepKind,
)
from harness.stats.speech_end import summarize_speech_ends
from harness.store.run_info import RunInfo, collect_environment
from harness.store.serialize import from_json, from_json_obj, to_json, to_json_obj


def sent(end_sample: int | None) -> SentUtterance:
    return SentUtterance(step_index=0, kind=StepKind.SAY, utterance_id="q", start_sample=480, start_ns=10_000_000,
                         speech_start_ns=20_000_000, speech_end_ns=900_000_000, voiced_ns=((20_000_000, 900_000_000),),
                         speech_end_sample=end_sample)


def run_info() -> RunInfo:
    ends = [CallerSpeechEnd(step_index=k, utterance_id="q", detector_end_ns=900_000_000,
                            end_ns=900_000_000 - k * 1_000_000, effective_dbfs=-60.0 - k, level_dbfs=-40.0)
            for k in range(3)]
    return RunInfo(run_id="r", started_at="2026-01-01T00:00:00+00:00", environment=collect_environment(()),
                   segmentation=SegmentationParams(caller_end_dbfs=-40.0),
                   speech_end=summarize_speech_ends(-40.0, ends))


def test_run_json_round_trips_the_definition_and_its_summary() -> None:
    info = run_info()
    assert info.speech_end is not None and info.speech_end.shift_ms_p50 == -1.0
    obj = to_json_obj(info)
    assert obj["segmentation"]["caller_end_dbfs"] == -40.0
    assert obj["speech_end"]["effective_dbfs_p50"] == -61.0
    assert from_json(RunInfo, to_json(info)) == info


def test_run_json_written_before_the_fields_reads_as_the_detector_definition() -> None:
    obj = to_json_obj(dataclasses.replace(run_info(), segmentation=SegmentationParams(), speech_end=None))
    del obj["speech_end"]
    del obj["segmentation"]["caller_end_dbfs"]
    old = from_json_obj(RunInfo, obj)
    assert old.segmentation.caller_end_dbfs is None and old.speech_end is None


def test_a_recording_keeps_where_the_end_sits_in_caller_wav() -> None:
    rec = CallRecording(call_id="c", scenario_id="s", endpoint="e", caller=CallerKind.AIORTC,
                        sent=(sent(43_680),))
    assert from_json(CallRecording, to_json(rec)) == rec
    obj = to_json_obj(rec)
    del obj["sent"][0]["speech_end_sample"]  # a recording made before it was recorded
    assert from_json_obj(CallRecording, obj).sent[0].speech_end_sample is None

"""openai-realtime conformance: what the adapter sends and how it reads what it gets.

The reference shapes below are written independently of the adapter from OpenAI's
Realtime (GA) client-event reference (``session.update``; the
``/v1/realtime/client_secrets`` body), with ``extra="forbid"`` so a misplaced field
fails. Server sequences come from a JSON fixture written from the server-event reference.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Annotated, Literal

import pytest
from pydantic import BaseModel, ConfigDict, Field

from harness.endpoints.base import EndpointError
from harness.endpoints.openai_realtime import (
    OpenAIRealtimeEndpoint,
    client_secret_body,
    session_config,
)
from harness.records import Dialect, EndpointSpec, EventKind

FIXTURE = Path(__file__).with_name("fixtures") / "openai_realtime_events.json"


class _Doc(BaseModel):
    model_config = ConfigDict(extra="forbid")


class DocServerVad(_Doc):
    type: Literal["server_vad"]
    threshold: float | None = None
    prefix_padding_ms: int | None = None
    silence_duration_ms: int | None = None
    create_response: bool | None = None
    interrupt_response: bool | None = None
    idle_timeout_ms: int | None = None


class DocSemanticVad(_Doc):
    type: Literal["semantic_vad"]
    eagerness: Literal["low", "medium", "high", "auto"] | None = None
    create_response: bool | None = None
    interrupt_response: bool | None = None


class DocTranscription(_Doc):
    model: str
    language: str | None = None
    prompt: str | None = None


class DocAudioInput(_Doc):
    format: dict[str, object] | None = None
    noise_reduction: dict[str, object] | None = None
    transcription: DocTranscription | None = None
    turn_detection: Annotated[DocServerVad | DocSemanticVad, Field(discriminator="type")] | None = None


class DocAudioOutput(_Doc):
    format: dict[str, object] | None = None
    voice: str | None = None
    speed: float | None = None


class DocAudio(_Doc):
    input: DocAudioInput | None = None
    output: DocAudioOutput | None = None


class DocSession(_Doc):
    type: Literal["realtime"]
    model: str | None = None
    instructions: str | None = None
    output_modalities: list[Literal["audio", "text"]] | None = None
    audio: DocAudio | None = None
    max_output_tokens: int | Literal["inf"] | None = None
    tool_choice: str | None = None
    tools: list[object] | None = None
    tracing: object = None
    truncation: object = None
    prompt: object = None
    include: list[str] | None = None


class DocSessionUpdate(_Doc):
    type: Literal["session.update"]
    event_id: str | None = None
    session: DocSession


class DocClientSecretRequest(_Doc):
    expires_after: dict[str, object] | None = None
    session: DocSession


OPTIONS_SERVER_VAD = {
    "model": "gpt-realtime", "voice": "marin", "instructions": "Be brief.",
    "turn_detection": {"type": "server_vad", "threshold": 0.6, "prefix_padding_ms": 300,
                       "silence_duration_ms": 450, "interrupt_response": True},
    "transcription_model": "gpt-4o-mini-transcribe",
}
OPTIONS_SEMANTIC_VAD = {"model": "gpt-realtime", "turn_detection": {"type": "semantic_vad", "eagerness": "low"}}


def _endpoint(options: dict[str, object]) -> OpenAIRealtimeEndpoint:
    spec = EndpointSpec(name="oa", dialect=Dialect.OPENAI_REALTIME, url="http://127.0.0.1:9", options=options)  # type: ignore[arg-type]
    return OpenAIRealtimeEndpoint(spec)


@pytest.mark.parametrize("options", [OPTIONS_SERVER_VAD, OPTIONS_SEMANTIC_VAD, {}], ids=["server_vad", "semantic_vad", "none"])
def test_session_update_matches_the_documented_shape(options: dict[str, object]) -> None:
    (message,) = _endpoint(options).opening_messages()
    update = DocSessionUpdate.model_validate_json(message)
    DocClientSecretRequest.model_validate(client_secret_body(session_config(options)))  # type: ignore[arg-type]
    detection = update.session.audio.input.turn_detection if update.session.audio and update.session.audio.input else None
    expected = options.get("turn_detection")
    assert (detection.model_dump(exclude_none=True) if detection else None) == expected


def test_session_update_carries_every_option() -> None:
    session = json.loads(_endpoint(OPTIONS_SERVER_VAD).opening_messages()[0])["session"]
    assert session["model"] == "gpt-realtime"
    assert session["instructions"] == "Be brief."
    assert session["audio"]["output"]["voice"] == "marin"
    assert session["audio"]["input"]["transcription"] == {"model": "gpt-4o-mini-transcribe"}
    assert session["audio"]["input"]["turn_detection"]["silence_duration_ms"] == 450


@pytest.mark.parametrize("bad", [
    {"turn_detection": {"type": "semantic", "eagerness": "low"}},
    {"turn_detection": {"type": "server_vad", "threshold": 2.0}},
    {"turn_detection": {"type": "semantic_vad", "silence_duration_ms": 500}},
    {"temperature_typo": 0.8},
])
def test_bad_options_are_a_recorded_failure_naming_the_option(bad: dict[str, object]) -> None:
    with pytest.raises(EndpointError) as info:
        asyncio.run(_endpoint(bad).exchange("v=0\r\n"))
    assert "options." in info.value.reason
    assert _endpoint(bad).opening_messages() == []


def test_recorded_server_sequence_maps_to_expected_kinds() -> None:
    fixture = json.loads(FIXTURE.read_text())
    endpoint = _endpoint({})
    events = [e for i, obj in enumerate(fixture["events"]) for e in endpoint.map_message(json.dumps(obj), i)]
    assert [[e.vendor_type, e.kind.value] for e in events] == fixture["expected"]
    by_type = {(e.vendor_type, e.data.get("response_status")): e for e in events}
    cancelled = by_type[("response.done", "cancelled")]
    assert cancelled.data["status_reason"] == "turn_detected"
    assert by_type[("input_audio_buffer.speech_stopped", None)].data["audio_end_ms"] == 2000
    assert by_type[("conversation.item.input_audio_transcription.completed", None)].data["transcript"] == "What time is it?"
    error = by_type[("error", None)]
    assert error.kind == EventKind.ERROR and error.data["error_code"] == "invalid_value"


def test_malformed_messages_become_error_events() -> None:
    endpoint = _endpoint({})
    (bad,) = endpoint.map_message("not json {", 5)
    (typeless,) = endpoint.map_message(json.dumps({"no_type": 1}), 6)
    assert bad.kind == typeless.kind == EventKind.ERROR
    assert bad.data["malformed"] is True and typeless.data["malformed"] is True

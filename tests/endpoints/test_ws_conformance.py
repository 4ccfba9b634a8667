"""WebSocket dialect conformance: what each adapter sends, and how it reads what it gets.

Client messages are checked against reference shapes written independently of the
adapters from each vendor's public reference, with ``extra="forbid"`` so a misplaced or
misspelt field fails. Server sequences come from JSON fixtures written from the same
references (tests/endpoints/fixtures/): every message maps to the expected event kind,
audio is decoded at the documented rate, and each dialect's stop signal is a flush.
"""

from __future__ import annotations

import asyncio
import base64
import json
from pathlib import Path
from typing import Any, Literal

import pytest
from pydantic import BaseModel, ConfigDict

from harness.endpoints.elevenlabs_agents import ElevenLabsAgentsEndpoint
from harness.endpoints.gemini_live import GeminiLiveEndpoint
from harness.endpoints.openai_realtime_ws import OpenAIRealtimeWsEndpoint
from harness.endpoints.twilio_media_streams import TwilioMediaStreamsEndpoint
from harness.endpoints.websocket_pcm import WebSocketPcmEndpoint
from harness.endpoints.ws_base import Decoded, WsDialect
from harness.records import Dialect, EndpointSpec
from harness.ws.playout_model import Flush

FIXTURES = Path(__file__).with_name("fixtures")


class _Doc(BaseModel):
    model_config = ConfigDict(extra="forbid")


def _fixture(name: str) -> dict[str, Any]:
    return json.loads((FIXTURES / name).read_text())


def _prepared(cls: type[WsDialect], dialect: Dialect, url: str, **options: Any) -> WsDialect:
    adapter = cls(EndpointSpec(name="x", dialect=dialect, url=url, options=options))
    asyncio.run(adapter.prepare())
    return adapter


def _decode_all(adapter: WsDialect, messages: list[Any], binary: bool = False) -> list[Decoded]:
    out = []
    for i, message in enumerate(messages):
        raw = json.dumps(message)
        out.append(adapter.decode(raw.encode() if binary else raw, i))
    return out


def _kinds(decoded: list[Decoded]) -> list[list[str]]:
    return [[e.vendor_type, str(e.kind)] for d in decoded for e in d.events]


# ------------------------------------------------------------------- openai-realtime-ws


class DocFormat(_Doc):
    type: Literal["audio/pcm", "audio/pcmu", "audio/pcma"]
    rate: Literal[24000] | None = None


class DocGaInput(_Doc):
    format: DocFormat | None = None
    turn_detection: dict[str, object] | None = None
    transcription: dict[str, object] | None = None
    noise_reduction: dict[str, object] | None = None


class DocGaOutput(_Doc):
    format: DocFormat | None = None
    voice: str | None = None
    speed: float | None = None


class DocGaAudio(_Doc):
    input: DocGaInput | None = None
    output: DocGaOutput | None = None


class DocGaSession(_Doc):
    type: Literal["realtime"]
    model: str | None = None
    instructions: str | None = None
    audio: DocGaAudio | None = None
    output_modalities: list[Literal["audio", "text"]] | None = None


class DocBetaSession(_Doc):
    modalities: list[Literal["audio", "text"]] | None = None
    instructions: str | None = None
    voice: str | None = None
    input_audio_format: Literal["pcm16", "g711_ulaw", "g711_alaw"] | None = None
    output_audio_format: Literal["pcm16", "g711_ulaw", "g711_alaw"] | None = None
    turn_detection: dict[str, object] | None = None
    input_audio_transcription: dict[str, object] | None = None


class DocSessionUpdate(_Doc):
    type: Literal["session.update"]
    event_id: str | None = None
    session: dict[str, object]


class DocAppend(_Doc):
    type: Literal["input_audio_buffer.append"]
    event_id: str | None = None
    audio: str


class DocTruncate(_Doc):
    type: Literal["conversation.item.truncate"]
    event_id: str | None = None
    item_id: str
    content_index: int
    audio_end_ms: int


@pytest.mark.parametrize("version", ["ga", "beta"])
def test_openai_ws_client_messages_match_the_reference(version: str) -> None:
    adapter = _prepared(OpenAIRealtimeWsEndpoint, Dialect.OPENAI_REALTIME_WS, "wss://api.openai.com/v1/realtime",
                        model="gpt-realtime", voice="marin", api_version=version, transcription_model="whisper-1",
                        turn_detection={"type": "server_vad", "silence_duration_ms": 500})
    assert adapter.url() == "wss://api.openai.com/v1/realtime?model=gpt-realtime"
    (update,) = adapter.opening_messages()
    session = DocSessionUpdate.model_validate_json(update).session
    if version == "ga":
        parsed = DocGaSession.model_validate(session)
        assert parsed.audio is not None and parsed.audio.input is not None and parsed.audio.input.format is not None
        assert parsed.audio.input.format.rate == 24000
    else:
        beta = DocBetaSession.model_validate(session)
        assert beta.input_audio_format == "pcm16" and adapter.headers().get("OpenAI-Beta") == "realtime=v1"
    (append,) = adapter.audio_messages(b"\x00\x01" * 480, 0, 0)
    assert base64.b64decode(DocAppend.model_validate_json(append).audio) == b"\x00\x01" * 480


def test_openai_ws_events_audio_and_truncation_follow_the_reference() -> None:
    fixture = _fixture("openai_realtime_ws_events.json")
    adapter = _prepared(OpenAIRealtimeWsEndpoint, Dialect.OPENAI_REALTIME_WS, "wss://api.openai.com/v1/realtime")
    decoded = []
    for i, message in enumerate(fixture["events"]):
        result = adapter.decode(json.dumps(message), i)
        decoded.append(result)
        if result.flush and i == fixture["flushes_at"][1]:  # the client stopped item_2 after 40 ms
            (truncate,) = adapter.flush_messages(Flush(at_ns=i, dropped_ns=1, played_ms={"item_2": 40}))
            assert DocTruncate.model_validate_json(truncate).audio_end_ms == 40
    assert _kinds(decoded) == fixture["expected"]
    assert [i for i, d in enumerate(decoded) if d.flush] == fixture["flushes_at"]
    audio = [a for d in decoded for a in d.audio]
    # Both the GA and the beta delta are audio; the delta after the truncation is dropped.
    assert len(audio) == fixture["audio_deltas"] - 1
    assert all(a.rate == 24000 and a.samples.size == 480 and a.item == "item_2" for a in audio)
    assert decoded[0].ready and adapter.info["session_id"] == "sess_1"
    error = decoded[18].events[0]
    assert error.data == {"message": "Invalid value: 'semantic'.", "type": "invalid_request_error",
                          "code": "invalid_value", "param": "session.audio.input.turn_detection.type"}


# ------------------------------------------------------------------------- gemini-live


class DocBlob(_Doc):
    data: str
    mimeType: str


class DocRealtimeInput(_Doc):
    audio: DocBlob | None = None
    video: DocBlob | None = None
    text: str | None = None
    activityStart: dict[str, object] | None = None
    activityEnd: dict[str, object] | None = None
    audioStreamEnd: bool | None = None


class DocDetection(_Doc):
    disabled: bool | None = None
    startOfSpeechSensitivity: Literal["START_SENSITIVITY_HIGH", "START_SENSITIVITY_LOW"] | None = None
    endOfSpeechSensitivity: Literal["END_SENSITIVITY_HIGH", "END_SENSITIVITY_LOW"] | None = None
    prefixPaddingMs: int | None = None
    silenceDurationMs: int | None = None


class DocRealtimeInputConfig(_Doc):
    automaticActivityDetection: DocDetection | None = None
    activityHandling: str | None = None
    turnCoverage: str | None = None


class DocGenerationConfig(_Doc):
    responseModalities: list[Literal["AUDIO", "TEXT"]]
    speechConfig: dict[str, object] | None = None
    temperature: float | None = None


class DocSetup(_Doc):
    model: str
    generationConfig: DocGenerationConfig | None = None
    systemInstruction: dict[str, object] | None = None
    realtimeInputConfig: DocRealtimeInputConfig | None = None
    inputAudioTranscription: dict[str, object] | None = None
    outputAudioTranscription: dict[str, object] | None = None
    tools: list[object] | None = None


def test_gemini_setup_and_audio_match_the_reference_and_the_key_rides_in_the_query() -> None:
    adapter = _prepared(GeminiLiveEndpoint, Dialect.GEMINI_LIVE, "wss://generativelanguage.googleapis.com/ws/x",
                        model="gemini-live-2.5", voice="Puck", instructions="Be brief.",
                        activity_detection={"silence_duration_ms": 500, "end_of_speech_sensitivity": "END_SENSITIVITY_LOW"})
    (first,) = adapter.opening_messages()
    setup = DocSetup.model_validate(json.loads(first)["setup"])
    assert setup.model == "models/gemini-live-2.5"
    assert setup.realtimeInputConfig is not None and setup.realtimeInputConfig.automaticActivityDetection is not None
    assert setup.realtimeInputConfig.automaticActivityDetection.silenceDurationMs == 500
    assert setup.inputAudioTranscription == {} and setup.outputAudioTranscription == {}
    (audio,) = adapter.audio_messages(b"\x01\x00" * 320, 0, 0)
    blob = DocRealtimeInput.model_validate(json.loads(audio)["realtimeInput"]).audio
    assert blob is not None and blob.mimeType == "audio/pcm;rate=16000"
    adapter.key = "AIzaTESTKEYTESTKEYTESTKEYTESTKEY0000000"
    assert adapter.url().endswith("?key=AIzaTESTKEYTESTKEYTESTKEYTESTKEY0000000")
    assert adapter.headers() == {}


def test_gemini_server_messages_follow_the_reference() -> None:
    fixture = _fixture("gemini_live_messages.json")
    adapter = _prepared(GeminiLiveEndpoint, Dialect.GEMINI_LIVE, "wss://x/ws", model="m")
    decoded = _decode_all(adapter, fixture["messages"], binary=True)  # the Live API frames JSON as binary
    assert _kinds(decoded) == fixture["expected"]
    events = [e for d in decoded for e in d.events]
    for kind, text in fixture["transcripts"].items():
        assert [e.data["transcript"] for e in events if e.kind == kind] == [text]
    audio = [a for d in decoded for a in d.audio]
    assert len(audio) == fixture["audio_messages"] and all(a.rate == 24000 for a in audio)
    assert [i for i, d in enumerate(decoded) if d.flush] == fixture["flushes_at"]
    assert decoded[0].ready


# ------------------------------------------------------------------- elevenlabs-agents


class DocInitiation(_Doc):
    type: Literal["conversation_initiation_client_data"]
    conversation_config_override: dict[str, object] | None = None
    custom_llm_extra_body: dict[str, object] | None = None
    dynamic_variables: dict[str, object] | None = None


class DocUserAudio(_Doc):
    user_audio_chunk: str


class DocPong(_Doc):
    type: Literal["pong"]
    event_id: int


def test_elevenlabs_client_messages_and_server_events_follow_the_reference() -> None:
    adapter = _prepared(ElevenLabsAgentsEndpoint, Dialect.ELEVENLABS_AGENTS,
                        "wss://api.elevenlabs.io/v1/convai/conversation", agent_id="agent_123", first_message="Hi")
    assert adapter.url() == "wss://api.elevenlabs.io/v1/convai/conversation?agent_id=agent_123"
    (init,) = adapter.opening_messages()
    override = DocInitiation.model_validate_json(init).conversation_config_override
    assert override == {"agent": {"first_message": "Hi"}}
    (chunk,) = adapter.audio_messages(b"\x02\x00" * 320, 0, 0)
    DocUserAudio.model_validate_json(chunk)

    fixture = _fixture("elevenlabs_agents_events.json")
    decoded = _decode_all(adapter, fixture["events"])
    assert _kinds(decoded) == fixture["expected"]
    assert decoded[0].ready and adapter.input_format.rate == 16000
    (pong,) = decoded[6].replies
    assert DocPong.model_validate_json(pong).model_dump() == fixture["pong"]
    # Audio of the interrupted event id that arrives after the interruption is not played.
    assert sum(len(d.audio) for d in decoded) == fixture["audio_played"]
    assert [i for i, d in enumerate(decoded) if d.flush] == fixture["flushes_at"]


# ---------------------------------------------------------------- twilio-media-streams


class DocMediaFormat(_Doc):
    encoding: Literal["audio/x-mulaw"]
    sampleRate: Literal[8000]
    channels: Literal[1]


class DocStartBody(_Doc):
    accountSid: str
    streamSid: str
    callSid: str
    tracks: list[Literal["inbound", "outbound"]]
    customParameters: dict[str, str]
    mediaFormat: DocMediaFormat


class DocConnected(_Doc):
    event: Literal["connected"]
    protocol: Literal["Call"]
    version: str


class DocStart(_Doc):
    event: Literal["start"]
    sequenceNumber: str
    start: DocStartBody
    streamSid: str


class DocMediaBody(_Doc):
    track: Literal["inbound", "outbound"]
    chunk: str
    timestamp: str
    payload: str


class DocMedia(_Doc):
    event: Literal["media"]
    sequenceNumber: str
    media: DocMediaBody
    streamSid: str


class DocMark(_Doc):
    event: Literal["mark"]
    sequenceNumber: str
    streamSid: str
    mark: dict[Literal["name"], str]


class DocStop(_Doc):
    event: Literal["stop"]
    sequenceNumber: str
    streamSid: str
    stop: dict[Literal["accountSid", "callSid"], str]


def test_twilio_messages_are_twilios_and_its_server_messages_are_read() -> None:
    adapter = _prepared(TwilioMediaStreamsEndpoint, Dialect.TWILIO_MEDIA_STREAMS, "wss://agent.example.com/media",
                        custom_parameters={"caller": "+15550100"})
    connected, start = adapter.opening_messages()
    DocConnected.model_validate_json(connected)
    body = DocStart.model_validate_json(start)
    assert body.start.customParameters == {"caller": "+15550100"} and body.streamSid == body.start.streamSid
    assert body.streamSid.startswith("MZ") and body.start.callSid.startswith("CA")
    media = [DocMedia.model_validate_json(m) for i in range(3) for m in adapter.audio_messages(b"\xff" * 160, i, i * 20)]
    assert [(m.media.chunk, m.media.timestamp) for m in media] == [("1", "0"), ("2", "20"), ("3", "40")]
    (mark,) = adapter.mark_messages(["reply-1"])
    (stop,) = adapter.closing_messages()
    numbers = [int(DocStart.model_validate_json(start).sequenceNumber), *(int(m.sequenceNumber) for m in media),
               int(DocMark.model_validate_json(mark).sequenceNumber), int(DocStop.model_validate_json(stop).sequenceNumber)]
    assert numbers == list(range(1, 7)), "every message after connected is numbered in order"

    fixture = _fixture("twilio_media_streams_messages.json")
    decoded = _decode_all(adapter, fixture["messages"])
    assert _kinds(decoded) == fixture["expected"]
    assert [m for d in decoded for m in d.marks] == fixture["marks"]
    assert sum(len(d.audio) for d in decoded) == fixture["audio_messages"]
    assert [i for i, d in enumerate(decoded) if d.flush] == fixture["flushes_at"]
    assert all(a.rate == 8000 and a.samples.size == 160 for d in decoded for a in d.audio)


def test_twilio_signs_the_upgrade_like_twilio() -> None:
    """X-Twilio-Signature: base64(HMAC-SHA1(auth token, URL)), checked with a known vector."""
    adapter = _prepared(TwilioMediaStreamsEndpoint, Dialect.TWILIO_MEDIA_STREAMS, "wss://example.com/media")
    adapter.key = "12345"
    import hashlib
    import hmac

    expected = base64.b64encode(hmac.new(b"12345", b"wss://example.com/media", hashlib.sha1).digest()).decode()
    assert adapter.headers() == {"X-Twilio-Signature": expected}


# ----------------------------------------------------------------------- websocket-pcm


def test_pcm_is_raw_binary_at_the_configured_rate() -> None:
    adapter = _prepared(WebSocketPcmEndpoint, Dialect.WEBSOCKET_PCM, "ws://host/pcm", input_rate=24000,
                        output_rate=8000, chunk_ms=40)
    assert adapter.input_format.rate == 24000 and adapter.options.chunk_ms == 40
    assert adapter.audio_messages(b"\x00\x00" * 960, 0, 0) == [b"\x00\x00" * 960]
    decoded = adapter.decode(b"\x10\x00" * 160, 0)
    assert decoded.audio[0].rate == 8000 and decoded.audio[0].samples.size == 160
    text = adapter.decode('{"type": "hello"}', 1)
    assert [(e.vendor_type, str(e.kind)) for e in text.events] == [("hello", "other")]
    assert [e.vendor_type for e in adapter.decode("plain words", 2).events] == ["text"]
    with pytest.raises(Exception, match="input_rate"):
        _prepared(WebSocketPcmEndpoint, Dialect.WEBSOCKET_PCM, "ws://host/pcm", input_rate=44100)

"""The openai-realtime WebRTC dialect: SDP over HTTP, events on the ``oai-events`` channel.

Signalling follows OpenAI's documented WebRTC flow: with an API key, an ephemeral
client secret is minted first (``POST /v1/realtime/client_secrets``) so the long-lived
key never rides along with media set-up; the SDP offer is then posted to
``/v1/realtime/calls`` as ``application/sdp`` and answered with 201 + Location. The
reference agent speaks the same dialect without a key.
"""

from __future__ import annotations

import json
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from harness.endpoints.base import EndpointError, WebRTCEndpoint, parse_json_event, pick
from harness.endpoints.signalling import request, require_key, require_sdp
from harness.records import EndpointEvent, EndpointSpec, EventKind, FailureKind, JSONValue
from harness.redact import SecretRedactor

EVENT_KINDS: dict[str, EventKind] = {
    "session.created": EventKind.SESSION_CREATED,
    "session.updated": EventKind.OTHER,
    "input_audio_buffer.speech_started": EventKind.SPEECH_STARTED,
    "input_audio_buffer.speech_stopped": EventKind.SPEECH_STOPPED,
    "input_audio_buffer.committed": EventKind.INPUT_COMMITTED,
    "input_audio_buffer.timeout_triggered": EventKind.OTHER,
    "conversation.item.input_audio_transcription.failed": EventKind.ERROR,
    "response.created": EventKind.RESPONSE_CREATED,
    "response.done": EventKind.RESPONSE_DONE,
    "output_audio_buffer.started": EventKind.AUDIO_STARTED,
    "output_audio_buffer.stopped": EventKind.AUDIO_STOPPED,
    "output_audio_buffer.cleared": EventKind.AUDIO_CLEARED,
    "conversation.item.input_audio_transcription.completed": EventKind.INPUT_TRANSCRIPT,
    "response.output_audio_transcript.done": EventKind.OUTPUT_TRANSCRIPT,
    "response.audio_transcript.done": EventKind.OUTPUT_TRANSCRIPT,
    "error": EventKind.ERROR,
}
"""Vendor event type -> harness event kind; unknown types become OTHER."""

_KEPT_FIELDS = ("audio_start_ms", "audio_end_ms", "item_id", "response_id", "transcript", "event_id")


def map_event(obj: dict[str, JSONValue], t_ns: int) -> EndpointEvent | None:
    """One server event as a harness event; streaming deltas are dropped (too many)."""
    vendor_type = obj.get("type")
    if not isinstance(vendor_type, str):
        return EndpointEvent(
            t_ns=t_ns, kind=EventKind.ERROR, vendor_type="malformed",
            data={"malformed": True, "message": "event without a string 'type'"},
        )
    if vendor_type.endswith(".delta"):
        return None
    data = pick(obj, *_KEPT_FIELDS)
    response = obj.get("response")
    if isinstance(response, dict):
        data.update({f"response_{k}": v for k, v in pick(response, "id", "status").items()})
    usage = response.get("status_details") if isinstance(response, dict) else None
    if isinstance(usage, dict):
        data.update({f"status_{k}": v for k, v in pick(usage, "type", "reason").items()})
    error = obj.get("error")
    if isinstance(error, dict):
        data.update({f"error_{k}": v for k, v in pick(error, "type", "code", "message").items()})
    return EndpointEvent(
        t_ns=t_ns, kind=EVENT_KINDS.get(vendor_type, EventKind.OTHER), vendor_type=vendor_type, data=data
    )


class OpenAIRealtimeEndpoint(WebRTCEndpoint):
    datachannel_label = "oai-events"

    def __init__(self, spec: EndpointSpec, *, timeout_s: float = 10.0) -> None:
        super().__init__(spec, timeout_s=timeout_s)
        self._redactor = SecretRedactor.from_environment()

    async def exchange(self, offer_sdp: str) -> str:
        try:
            session = session_config(self.spec.options)
        except ValueError as exc:
            raise EndpointError(FailureKind.SIGNALLING_ERROR, f"endpoint {self.spec.name!r}: {exc}") from None
        key = require_key(self.spec)
        self._redactor.add(key)
        base = self.spec.url.rstrip("/")
        headers = {"Content-Type": "application/sdp"}
        if key:
            token = await self._client_secret(base, key, session)
            self._redactor.add(token)
            headers["Authorization"] = f"Bearer {token}"
        reply = await request(
            "POST", f"{base}/v1/realtime/calls", what="offer", timeout_s=self.timeout_s,
            redactor=self._redactor, data=offer_sdp, headers=headers,
        )
        if reply.headers.get("Location"):
            self.info["location"] = self._redactor(reply.headers["Location"])
        return require_sdp(reply.text, "answer", self._redactor)

    async def _client_secret(self, base: str, key: str, session: dict[str, JSONValue]) -> str:
        """Mint an ephemeral key so the long-lived one never rides along with the offer."""
        body = client_secret_body(session)
        reply = await request(
            "POST", f"{base}/v1/realtime/client_secrets", what="client secret", timeout_s=self.timeout_s,
            redactor=self._redactor, json_body=body,
            headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"},
        )
        try:
            obj = json.loads(reply.text)
        except ValueError:
            obj = None
        value = obj.get("value") if isinstance(obj, dict) else None
        if not isinstance(value, str):
            raise EndpointError(FailureKind.SIGNALLING_ERROR, "client secret response has no 'value'")
        if isinstance(obj, dict) and isinstance(obj.get("expires_at"), int):
            self.info["client_secret_expires_at"] = obj["expires_at"]
        return value

    def opening_messages(self) -> list[str]:
        """``session.update`` with the endpoint's settings, sent when the channel opens."""
        try:
            session = session_config(self.spec.options)
        except ValueError:
            return []  # already reported by exchange()
        return [json.dumps({"type": "session.update", "session": session})]

    def map_message(self, message: str | bytes, t_ns: int) -> list[EndpointEvent]:
        obj = parse_json_event(message, t_ns)
        if isinstance(obj, EndpointEvent):
            return [obj]
        event = map_event(obj, t_ns)
        return [event] if event is not None else []


def client_secret_body(session: dict[str, JSONValue]) -> dict[str, JSONValue]:
    """``POST /v1/realtime/client_secrets`` body: the session the key is minted for."""
    return {"session": session}


def session_config(options: dict[str, JSONValue]) -> dict[str, JSONValue]:
    """The GA ``session`` object from endpoint options; ``ValueError`` names a bad option.

    Options (endpoints.toml ``[endpoints.X.options]``): model, instructions, voice,
    turn_detection = {type = "server_vad", threshold, prefix_padding_ms,
    silence_duration_ms, interrupt_response, create_response} or {type = "semantic_vad",
    eagerness, interrupt_response, create_response}, transcription_model.
    """
    try:
        parsed = RealtimeOptions.model_validate(options)
    except ValidationError as exc:
        problems = "; ".join(
            f"options.{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors(include_url=False)
        )
        raise ValueError(problems) from None
    session: dict[str, JSONValue] = {"type": "realtime"}
    if parsed.model is not None:
        session["model"] = parsed.model
    if parsed.instructions is not None:
        session["instructions"] = parsed.instructions
    audio_in: dict[str, JSONValue] = {}
    if parsed.turn_detection is not None:
        audio_in["turn_detection"] = parsed.turn_detection.model_dump(exclude_none=True)
    if parsed.transcription_model is not None:
        audio_in["transcription"] = {"model": parsed.transcription_model}
    audio: dict[str, JSONValue] = {}
    if audio_in:
        audio["input"] = audio_in
    if parsed.voice is not None:
        audio["output"] = {"voice": parsed.voice}
    if audio:
        session["audio"] = audio
    return session


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ServerVad(_Strict):
    type: Literal["server_vad"]
    threshold: float | None = Field(default=None, ge=0.0, le=1.0)
    prefix_padding_ms: int | None = Field(default=None, ge=0)
    silence_duration_ms: int | None = Field(default=None, ge=0)
    interrupt_response: bool | None = None
    create_response: bool | None = None
    idle_timeout_ms: int | None = None


class SemanticVad(_Strict):
    type: Literal["semantic_vad"]
    eagerness: Literal["low", "medium", "high", "auto"] | None = None
    interrupt_response: bool | None = None
    create_response: bool | None = None


class RealtimeOptions(_Strict):
    model: str | None = None
    instructions: str | None = None
    voice: str | None = None
    turn_detection: Annotated[ServerVad | SemanticVad, Field(discriminator="type")] | None = None
    transcription_model: str | None = None

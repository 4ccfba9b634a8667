"""``gemini-live`` served: ``BidiGenerateContent`` as the Live API speaks it.

The client's ``setup`` is answered with ``setupComplete``; its ``realtimeInput.audio``
(or the older ``mediaChunks``) blobs are PCM16 at 16 kHz. The agent's audio goes out as
``serverContent.modelTurn.parts[].inlineData`` at 24 kHz; the end of a reply is
``generationComplete`` then ``turnComplete``; a cut reply is ``interrupted`` (sent when
the cut plays: the client empties its queue) then ``turnComplete``. Transcripts go out
as ``inputTranscription`` / ``outputTranscription`` in tts mode. Like the Live API, the
server frames its JSON as binary messages.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from harness.agent.ws_dialects.base import (
    ClientInput,
    FlushRule,
    Outgoing,
    ReplyRef,
    ServerDialect,
    WireFormat,
)
from harness.records import JSONValue
from harness.ws.codecs import Encoding, b64decode, b64encode

INPUT = WireFormat(Encoding.PCM16, 16000)
OUTPUT = WireFormat(Encoding.PCM16, 24000)


class GeminiServer(ServerDialect):
    flush_rule = FlushRule.STOP_SIGNAL
    ready_on_connect = False

    def __init__(self, query: Mapping[str, str], headers: Mapping[str, str]) -> None:
        super().__init__(query, headers)
        self.setup: dict[str, Any] = {}

    @property
    def input_format(self) -> WireFormat:
        return INPUT

    @property
    def output_format(self) -> WireFormat:
        return OUTPUT

    def on_message(self, message: Outgoing) -> ClientInput:
        try:
            obj = json.loads(message)
        except (ValueError, UnicodeDecodeError):
            return ClientInput(malformed="not JSON")
        if not isinstance(obj, dict):
            return ClientInput(malformed="not a JSON object")
        if isinstance(obj.get("setup"), dict):
            self.setup = obj["setup"]
            truth: dict[str, JSONValue] = {"model": str(self.setup.get("model")),
                     "input_transcription": "inputAudioTranscription" in self.setup}
            return ClientInput(ready=True, replies=[_json({"setupComplete": {}})], truth=[("gemini_setup", truth)])
        realtime = obj.get("realtimeInput")
        if isinstance(realtime, dict):
            blobs = [realtime["audio"]] if isinstance(realtime.get("audio"), dict) else realtime.get("mediaChunks", [])
            try:
                data = b"".join(b64decode(str(b.get("data", ""))) for b in blobs if isinstance(b, dict)
                                and str(b.get("mimeType", "")).startswith("audio/pcm"))
            except ValueError:
                return ClientInput(malformed="realtimeInput audio is not base64")
            return ClientInput(audio=data or None)
        return ClientInput()

    def audio(self, wire: bytes, reply: ReplyRef) -> list[Outgoing]:
        part = {"inlineData": {"mimeType": "audio/pcm;rate=24000", "data": b64encode(wire)}}
        return [_json({"serverContent": {"modelTurn": {"parts": [part]}}})]

    def event(self, event_type: str, fields: Mapping[str, Any], reply: ReplyRef | None) -> list[Outgoing]:
        if event_type == "response.done":
            response = fields.get("response")
            if isinstance(response, dict) and response.get("status") == "cancelled":
                return [_json({"serverContent": {"turnComplete": True}})]
            return [_json({"serverContent": {"generationComplete": True}}),
                    _json({"serverContent": {"turnComplete": True}}),
                    _json({"usageMetadata": {"promptTokenCount": 0, "responseTokenCount": 0, "totalTokenCount": 0}})]
        if event_type == "conversation.item.input_audio_transcription.completed":
            return [_json({"serverContent": {"inputTranscription": {"text": str(fields.get("transcript", ""))}}})]
        if event_type in ("response.output_audio_transcript.done", "response.audio_transcript.done"):
            return [_json({"serverContent": {"outputTranscription": {"text": str(fields.get("transcript", ""))}}})]
        return []

    def stop_signal(self, reply: ReplyRef) -> list[Outgoing]:
        return [_json({"serverContent": {"interrupted": True}})]

    def malformed_messages(self) -> list[Outgoing]:
        return [b"this is not json {", _json({"vendorUnknownMessage": {}})]


def _json(obj: dict[str, Any]) -> bytes:
    return json.dumps(obj).encode()

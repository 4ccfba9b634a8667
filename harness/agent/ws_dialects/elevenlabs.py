"""``elevenlabs-agents`` served: the Agents WebSocket as ElevenLabs speaks it.

On connect the server sends ``conversation_initiation_metadata`` (PCM at 16 kHz both
ways); the client's ``user_audio_chunk`` messages carry its audio. The agent's audio
goes out as ``audio`` events whose ``event_id`` numbers the reply; a cut reply is an
``interruption`` naming that id (sent when the cut plays). The server pings every two
seconds and logs each ``pong`` it gets back in the truth, so the harness's answers are
checked. Signed URLs come from ``GET /v1/convai/conversation/get-signed-url`` (served
over HTTP by the agent), which wants an ``xi-api-key`` header.
"""

from __future__ import annotations

import json
import time
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
from harness.ws.codecs import Encoding, b64decode, b64encode

PCM_16K = WireFormat(Encoding.PCM16, 16000)
PING_EVERY_S = 2.0


class ElevenLabsServer(ServerDialect):
    flush_rule = FlushRule.STOP_SIGNAL
    keepalive_s = PING_EVERY_S

    def __init__(self, query: Mapping[str, str], headers: Mapping[str, str]) -> None:
        super().__init__(query, headers)
        self._pings: dict[int, int] = {}

    @property
    def input_format(self) -> WireFormat:
        return PCM_16K

    @property
    def output_format(self) -> WireFormat:
        return PCM_16K

    def hello(self) -> list[Outgoing]:
        meta = {"conversation_id": f"conv_{time.monotonic_ns()}", "agent_output_audio_format": "pcm_16000",
                "user_input_audio_format": "pcm_16000"}
        return [json.dumps({"type": "conversation_initiation_metadata", "conversation_initiation_metadata_event": meta})]

    def on_message(self, message: Outgoing) -> ClientInput:
        try:
            obj = json.loads(message)
        except (ValueError, UnicodeDecodeError):
            return ClientInput(malformed="not JSON")
        if not isinstance(obj, dict):
            return ClientInput(malformed="not a JSON object")
        if "user_audio_chunk" in obj:
            try:
                return ClientInput(audio=b64decode(str(obj["user_audio_chunk"])))
            except ValueError:
                return ClientInput(malformed="user_audio_chunk is not base64")
        kind = obj.get("type")
        if kind == "pong":
            event_id = obj.get("event_id")
            sent = self._pings.pop(event_id, None) if isinstance(event_id, int) else None
            rtt = None if sent is None else (time.monotonic_ns() - sent) / 1e6
            return ClientInput(truth=[("pong", {"event_id": event_id if isinstance(event_id, int) else None,
                                                "rtt_ms": rtt})])
        if kind == "conversation_initiation_client_data":
            override = obj.get("conversation_config_override")
            return ClientInput(truth=[("elevenlabs_init", {"override": json.dumps(override)[:500]})])
        return ClientInput()

    def audio(self, wire: bytes, reply: ReplyRef) -> list[Outgoing]:
        return [json.dumps({"type": "audio", "audio_event": {"audio_base_64": b64encode(wire), "event_id": reply.number}})]

    def event(self, event_type: str, fields: Mapping[str, Any], reply: ReplyRef | None) -> list[Outgoing]:
        if event_type == "conversation.item.input_audio_transcription.completed":
            return [json.dumps({"type": "user_transcript",
                                "user_transcription_event": {"user_transcript": str(fields.get("transcript", ""))}})]
        if event_type in ("response.output_audio_transcript.done", "response.audio_transcript.done"):
            return [json.dumps({"type": "agent_response",
                                "agent_response_event": {"agent_response": str(fields.get("transcript", ""))}})]
        return []

    def stop_signal(self, reply: ReplyRef) -> list[Outgoing]:
        return [json.dumps({"type": "interruption", "interruption_event": {"event_id": reply.number}})]

    def keepalive(self) -> list[Outgoing]:
        event_id = len(self._pings) + int(time.monotonic_ns() % 1_000_000)
        self._pings[event_id] = time.monotonic_ns()
        return [json.dumps({"type": "ping", "ping_event": {"event_id": event_id, "ping_ms": None}})]

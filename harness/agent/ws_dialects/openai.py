"""``openai-realtime-ws`` served: OpenAI's Realtime events over the socket.

The agent's events are OpenAI's already; over WebSocket the ``output_audio_buffer.*``
events do not exist (they are WebRTC/SIP only), audio goes out as
``response.output_audio.delta`` (``response.audio.delta`` to a beta client, recognised
by its ``OpenAI-Beta: realtime=v1`` header) and the client's
``conversation.item.truncate`` is answered with ``conversation.item.truncated`` and
logged in the truth (what the client says it played). The client stops playback at
``speech_started``, so that is when an interrupted reply stops (``FlushRule``).
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

_WEBRTC_ONLY = ("output_audio_buffer.started", "output_audio_buffer.stopped", "output_audio_buffer.cleared")
PCM = WireFormat(Encoding.PCM16, 24000)
PCMU = WireFormat(Encoding.MULAW, 8000)


class OpenAIServer(ServerDialect):
    flush_rule = FlushRule.SPEECH_STARTED
    ready_on_connect = False
    """Ready at the client's ``session.update`` (or its first audio), which fixes the format."""

    def __init__(self, query: Mapping[str, str], headers: Mapping[str, str]) -> None:
        super().__init__(query, headers)
        self.beta = headers.get("openai-beta", "").startswith("realtime")
        self._format = PCM
        self._session = f"sess_{time.monotonic_ns()}"

    @property
    def input_format(self) -> WireFormat:
        return self._format

    @property
    def output_format(self) -> WireFormat:
        return self._format

    def hello(self) -> list[Outgoing]:
        session: dict[str, Any] = {"id": self._session, "object": "realtime.session", "model": self.query.get("model")}
        if not self.beta:
            session["type"] = "realtime"
        return [_event("session.created", session=session)]

    def on_message(self, message: Outgoing) -> ClientInput:
        try:
            obj = json.loads(message)
        except (ValueError, UnicodeDecodeError):
            return ClientInput(replies=[_error("invalid_request_error", "Invalid JSON")], malformed="not JSON")
        kind = obj.get("type") if isinstance(obj, dict) else None
        if kind == "input_audio_buffer.append":
            try:
                return ClientInput(audio=b64decode(str(obj.get("audio", ""))))
            except ValueError:
                return ClientInput(replies=[_error("invalid_request_error", "audio is not base64")])
        if kind == "session.update":
            self._configure(obj.get("session"))
            return ClientInput(replies=[_event("session.updated", session={"id": self._session})], ready=True)
        if kind == "conversation.item.truncate":
            fields = {k: obj.get(k) for k in ("item_id", "content_index", "audio_end_ms")}
            return ClientInput(replies=[_event("conversation.item.truncated", **fields)],
                               truth=[("truncate", {k: v for k, v in fields.items() if v is not None})])
        return ClientInput(replies=[_error("invalid_request_error", f"Unsupported event type {kind!r}")])

    def _configure(self, session: object) -> None:
        """Audio format from GA ``audio.input.format`` or beta ``input_audio_format``."""
        if not isinstance(session, dict):
            return
        audio = session.get("audio")
        fmt = audio.get("input", {}).get("format") if isinstance(audio, dict) else None
        if isinstance(fmt, dict):
            self._format = PCMU if fmt.get("type") == "audio/pcmu" else PCM
        elif session.get("input_audio_format") == "g711_ulaw":
            self._format = PCMU

    def audio(self, wire: bytes, reply: ReplyRef) -> list[Outgoing]:
        name = "response.audio.delta" if self.beta else "response.output_audio.delta"
        return [_event(name, response_id=reply.response_id, item_id=_item(reply), output_index=0, content_index=0,
                       delta=b64encode(wire))]

    def event(self, event_type: str, fields: Mapping[str, Any], reply: ReplyRef | None) -> list[Outgoing]:
        if event_type in _WEBRTC_ONLY:
            if event_type == "output_audio_buffer.stopped" and reply is not None:
                done = "response.audio.done" if self.beta else "response.output_audio.done"
                return [_event(done, response_id=reply.response_id, item_id=_item(reply), output_index=0,
                               content_index=0)]
            return []
        if event_type == "response.output_audio_transcript.done" and self.beta:
            event_type = "response.audio_transcript.done"
        return [_event(event_type, **fields)]


def _item(reply: ReplyRef) -> str:
    return f"item_out_{reply.response_id}"


def _event(event_type: str, **fields: Any) -> str:
    return json.dumps({"type": event_type, "event_id": f"event_{time.monotonic_ns()}", **fields})


def _error(kind: str, message: str) -> str:
    return _event("error", error={"type": kind, "code": None, "message": message, "param": None})

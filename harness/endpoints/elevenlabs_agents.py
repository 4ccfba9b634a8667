"""The ``elevenlabs-agents`` dialect: an ElevenLabs Agents (Conversational AI) WebSocket.

From ElevenLabs' Agents WebSocket reference: connect to
``wss://api.elevenlabs.io/v1/convai/conversation?agent_id=<id>``; a private agent is
reached through a signed URL, fetched first with ``GET
/v1/convai/conversation/get-signed-url?agent_id=<id>`` and the ``xi-api-key`` header
(the signed URL carries a signature and is only ever shown redacted). The client may
send ``conversation_initiation_client_data`` (overrides); the server answers
``conversation_initiation_metadata`` with the conversation id and the audio formats
(``pcm_16000``, ``ulaw_8000``, ...). The caller's audio goes up as
``{"user_audio_chunk": <base64>}``; the agent's comes down as ``audio`` events with an
``event_id``. ``interruption`` carries the event id it cut: a client flushes what it
buffered and drops any later audio with an id at or below it. ``ping`` must be answered
with ``pong`` carrying its event id. ``user_transcript`` and ``agent_response`` are the
two sides' text; ``vad_score`` and tentative responses are too frequent to keep.
"""

from __future__ import annotations

import json
import logging
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from harness.endpoints.base import EndpointError
from harness.endpoints.signalling import request
from harness.endpoints.ws_base import (
    AudioFormat,
    AudioOut,
    Decoded,
    Outgoing,
    WsDialect,
    WsOptions,
    event,
    json_object,
    parse_options,
)
from harness.records import EndpointEvent, EndpointSpec, EventKind, FailureKind, JSONValue
from harness.ws.codecs import Encoding, b64decode, b64encode, decode

log = logging.getLogger(__name__)

DROPPED = frozenset({"vad_score", "internal_tentative_agent_response", "agent_chat_response_part"})
"""Sent many times a second; not kept as events."""
OTHER = frozenset({"agent_response_correction", "client_tool_call", "agent_tool_response", "contextual_update",
                   "mcp_tool_call", "agent_tool_request"})


def parse_format(name: str) -> AudioFormat | None:
    """``pcm_16000`` / ``ulaw_8000`` -> the wire format; ``None`` for formats not carried raw."""
    kind, _, rate = name.partition("_")
    if not rate.isdigit() or int(rate) % 50:
        return None
    if kind == "pcm":
        return AudioFormat(Encoding.PCM16, int(rate))
    if kind == "ulaw":
        return AudioFormat(Encoding.MULAW, int(rate))
    return None


class ElevenLabsOptions(WsOptions):
    agent_id: str | None = None
    """The agent to talk to (or ``?agent_id=`` in the URL)."""
    signed_url: bool = True
    """With a key: fetch a signed URL first (private agents); without one the URL is used as is."""
    first_message: str | None = None
    language: str | None = None
    prompt: str | None = None
    voice_id: str | None = None


class ElevenLabsAgentsEndpoint(WsDialect):
    def __init__(self, spec: EndpointSpec, *, timeout_s: float = 10.0) -> None:
        super().__init__(spec, timeout_s=timeout_s)
        self.options: ElevenLabsOptions = ElevenLabsOptions()
        self._input = AudioFormat(Encoding.PCM16, 16000)
        self._output = AudioFormat(Encoding.PCM16, 16000)
        self._signed: str | None = None
        self._interrupted_id = -1
        self._unknown: set[str] = set()

    async def prepare(self) -> None:
        self.options = parse_options(self.spec, ElevenLabsOptions)
        if self.options.agent_id is None:
            self.options.agent_id = dict(parse_qsl(urlsplit(self.spec.url).query)).get("agent_id")
        if not self.options.agent_id:
            raise EndpointError(FailureKind.SIGNALLING_ERROR,
                                f"endpoint {self.spec.name!r}: no agent: set options.agent_id or ?agent_id= in the URL")
        self.info["agent_id"] = self.options.agent_id
        if self.key and self.options.signed_url:
            await self._fetch_signed_url(self.key)

    async def _fetch_signed_url(self, key: str) -> None:
        parts = urlsplit(self.spec.url)
        scheme = "https" if parts.scheme == "wss" else "http"
        url = urlunsplit((scheme, parts.netloc, parts.path.rstrip("/") + "/get-signed-url",
                          urlencode({"agent_id": self.options.agent_id or ""}), ""))
        reply = await request("GET", url, what="signed URL", timeout_s=self.timeout_s, redactor=self.redactor,
                              headers={"xi-api-key": key})
        try:
            signed = json.loads(reply.text).get("signed_url")
        except (ValueError, AttributeError):
            signed = None
        if not isinstance(signed, str) or not signed.startswith(("ws://", "wss://")):
            raise EndpointError(FailureKind.SIGNALLING_ERROR, "signed URL reply has no ws(s):// 'signed_url'")
        self.redactor.add(signed)
        for _name, value in parse_qsl(urlsplit(signed).query):
            if value != self.options.agent_id:
                self.redactor.add(value)
        self._signed = signed

    @property
    def input_format(self) -> AudioFormat:
        return self._input

    def url(self) -> str:
        if self._signed is not None:
            return self._signed
        parts = urlsplit(self.spec.url)
        query = dict(parse_qsl(parts.query))
        query.setdefault("agent_id", self.options.agent_id or "")
        return urlunsplit(parts._replace(query=urlencode(query)))

    def opening_messages(self) -> list[Outgoing]:
        opts = self.options
        agent: dict[str, JSONValue] = {}
        if opts.prompt is not None:
            agent["prompt"] = {"prompt": opts.prompt}
        if opts.first_message is not None:
            agent["first_message"] = opts.first_message
        if opts.language is not None:
            agent["language"] = opts.language
        override: dict[str, JSONValue] = {}
        if agent:
            override["agent"] = agent
        if opts.voice_id is not None:
            override["tts"] = {"voice_id": opts.voice_id}
        message: dict[str, JSONValue] = {"type": "conversation_initiation_client_data"}
        if override:
            message["conversation_config_override"] = override
        return [json.dumps(message)]

    def audio_messages(self, wire: bytes, chunk_index: int, position_ms: int) -> list[Outgoing]:
        return [json.dumps({"user_audio_chunk": b64encode(wire)})]

    def decode(self, message: Outgoing, t_ns: int) -> Decoded:
        obj = json_object(message, t_ns)
        if isinstance(obj, EndpointEvent):
            return Decoded(events=[obj])
        kind = obj.get("type")
        body = obj.get(f"{kind}_event") if isinstance(kind, str) else None
        body = body if isinstance(body, dict) else {}
        if kind == "audio":
            return self._audio(obj, t_ns)
        if kind == "conversation_initiation_metadata":
            return self._metadata(obj, t_ns)
        if kind == "interruption":
            event_id = body.get("event_id")
            if isinstance(event_id, int):
                self._interrupted_id = max(self._interrupted_id, event_id)
            return Decoded(events=[event(t_ns, EventKind.AUDIO_CLEARED, "interruption",
                                         {"event_id": event_id} if isinstance(event_id, int) else {})], flush=True)
        if kind == "ping":
            event_id = body.get("event_id")
            ping_ms = body.get("ping_ms")
            data: dict[str, JSONValue] = {"ping_ms": ping_ms} if isinstance(ping_ms, (int, float)) else {}
            return Decoded(events=[event(t_ns, EventKind.METRICS, "ping", data)],
                           replies=[json.dumps({"type": "pong", "event_id": event_id})])
        if kind == "user_transcript":
            text = obj.get("user_transcription_event", {}).get("user_transcript")
            return Decoded(events=[event(t_ns, EventKind.INPUT_TRANSCRIPT, kind, {"transcript": str(text or "")})])
        if kind == "agent_response":
            text = body.get("agent_response")
            return Decoded(events=[event(t_ns, EventKind.OUTPUT_TRANSCRIPT, kind, {"transcript": str(text or "")})])
        if kind in DROPPED:
            return Decoded()
        vendor = kind if isinstance(kind, str) else "untyped"
        if vendor not in OTHER and vendor not in self._unknown:
            self._unknown.add(vendor)
            log.info("elevenlabs-agents: unknown server event %r kept as 'other'", vendor)
        return Decoded(events=[event(t_ns, EventKind.OTHER, vendor[:60])])

    def _metadata(self, obj: dict[str, Any], t_ns: int) -> Decoded:
        meta = obj.get("conversation_initiation_metadata_event")
        meta = meta if isinstance(meta, dict) else {}
        for key, attr in (("user_input_audio_format", "_input"), ("agent_output_audio_format", "_output")):
            name = meta.get(key)
            if isinstance(name, str):
                fmt = parse_format(name)
                if fmt is None:
                    error = EndpointEvent(t_ns=t_ns, kind=EventKind.ERROR, vendor_type="conversation_initiation_metadata",
                                          data={"message": f"{key} {name!r} is not raw PCM or mu-law"})
                    return Decoded(events=[error])
                setattr(self, attr, fmt)
                self.info[key] = name
        if isinstance(meta.get("conversation_id"), str):
            self.info["conversation_id"] = meta["conversation_id"]
        return Decoded(events=[event(t_ns, EventKind.SESSION_CREATED, "conversation_initiation_metadata")], ready=True)

    def _audio(self, obj: dict[str, Any], t_ns: int) -> Decoded:
        body = obj.get("audio_event")
        body = body if isinstance(body, dict) else {}
        event_id = body.get("event_id")
        if isinstance(event_id, int) and event_id <= self._interrupted_id:
            return Decoded()  # audio of the turn that was interrupted: the client drops it
        try:
            samples = decode(b64decode(str(body.get("audio_base_64", ""))), self._output.encoding)
        except ValueError as exc:
            return Decoded(events=[EndpointEvent(t_ns=t_ns, kind=EventKind.ERROR, vendor_type="audio",
                                                 data={"malformed": True, "message": str(exc)})])
        return Decoded(audio=[AudioOut(samples, self._output.rate)])

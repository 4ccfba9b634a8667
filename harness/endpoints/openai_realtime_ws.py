"""The ``openai-realtime-ws`` dialect: OpenAI's Realtime API over a WebSocket.

From OpenAI's Realtime reference (GA, and the beta it replaced): connect to
``wss://api.openai.com/v1/realtime?model=...`` with ``Authorization: Bearer <key>``
(the beta also sends ``OpenAI-Beta: realtime=v1``); the server opens with
``session.created``; the client sends ``session.update`` and streams its audio as
base64 PCM16 at 24 kHz (or G.711 mu-law at 8 kHz) in ``input_audio_buffer.append``;
the answer arrives as ``response.output_audio.delta`` (beta: ``response.audio.delta``)
chunks, faster than real time.

Over WebSocket the client owns playback: when server VAD reports
``input_audio_buffer.speech_started`` while answer audio is still playing, a client
stops playback (the flush) and tells the server how much of the item was heard with
``conversation.item.truncate`` so the unheard rest leaves the conversation; audio of
that item still in flight is not played. The harness does exactly that
(``flush_on_speech_started``), so the barge-in stop it measures is the one a user of
such a client hears.
"""

from __future__ import annotations

import json
import logging
from typing import Annotated, Any, Literal
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from pydantic import Field

from harness.endpoints.openai_realtime import SemanticVad, ServerVad, map_event, session_config
from harness.endpoints.ws_base import (
    AudioFormat,
    AudioOut,
    Decoded,
    Outgoing,
    WsDialect,
    WsOptions,
    error_event,
    json_object,
    parse_options,
)
from harness.records import EndpointEvent, EndpointSpec, EventKind, JSONValue
from harness.ws.codecs import Encoding, b64decode, b64encode, decode
from harness.ws.playout_model import Flush

log = logging.getLogger(__name__)

AUDIO_DELTAS = ("response.output_audio.delta", "response.audio.delta")
"""GA and beta names of an answer audio chunk."""
AUDIO_DONE = ("response.output_audio.done", "response.audio.done")

FORMATS: dict[str, tuple[AudioFormat, dict[str, JSONValue], str]] = {
    "pcm16": (AudioFormat(Encoding.PCM16, 24000), {"type": "audio/pcm", "rate": 24000}, "pcm16"),
    "pcmu": (AudioFormat(Encoding.MULAW, 8000), {"type": "audio/pcmu"}, "g711_ulaw"),
}
"""Option value -> (wire format, GA ``format`` object, beta format name)."""

KNOWN_OTHER = frozenset({
    "conversation.created", "conversation.item.added", "conversation.item.created", "conversation.item.done",
    "conversation.item.retrieved", "conversation.item.truncated", "conversation.item.deleted",
    "input_audio_buffer.cleared", "response.output_item.added", "response.output_item.done",
    "response.content_part.added", "response.content_part.done", "response.output_audio.done",
    "response.audio.done", "response.output_text.done", "response.text.done", "rate_limits.updated",
    "response.function_call_arguments.done", "session.updated", "input_audio_buffer.timeout_triggered",
    "transcription_session.updated",
})
"""Documented server events the harness keeps as ``other`` (anything else is logged as unknown)."""


class OpenAIWsOptions(WsOptions):
    model: str | None = None
    instructions: str | None = None
    voice: str | None = None
    turn_detection: Annotated[ServerVad | SemanticVad, Field(discriminator="type")] | None = None
    transcription_model: str | None = None
    audio_format: Literal["pcm16", "pcmu"] = "pcm16"
    api_version: Literal["ga", "beta"] = "ga"
    flush_on_speech_started: bool = True
    """Stop playback on ``speech_started`` (and truncate), as OpenAI's WebSocket clients do."""


class OpenAIRealtimeWsEndpoint(WsDialect):
    def __init__(self, spec: EndpointSpec, *, timeout_s: float = 10.0) -> None:
        super().__init__(spec, timeout_s=timeout_s)
        self.options: OpenAIWsOptions = OpenAIWsOptions()
        self._unknown: set[str] = set()
        self._truncated: set[str] = set()
        """Items the client stopped playing: their late audio deltas are not played."""
        self._done: set[str] = set()
        """Items whose audio the server has finished sending."""

    async def prepare(self) -> None:
        self.options = parse_options(self.spec, OpenAIWsOptions)
        self.info["api_version"] = self.options.api_version

    @property
    def input_format(self) -> AudioFormat:
        return FORMATS[self.options.audio_format][0]

    def url(self) -> str:
        parts = urlsplit(self.spec.url)
        query = dict(parse_qsl(parts.query))
        if self.options.model and "model" not in query:
            query["model"] = self.options.model
        return urlunsplit(parts._replace(query=urlencode(query)))

    def headers(self) -> dict[str, str]:
        headers = {"Authorization": f"Bearer {self.key}"} if self.key else {}
        if self.options.api_version == "beta":
            headers["OpenAI-Beta"] = "realtime=v1"
        return headers

    def opening_messages(self) -> list[Outgoing]:
        return [json.dumps({"type": "session.update", "session": self.session()})]

    def session(self) -> dict[str, JSONValue]:
        """The ``session`` object of ``session.update`` in the GA or beta shape."""
        opts = self.options
        _fmt, ga_format, beta_format = FORMATS[opts.audio_format]
        if opts.api_version == "beta":
            beta: dict[str, JSONValue] = {"modalities": ["audio", "text"], "input_audio_format": beta_format,
                                          "output_audio_format": beta_format}
            if opts.instructions is not None:
                beta["instructions"] = opts.instructions
            if opts.voice is not None:
                beta["voice"] = opts.voice
            if opts.turn_detection is not None:
                beta["turn_detection"] = opts.turn_detection.model_dump(exclude_none=True)
            if opts.transcription_model is not None:
                beta["input_audio_transcription"] = {"model": opts.transcription_model}
            return beta
        shared = opts.model_dump(include={"model", "instructions", "voice", "turn_detection", "transcription_model"},
                                 exclude_none=True)
        session = session_config(shared)
        audio = session.setdefault("audio", {})
        assert isinstance(audio, dict)
        audio_in, audio_out = audio.setdefault("input", {}), audio.setdefault("output", {})
        assert isinstance(audio_in, dict) and isinstance(audio_out, dict)
        audio_in["format"] = dict(ga_format)
        audio_out["format"] = dict(ga_format)
        return session

    def audio_messages(self, wire: bytes, chunk_index: int, position_ms: int) -> list[Outgoing]:
        return [json.dumps({"type": "input_audio_buffer.append", "audio": b64encode(wire)})]

    def decode(self, message: Outgoing, t_ns: int) -> Decoded:
        obj = json_object(message, t_ns)
        if isinstance(obj, EndpointEvent):
            return Decoded(events=[obj])
        vendor_type = obj.get("type")
        if vendor_type in AUDIO_DELTAS:
            return self._audio(obj, t_ns)
        if vendor_type == "error":
            return Decoded(events=[self._error(obj, t_ns)])
        mapped = map_event(obj, t_ns)
        out = Decoded(events=[mapped] if mapped is not None else [])
        if vendor_type == "session.created":
            session = obj.get("session")
            if isinstance(session, dict) and isinstance(session.get("id"), str):
                self.info["session_id"] = session["id"]
            out.ready = True
        elif vendor_type == "input_audio_buffer.speech_started":
            out.flush = self.options.flush_on_speech_started
        elif vendor_type in AUDIO_DONE and isinstance(obj.get("item_id"), str):
            self._done.add(obj["item_id"])
        elif mapped is not None and mapped.kind is EventKind.OTHER and vendor_type not in KNOWN_OTHER \
                and isinstance(vendor_type, str) and vendor_type not in self._unknown:
            self._unknown.add(vendor_type)
            log.info("openai-realtime-ws: unknown server event %r kept as 'other'", vendor_type)
        return out

    def _audio(self, obj: dict[str, Any], t_ns: int) -> Decoded:
        delta = obj.get("delta")
        fmt = self.input_format
        try:
            if not isinstance(delta, str):
                raise ValueError("audio delta without a base64 'delta'")
            samples = decode(b64decode(delta), fmt.encoding)
        except ValueError as exc:
            return Decoded(events=[EndpointEvent(t_ns=t_ns, kind=EventKind.ERROR, vendor_type=str(obj.get("type")),
                                                 data={"malformed": True, "message": str(exc)})])
        item = obj.get("item_id")
        item = item if isinstance(item, str) else ""
        if item in self._truncated:
            return Decoded()
        return Decoded(audio=[AudioOut(samples, fmt.rate, item)])

    def _error(self, obj: dict[str, Any], t_ns: int) -> EndpointEvent:
        error = obj.get("error")
        if not isinstance(error, dict):
            return error_event(t_ns, "error", str(error), self.redactor)
        extra = {k: v for k in ("type", "code", "param") if isinstance(v := error.get(k), str)}
        return error_event(t_ns, "error", str(error.get("message", "")), self.redactor, **extra)

    def flush_messages(self, flush: Flush) -> list[Outgoing]:
        """Truncate each answer item cut short at what was heard, so the model forgets the rest."""
        cut = {item: ms for item, ms in flush.played_ms.items()
               if item not in self._done or (flush.dropped_ns > 0 and item not in self._truncated)}
        self._truncated.update(cut)
        return [json.dumps({"type": "conversation.item.truncate", "item_id": item, "content_index": 0,
                            "audio_end_ms": played}) for item, played in cut.items()]

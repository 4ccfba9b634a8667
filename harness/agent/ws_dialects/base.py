"""What a server-side WebSocket dialect provides to ``ws_call.WsAgentCall``."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from harness.records import JSONValue
from harness.ws.codecs import Encoding

Outgoing = str | bytes


class FlushRule(StrEnum):
    """How a client of this dialect learns that buffered agent audio must be dropped."""

    STOP_SIGNAL = "stop_signal"
    """The server sends a stop message (Twilio clear, Gemini interrupted, ElevenLabs
    interruption) when it cuts a reply; the agent sends it when the cut plays."""
    SPEECH_STARTED = "speech_started"
    """The client stops playback when the server reports that the caller started
    speaking (OpenAI over WebSocket), so that moment is the stop."""
    NONE = "none"
    """No stop message (raw PCM): what was sent plays out."""


@dataclass(frozen=True, slots=True)
class WireFormat:
    encoding: Encoding
    rate: int


@dataclass(slots=True)
class ClientInput:
    """What one client message means to the agent."""

    audio: bytes | None = None
    """Caller audio in the dialect's input format."""
    replies: list[Outgoing] = field(default_factory=list)
    ready: bool = False
    """The client finished its set-up (e.g. Gemini ``setup``): the session may start."""
    truth: list[tuple[str, dict[str, JSONValue]]] = field(default_factory=list)
    """Facts for the ground-truth log (a truncation, a pong, a mark echo)."""
    closing: bool = False
    """The client ends the call (Twilio ``stop``)."""
    malformed: str | None = None


@dataclass(frozen=True, slots=True)
class ReplyRef:
    response_id: str
    number: int
    """1, 2, ... per reply of the call (ElevenLabs event ids)."""


class ServerDialect(ABC):
    flush_rule = FlushRule.STOP_SIGNAL
    ready_on_connect = True
    """The session is ready as soon as the socket is open (else: after ``ClientInput.ready``)."""
    keepalive_s: float | None = None

    def __init__(self, query: Mapping[str, str], headers: Mapping[str, str]) -> None:
        self.query = query
        self.headers = headers

    @property
    @abstractmethod
    def input_format(self) -> WireFormat: ...

    @property
    @abstractmethod
    def output_format(self) -> WireFormat: ...

    def hello(self) -> list[Outgoing]:
        """Messages the server sends when the socket opens."""
        return []

    @abstractmethod
    def on_message(self, message: Outgoing) -> ClientInput: ...

    @abstractmethod
    def audio(self, wire: bytes, reply: ReplyRef) -> list[Outgoing]: ...

    def event(self, event_type: str, fields: Mapping[str, Any], reply: ReplyRef | None) -> list[Outgoing]:
        """The agent's OpenAI-style event in this dialect (nothing if it has no counterpart)."""
        return []

    def stop_signal(self, reply: ReplyRef) -> list[Outgoing]:
        return []

    def reply_sent(self, reply: ReplyRef) -> list[Outgoing]:
        """After a reply's last audio was sent (Twilio sends a mark)."""
        return []

    def keepalive(self) -> list[Outgoing]:
        return []

    def malformed_messages(self) -> list[Outgoing]:
        """For the ``malformed_events`` knob: a broken message and an unknown one."""
        return ["this is not json {", '{"type": "vendor.unknown_event", "detail": "made up by the agent"}']

"""What every WebSocket dialect provides to the WebSocket caller.

A WebSocket dialect owns the vendor's wire protocol: the URL and headers of the
upgrade (where its key goes), the session set-up messages, how 20 ms of the caller's
audio is framed, and what each server message means: harness events (vendor names
stay here), received audio, the stop signal on which a client flushes what it had
buffered, and messages a client must send back (pong, mark echoes, truncation). The
caller keeps the time; a dialect never sees a clock, only arrival times.
"""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from harness.endpoints.base import EndpointError, malformed, pick
from harness.endpoints.config import api_key
from harness.records import EndpointEvent, EndpointSpec, EventKind, FailureKind, JSONValue
from harness.redact import SecretRedactor
from harness.webrtc.audio import Float32Audio
from harness.ws.codecs import Encoding
from harness.ws.playout_model import Flush

Outgoing = str | bytes
"""A message to send: text frames for JSON, binary frames for raw audio."""


@dataclass(frozen=True, slots=True)
class AudioFormat:
    encoding: Encoding
    rate: int


@dataclass(frozen=True, slots=True)
class AudioOut:
    """Received agent audio, at the wire's rate."""

    samples: Float32Audio
    rate: int
    item: str = ""
    """The vendor's id of the audio item (OpenAI ``item_id``), for truncation."""


@dataclass(slots=True)
class Decoded:
    """What one server message means to a client."""

    events: list[EndpointEvent] = field(default_factory=list)
    audio: list[AudioOut] = field(default_factory=list)
    flush: bool = False
    """The vendor's stop signal: drop every buffered sample not yet played."""
    marks: list[str] = field(default_factory=list)
    """Twilio marks: echo each when the audio queued before it has played."""
    replies: list[Outgoing] = field(default_factory=list)
    """Messages to send back at once (pong)."""
    ready: bool = False
    """The session is set up: audio may flow."""


class WsOptions(BaseModel):
    """Options every WebSocket dialect accepts (``[endpoints.X.options]``)."""

    model_config = ConfigDict(extra="forbid")

    playout_buffer_ms: float = Field(default=0.0, ge=0.0, le=5000.0)
    """The emulated client's playout buffer: as-heard times are the edge times plus this."""
    chunk_ms: int = Field(default=20, ge=20, le=1000, multiple_of=20)
    """Uplink framing: audio is sent in chunks of this length, paced at real time."""


OptionsT = TypeVar("OptionsT", bound=WsOptions)


def parse_options(spec: EndpointSpec, model: type[OptionsT]) -> OptionsT:
    """The endpoint's options, or an ``EndpointError`` naming each bad one (values never echoed)."""
    try:
        return model.model_validate(spec.options)
    except ValidationError as exc:
        problems = "; ".join(
            f"options.{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors(include_url=False)
        )
        raise EndpointError(FailureKind.SIGNALLING_ERROR, f"endpoint {spec.name!r}: {problems}") from None


class WsDialect(ABC):
    """One call's session with a WebSocket endpoint."""

    needs_ready = True
    """Wait for ``Decoded.ready`` before sending audio (the vendor's session is set up)."""

    def __init__(self, spec: EndpointSpec, *, timeout_s: float = 10.0) -> None:
        self.spec = spec
        self.timeout_s = timeout_s
        self.info: dict[str, JSONValue] = {}
        """Non-secret facts (session ids, negotiated formats), kept in the recording."""
        self.key = api_key(spec)
        self.redactor = SecretRedactor([self.key] if self.key else [])
        self.options: WsOptions = WsOptions()

    @property
    @abstractmethod
    def input_format(self) -> AudioFormat:
        """What the caller's audio is sent as (may be set by the server's session metadata)."""

    @abstractmethod
    async def prepare(self) -> None:
        """Everything before the upgrade (options, a signed URL); raises ``EndpointError``."""

    @abstractmethod
    def url(self) -> str:
        """The URL to open (it may carry a key: only ever shown through ``redactor``)."""

    def headers(self) -> dict[str, str]:
        return {}

    def opening_messages(self) -> list[Outgoing]:
        return []

    @abstractmethod
    def audio_messages(self, wire: bytes, chunk_index: int, position_ms: int) -> list[Outgoing]:
        """The messages carrying one chunk of encoded caller audio."""

    @abstractmethod
    def decode(self, message: Outgoing, t_ns: int) -> Decoded:
        """One server message; malformed input is an ERROR event, never an exception."""

    def flush_messages(self, flush: Flush) -> list[Outgoing]:
        """What the client tells the server after flushing its playback (OpenAI truncation)."""
        return []

    def mark_messages(self, names: Sequence[str]) -> list[Outgoing]:
        return []

    def closing_messages(self) -> list[Outgoing]:
        return []

    def close_reason(self, code: int | None, reason: str) -> str:
        """A vendor's close frame (or its absence) as a failure reason (redacted)."""
        if code is None:
            return self.redactor(f"the connection was lost without a close frame ({reason})")
        text = f"endpoint closed the WebSocket ({code}"
        meaning = CLOSE_CODES.get(code or 0)
        text += f" {meaning})" if meaning else ")"
        return self.redactor(f"{text}: {reason}" if reason else text)


def status_hint(status: int) -> str:
    """What an HTTP status on the upgrade usually means, so a failure reason is actionable."""
    hints = {401: "bad or expired API key", 403: "key not allowed here", 404: "wrong URL or path?",
             429: "rate limited or out of quota"}
    if status in hints:
        return f" ({hints[status]})"
    return " (server error)" if status >= 500 else ""


def vendor_message(body: str) -> str:
    """The vendor's own message from an HTTP error body (JSON ``error.message`` or ``detail``)."""
    try:
        obj = json.loads(body)
    except ValueError:
        return body
    if isinstance(obj, dict):
        error = obj.get("error", obj.get("detail", obj))
        if isinstance(error, dict):
            return str(error.get("message", error))
        return str(error)
    return body


CLOSE_CODES = {
    1000: "normal", 1001: "going away", 1002: "protocol error", 1003: "unsupported data",
    1006: "abnormal", 1007: "invalid payload", 1008: "policy violation", 1009: "message too big",
    1011: "server error", 1013: "try again later",
}


def json_object(message: Outgoing, t_ns: int) -> dict[str, Any] | EndpointEvent:
    """A JSON object from a text (or binary UTF-8) frame, or an ERROR event saying why not."""
    try:
        obj = json.loads(message)
    except (ValueError, UnicodeDecodeError) as exc:
        return malformed(t_ns, f"not JSON: {str(exc)[:120]}")
    if not isinstance(obj, dict):
        return malformed(t_ns, "not a JSON object")
    return obj


def event(t_ns: int, kind: EventKind, vendor_type: str, data: Mapping[str, JSONValue] | None = None) -> EndpointEvent:
    return EndpointEvent(t_ns=t_ns, kind=kind, vendor_type=vendor_type, data=dict(data or {}))


def error_event(t_ns: int, vendor_type: str, message: str, redactor: SecretRedactor,
                **extra: JSONValue) -> EndpointEvent:
    """A vendor error as an ERROR event carrying the vendor's own message, redacted."""
    data: dict[str, JSONValue] = {"message": redactor(message)[:500]}
    data.update({k: redactor(v) if isinstance(v, str) else v for k, v in extra.items()})
    return event(t_ns, EventKind.ERROR, vendor_type, data)


__all__ = [
    "AudioFormat", "AudioOut", "Decoded", "Outgoing", "WsDialect", "WsOptions", "error_event", "event",
    "json_object", "parse_options", "pick", "status_hint", "vendor_message",
]

"""The ``websocket-pcm`` dialect: raw 16-bit PCM in binary frames, both ways.

The plain protocol open voice agents use (voicebench's raw protocol, many hobby
servers): no session set-up, no events, binary frames of signed 16-bit little-endian
mono samples at an agreed rate (16 kHz unless ``input_rate``/``output_rate`` say
otherwise), the caller's audio framed in ``chunk_ms`` chunks. With no stop signal, a
client can only play out what it was sent: a barge-in stops when the server stops
sending *and* the buffered audio has played. Text frames are kept as events (JSON as
``other``, anything else as a logged unknown message).
"""

from __future__ import annotations

import logging
from typing import Literal

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
from harness.records import EndpointEvent, EndpointSpec, EventKind
from harness.ws.codecs import Encoding, decode

log = logging.getLogger(__name__)

Rate = Literal[8000, 12000, 16000, 24000, 48000]


class PcmOptions(WsOptions):
    input_rate: Rate = 16000
    """Sample rate of the caller's audio."""
    output_rate: Rate = 16000
    """Sample rate of the agent's audio."""


class WebSocketPcmEndpoint(WsDialect):
    needs_ready = False

    def __init__(self, spec: EndpointSpec, *, timeout_s: float = 10.0) -> None:
        super().__init__(spec, timeout_s=timeout_s)
        self.options: PcmOptions = PcmOptions()

    async def prepare(self) -> None:
        self.options = parse_options(self.spec, PcmOptions)
        self.info.update(input_rate=self.options.input_rate, output_rate=self.options.output_rate)

    @property
    def input_format(self) -> AudioFormat:
        return AudioFormat(Encoding.PCM16, self.options.input_rate)

    def url(self) -> str:
        return self.spec.url

    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.key}"} if self.key else {}

    def audio_messages(self, wire: bytes, chunk_index: int, position_ms: int) -> list[Outgoing]:
        return [wire]

    def decode(self, message: Outgoing, t_ns: int) -> Decoded:
        if isinstance(message, bytes):
            samples = decode(message, Encoding.PCM16)
            return Decoded(audio=[AudioOut(samples, self.options.output_rate)])
        return Decoded(events=[_text_event(message, t_ns)])


def _text_event(message: str, t_ns: int) -> EndpointEvent:
    obj = json_object(message, t_ns)
    if isinstance(obj, EndpointEvent):
        log.info("websocket-pcm: a text frame that is not JSON: %.80s", message)
        return event(t_ns, EventKind.OTHER, "text", {"text": message[:200]})
    kind = obj.get("type") or obj.get("event")
    return event(t_ns, EventKind.OTHER, str(kind) if isinstance(kind, str) else "json")

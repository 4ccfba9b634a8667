"""The ``twilio-media-streams`` dialect: the harness plays Twilio to a phone agent's socket.

A phone agent built for Twilio (``<Connect><Stream>``, a bidirectional Media Stream;
Pipecat's and LiveKit's telephony serializers, most phone bots) exposes a WebSocket
that Twilio connects to. The harness connects the way Twilio does (Twilio's Media
Streams WebSocket messages reference): it sends ``connected``, then ``start`` with the
stream's ids and ``mediaFormat`` (G.711 mu-law, 8 kHz, mono), then the caller's audio
as ``media`` messages of base64 mu-law with a ``chunk`` counter and a ``timestamp`` in
ms since the stream started, every message numbered by ``sequenceNumber``; it hangs up
with ``stop``. From the agent it plays ``media`` payloads in order at real time, echoes
each ``mark`` once the audio queued before it has played (or at once when ``clear``
drops it), and on ``clear`` drops everything buffered: the stop latency of a barge-in
is measured from that moment. With ``api_key_env`` naming the Twilio auth token, the
upgrade is signed with ``X-Twilio-Signature`` (HMAC-SHA1 of the URL, base64), as
Twilio signs its requests.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import secrets
from collections.abc import Sequence
from typing import Any

from pydantic import Field

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
from harness.ws.codecs import Encoding, b64decode, b64encode, decode

log = logging.getLogger(__name__)

MULAW_8K = AudioFormat(Encoding.MULAW, 8000)


class TwilioOptions(WsOptions):
    custom_parameters: dict[str, str] = Field(default_factory=dict)
    """``<Parameter>`` values of the ``<Stream>``, sent in ``start.customParameters``."""


class TwilioMediaStreamsEndpoint(WsDialect):
    needs_ready = False

    def __init__(self, spec: EndpointSpec, *, timeout_s: float = 10.0) -> None:
        super().__init__(spec, timeout_s=timeout_s)
        self.options: TwilioOptions = TwilioOptions()
        self.account_sid = "AC" + secrets.token_hex(16)
        self.call_sid = "CA" + secrets.token_hex(16)
        self.stream_sid = "MZ" + secrets.token_hex(16)
        self._sequence = 0
        self._unknown: set[str] = set()

    async def prepare(self) -> None:
        self.options = parse_options(self.spec, TwilioOptions)
        self.info.update(stream_sid=self.stream_sid, call_sid=self.call_sid)

    @property
    def input_format(self) -> AudioFormat:
        return MULAW_8K

    def url(self) -> str:
        return self.spec.url

    def headers(self) -> dict[str, str]:
        if not self.key:
            return {}
        digest = hmac.new(self.key.encode(), self.spec.url.encode(), hashlib.sha1).digest()
        return {"X-Twilio-Signature": base64.b64encode(digest).decode()}

    def _message(self, name: str, **fields: Any) -> str:
        self._sequence += 1
        return json.dumps({"event": name, "sequenceNumber": str(self._sequence), **fields,
                           "streamSid": self.stream_sid})

    def opening_messages(self) -> list[Outgoing]:
        connected = json.dumps({"event": "connected", "protocol": "Call", "version": "1.0.0"})
        start = self._message("start", start={
            "accountSid": self.account_sid, "streamSid": self.stream_sid, "callSid": self.call_sid,
            "tracks": ["inbound"], "customParameters": dict(self.options.custom_parameters),
            "mediaFormat": {"encoding": "audio/x-mulaw", "sampleRate": 8000, "channels": 1},
        })
        return [connected, start]

    def audio_messages(self, wire: bytes, chunk_index: int, position_ms: int) -> list[Outgoing]:
        return [self._message("media", media={
            "track": "inbound", "chunk": str(chunk_index + 1), "timestamp": str(position_ms),
            "payload": b64encode(wire)})]

    def decode(self, message: Outgoing, t_ns: int) -> Decoded:
        obj = json_object(message, t_ns)
        if isinstance(obj, EndpointEvent):
            return Decoded(events=[obj])
        name = obj.get("event")
        if name == "media":
            return self._media(obj, t_ns)
        if name == "clear":
            return Decoded(events=[event(t_ns, EventKind.AUDIO_CLEARED, "clear")], flush=True)
        if name == "mark":
            mark = obj.get("mark")
            label = mark.get("name") if isinstance(mark, dict) else None
            if not isinstance(label, str):
                return Decoded(events=[_malformed(t_ns, "mark without a name")])
            return Decoded(events=[event(t_ns, EventKind.OTHER, "mark", {"name": label[:100]})], marks=[label])
        vendor = name if isinstance(name, str) else "untyped"
        if vendor not in self._unknown:
            self._unknown.add(vendor)
            log.info("twilio-media-streams: the agent sent an unknown message %r (Twilio ignores it)", vendor)
        return Decoded(events=[event(t_ns, EventKind.OTHER, vendor)])

    def _media(self, obj: dict[str, Any], t_ns: int) -> Decoded:
        media = obj.get("media")
        payload = media.get("payload") if isinstance(media, dict) else None
        try:
            if not isinstance(payload, str):
                raise ValueError("media without a payload")
            samples = decode(b64decode(payload), Encoding.MULAW)
        except ValueError as exc:
            return Decoded(events=[_malformed(t_ns, str(exc))])
        return Decoded(audio=[AudioOut(samples, MULAW_8K.rate)])

    def mark_messages(self, names: Sequence[str]) -> list[Outgoing]:
        return [self._message("mark", mark={"name": name}) for name in names]

    def closing_messages(self) -> list[Outgoing]:
        return [self._message("stop", stop={"accountSid": self.account_sid, "callSid": self.call_sid})]


def _malformed(t_ns: int, why: str) -> EndpointEvent:
    return EndpointEvent(t_ns=t_ns, kind=EventKind.ERROR, vendor_type="malformed",
                         data={"malformed": True, "message": why})

"""``twilio-media-streams`` served: a phone agent's media-stream socket, as Twilio sees it.

Twilio (here: the harness) speaks first: ``connected``, ``start`` (the stream's ids), then
``media`` of base64 mu-law at 8 kHz, ``mark`` echoes and finally ``stop``. The agent
answers with ``media`` (its reply), a ``mark`` after each reply, and ``clear`` when it
cuts a reply: Twilio then drops the audio it had buffered, so the ``clear`` is sent when
the cut plays. The truth log gets each mark as sent (with when its audio ends playing at
a no-buffer client) and as echoed, so the harness's Twilio behaviour is checked too.
"""

from __future__ import annotations

import json
from collections.abc import Mapping

from harness.agent.ws_dialects.base import (
    ClientInput,
    FlushRule,
    Outgoing,
    ReplyRef,
    ServerDialect,
    WireFormat,
)
from harness.ws.codecs import Encoding, b64decode, b64encode

MULAW_8K = WireFormat(Encoding.MULAW, 8000)


class TwilioServer(ServerDialect):
    flush_rule = FlushRule.STOP_SIGNAL
    ready_on_connect = False

    def __init__(self, query: Mapping[str, str], headers: Mapping[str, str]) -> None:
        super().__init__(query, headers)
        self.stream_sid = ""

    @property
    def input_format(self) -> WireFormat:
        return MULAW_8K

    @property
    def output_format(self) -> WireFormat:
        return MULAW_8K

    def on_message(self, message: Outgoing) -> ClientInput:
        try:
            obj = json.loads(message)
        except (ValueError, UnicodeDecodeError):
            return ClientInput(malformed="not JSON")
        name = obj.get("event") if isinstance(obj, dict) else None
        if name == "media":
            media = obj.get("media")
            try:
                return ClientInput(audio=b64decode(str(media.get("payload", ""))) if isinstance(media, dict) else b"")
            except ValueError:
                return ClientInput(malformed="media payload is not base64")
        if name == "start":
            start = obj.get("start")
            self.stream_sid = str(obj.get("streamSid") or (start or {}).get("streamSid", ""))
            return ClientInput(ready=True, truth=[("twilio_start", {"stream_sid": self.stream_sid})])
        if name == "mark":
            mark = obj.get("mark")
            label = mark.get("name") if isinstance(mark, dict) else None
            return ClientInput(truth=[("mark_played", {"name": str(label)})])
        if name == "stop":
            return ClientInput(closing=True)
        return ClientInput()

    def audio(self, wire: bytes, reply: ReplyRef) -> list[Outgoing]:
        return [json.dumps({"event": "media", "streamSid": self.stream_sid, "media": {"payload": b64encode(wire)}})]

    def stop_signal(self, reply: ReplyRef) -> list[Outgoing]:
        return [json.dumps({"event": "clear", "streamSid": self.stream_sid})]

    def reply_sent(self, reply: ReplyRef) -> list[Outgoing]:
        return [json.dumps({"event": "mark", "streamSid": self.stream_sid, "mark": {"name": mark_name(reply)}})]

    def malformed_messages(self) -> list[Outgoing]:
        return ["this is not json {", json.dumps({"event": "vendor.unknown_event", "streamSid": self.stream_sid})]


def mark_name(reply: ReplyRef) -> str:
    return f"reply-{reply.number}"

"""``websocket-pcm`` served: binary PCM16 both ways, no events, no stop message.

Rates come from the URL's query (``?input_rate=16000&output_rate=16000``), 16 kHz when
absent. With no stop message, an interrupted reply stops when the audio already sent
has played: the truth the agent logs for it.
"""

from __future__ import annotations

from collections.abc import Mapping

from harness.agent.ws_dialects.base import (
    ClientInput,
    FlushRule,
    Outgoing,
    ReplyRef,
    ServerDialect,
    WireFormat,
)
from harness.ws.codecs import Encoding

RATES = (8000, 12000, 16000, 24000, 48000)


class PcmServer(ServerDialect):
    flush_rule = FlushRule.NONE

    def __init__(self, query: Mapping[str, str], headers: Mapping[str, str]) -> None:
        super().__init__(query, headers)
        self._in = _rate(query.get("input_rate"))
        self._out = _rate(query.get("output_rate"))

    @property
    def input_format(self) -> WireFormat:
        return WireFormat(Encoding.PCM16, self._in)

    @property
    def output_format(self) -> WireFormat:
        return WireFormat(Encoding.PCM16, self._out)

    def on_message(self, message: Outgoing) -> ClientInput:
        if isinstance(message, bytes):
            return ClientInput(audio=message)
        return ClientInput()

    def audio(self, wire: bytes, reply: ReplyRef) -> list[Outgoing]:
        return [wire]

    def malformed_messages(self) -> list[Outgoing]:
        return ["this is not json {"]


def _rate(text: str | None) -> int:
    try:
        rate = int(text) if text else 16000
    except ValueError:
        return 16000
    return rate if rate in RATES else 16000

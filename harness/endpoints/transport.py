"""Which transport a dialect runs over: the one fact the runner needs to pick a caller.

Kept apart from the registry (which imports every adapter) so that configuration
checks and planning can ask it without importing any network code.
"""

from __future__ import annotations

from enum import StrEnum

from harness.records import CallerKind, Dialect


class Transport(StrEnum):
    WEBRTC = "webrtc"
    WEBSOCKET = "websocket"


WEBSOCKET_DIALECTS = frozenset({
    Dialect.OPENAI_REALTIME_WS, Dialect.GEMINI_LIVE, Dialect.ELEVENLABS_AGENTS,
    Dialect.TWILIO_MEDIA_STREAMS, Dialect.WEBSOCKET_PCM,
})


def transport_of(dialect: Dialect) -> Transport:
    return Transport.WEBSOCKET if dialect in WEBSOCKET_DIALECTS else Transport.WEBRTC


def url_schemes(dialect: Dialect) -> tuple[str, ...]:
    """The URL schemes an endpoint of this dialect may have."""
    return ("ws", "wss") if transport_of(dialect) is Transport.WEBSOCKET else ("http", "https")


def caller_for(dialect: Dialect, requested: CallerKind) -> CallerKind:
    """The caller that plays a call: a WebSocket dialect is called by the WebSocket caller
    whenever the plain Python caller (the default, ``aiortc``) is asked for; the browser
    caller is left as asked (it speaks WebRTC only and says so in a recorded failure)."""
    if transport_of(dialect) is Transport.WEBSOCKET and requested is CallerKind.AIORTC:
        return CallerKind.WEBSOCKET
    return requested

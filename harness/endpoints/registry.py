"""Dialect name -> adapter class: the one place a new dialect is plugged in."""

from __future__ import annotations

from harness.endpoints.base import WebRTCEndpoint
from harness.endpoints.elevenlabs_agents import ElevenLabsAgentsEndpoint
from harness.endpoints.gemini_live import GeminiLiveEndpoint
from harness.endpoints.impaired import with_network
from harness.endpoints.openai_realtime import OpenAIRealtimeEndpoint
from harness.endpoints.openai_realtime_ws import OpenAIRealtimeWsEndpoint
from harness.endpoints.pipecat import PipecatEndpoint
from harness.endpoints.twilio_media_streams import TwilioMediaStreamsEndpoint
from harness.endpoints.websocket_pcm import WebSocketPcmEndpoint
from harness.endpoints.whip import WhipEndpoint
from harness.endpoints.ws_base import WsDialect
from harness.records import Dialect, EndpointSpec, NetworkProfile

ADAPTERS: dict[Dialect, type[WebRTCEndpoint]] = {
    Dialect.OPENAI_REALTIME: OpenAIRealtimeEndpoint,
    Dialect.PIPECAT: PipecatEndpoint,
    Dialect.WHIP: WhipEndpoint,
}


WS_ADAPTERS: dict[Dialect, type[WsDialect]] = {
    Dialect.OPENAI_REALTIME_WS: OpenAIRealtimeWsEndpoint,
    Dialect.TWILIO_MEDIA_STREAMS: TwilioMediaStreamsEndpoint,
    Dialect.GEMINI_LIVE: GeminiLiveEndpoint,
    Dialect.ELEVENLABS_AGENTS: ElevenLabsAgentsEndpoint,
    Dialect.WEBSOCKET_PCM: WebSocketPcmEndpoint,
}


def open_ws_endpoint(spec: EndpointSpec, *, timeout_s: float = 10.0) -> WsDialect:
    """The WebSocket dialect adapter of ``spec``; ``NotImplementedError`` for other dialects."""
    try:
        adapter = WS_ADAPTERS[spec.dialect]
    except KeyError:
        raise NotImplementedError(f"dialect {spec.dialect} is not a WebSocket dialect") from None
    return adapter(spec, timeout_s=timeout_s)


def open_endpoint(spec: EndpointSpec, *, timeout_s: float = 10.0, network: NetworkProfile | None = None,
                  seed_key: str = "") -> WebRTCEndpoint:
    """The dialect's adapter; with ``network``, behind the emulated network (seeded by ``seed_key``)."""
    try:
        adapter = ADAPTERS[spec.dialect]
    except KeyError:
        if spec.dialect in WS_ADAPTERS:
            raise NotImplementedError(
                f"dialect {spec.dialect} runs over WebSocket, not WebRTC: it is called by the websocket caller "
                "(picked automatically for --caller aiortc)") from None
        raise NotImplementedError(f"dialect {spec.dialect} is not supported yet") from None
    return with_network(adapter(spec, timeout_s=timeout_s), network, seed_key)

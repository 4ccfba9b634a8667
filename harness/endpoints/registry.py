"""Dialect name -> adapter class: the one place a new dialect is plugged in."""

from __future__ import annotations

from harness.endpoints.base import WebRTCEndpoint
from harness.endpoints.openai_realtime import OpenAIRealtimeEndpoint
from harness.endpoints.pipecat import PipecatEndpoint
from harness.endpoints.whip import WhipEndpoint
from harness.records import Dialect, EndpointSpec

ADAPTERS: dict[Dialect, type[WebRTCEndpoint]] = {
    Dialect.OPENAI_REALTIME: OpenAIRealtimeEndpoint,
    Dialect.PIPECAT: PipecatEndpoint,
    Dialect.WHIP: WhipEndpoint,
}


def open_endpoint(spec: EndpointSpec, *, timeout_s: float = 10.0) -> WebRTCEndpoint:
    try:
        adapter = ADAPTERS[spec.dialect]
    except KeyError:
        raise NotImplementedError(f"dialect {spec.dialect} is not supported yet") from None
    return adapter(spec, timeout_s=timeout_s)

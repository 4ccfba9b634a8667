"""Which caller plays a call: WebSocket dialects get the WebSocket caller when the plain
Python caller is asked for; the browser (WebRTC only) says so instead of guessing."""

from __future__ import annotations

import asyncio

import pytest

from harness.callers.websocket import WebSocketCaller
from harness.corpus.model import Corpus
from harness.endpoints.registry import open_endpoint
from harness.endpoints.transport import (
    WEBSOCKET_DIALECTS,
    Transport,
    caller_for,
    transport_of,
    url_schemes,
)
from harness.records import (
    CallerKind,
    CallSpec,
    Dialect,
    EndpointSpec,
    FailureKind,
    Scenario,
    Step,
    StepKind,
)


@pytest.mark.parametrize("dialect", list(Dialect))
def test_every_dialect_has_one_transport_and_caller(dialect: Dialect) -> None:
    websocket = dialect in WEBSOCKET_DIALECTS
    assert transport_of(dialect) is (Transport.WEBSOCKET if websocket else Transport.WEBRTC)
    assert url_schemes(dialect) == (("ws", "wss") if websocket else ("http", "https"))
    assert caller_for(dialect, CallerKind.AIORTC) is (CallerKind.WEBSOCKET if websocket else CallerKind.AIORTC)
    assert caller_for(dialect, CallerKind.BROWSER) is CallerKind.BROWSER


def test_a_websocket_dialect_over_webrtc_and_the_reverse_are_clear_errors(corpus: Corpus) -> None:
    with pytest.raises(NotImplementedError, match="runs over WebSocket"):
        open_endpoint(EndpointSpec(name="t", dialect=Dialect.TWILIO_MEDIA_STREAMS, url="ws://h/twilio"))
    scenario = Scenario(id="s", steps=(Step(index=0, kind=StepKind.SAY, utterance="q_time"),))
    spec = CallSpec(call_id="c", scenario=scenario, caller=CallerKind.WEBSOCKET,
                    endpoint=EndpointSpec(name="t", dialect=Dialect.WHIP, url="http://h/whip"))
    failure = asyncio.run(WebSocketCaller(corpus).run(spec)).recording.failure
    assert failure is not None and failure.kind is FailureKind.CALLER_ERROR
    assert "not a WebSocket dialect" in failure.reason

"""Broken WebSocket endpoints are recorded results, never crashes, and never leak a key.

Fake vendor servers (message shapes from OpenAI's and Google's references) refuse the
upgrade with 401 and 429, close with a policy error that echoes the key, send malformed
JSON, an unknown event and an error event naming the key, and drop the socket in the
middle of a reply. Each is a failure with the vendor's message or a logged event, the
key (also the one in Gemini's ``?key=``) is nowhere in what the call produced, and a
healthy call running alongside is unaffected.
"""

from __future__ import annotations

import asyncio
import base64
import dataclasses
import json
import secrets

import numpy as np
import pytest
from websockets.asyncio.server import ServerConnection
from ws_fakes import fake_server, spec, speech_like

from harness.callers.base import CallArtifacts
from harness.callers.websocket import WebSocketCaller
from harness.corpus.model import Corpus
from harness.records import Dialect, EventKind, FailureKind, Scenario, Step, StepKind
from harness.scoring import score_call
from harness.store.serialize import to_json
from harness.ws.codecs import Encoding, encode, to_wire_rate

pytestmark = [pytest.mark.network]

KEY_ENV = "VH_TEST_VENDOR_KEY"
ONE_TURN = Scenario(id="one-turn", steps=(Step(index=0, kind=StepKind.SAY, utterance="q_time", timeout_ms=3000),))
TWO_TURNS = Scenario(id="two-turns", steps=(
    Step(index=0, kind=StepKind.SAY, utterance="q_time", timeout_ms=3000),
    Step(index=1, kind=StepKind.SAY, utterance="q_name", timeout_ms=3000),
))


@pytest.fixture
def key(monkeypatch: pytest.MonkeyPatch) -> str:
    value = "sk-proj-" + secrets.token_hex(20)
    monkeypatch.setenv(KEY_ENV, value)
    return value


def _no_key(art: CallArtifacts, key: str) -> None:
    text = to_json(art.recording)
    assert key not in text
    assert key[8:24] not in text


def _openai_error(message: str, code: str) -> str:
    return json.dumps({"error": {"message": message, "type": "invalid_request_error", "code": code}})


async def _never(ws: ServerConnection) -> None:
    raise AssertionError("a refused upgrade never reaches the handler")


@pytest.mark.parametrize(("status", "code", "hint"), [
    (401, "invalid_api_key", "bad or expired API key"),
    (429, "rate_limit_exceeded", "rate limited or out of quota"),
])
def test_refused_upgrade_is_a_failure_with_the_vendors_message(corpus: Corpus, key: str, status: int, code: str,
                                                               hint: str) -> None:
    body = _openai_error(f"Incorrect API key provided: {key}. You can find your API key at ...", code) \
        if status == 401 else _openai_error("You exceeded your current quota, please check your plan.", code)

    async def main() -> CallArtifacts:
        async with fake_server(_never, refuse=(status, body), path="/v1/realtime") as server:
            art = await WebSocketCaller(corpus).run(spec(server.url, Dialect.OPENAI_REALTIME_WS, ONE_TURN,
                                                         key_env=KEY_ENV, options={"model": "gpt-realtime"}))
            request = server.requests[0]
        assert request.headers["Authorization"] == f"Bearer {key}"
        assert "model=gpt-realtime" in request.path
        return art

    art = asyncio.run(main())
    failure = art.recording.failure
    assert failure is not None and failure.kind is FailureKind.OFFER_REFUSED
    assert f"HTTP {status} ({hint})" in failure.reason
    assert ("Incorrect API key provided: ***" if status == 401 else "exceeded your current quota") in failure.reason
    _no_key(art, key)


def test_gemini_key_in_the_query_and_echoed_in_a_close_never_leaks(corpus: Corpus) -> None:
    key = "AIza" + secrets.token_urlsafe(30)[:35]

    async def refuse_setup(ws: ServerConnection) -> None:
        await ws.recv()  # setup
        await ws.close(1008, f"API key not valid. Please pass a valid API key. ({key})")

    async def main() -> CallArtifacts:
        async with fake_server(refuse_setup) as server:
            with pytest.MonkeyPatch.context() as mp:
                mp.setenv(KEY_ENV, key)
                art = await WebSocketCaller(corpus).run(spec(server.url, Dialect.GEMINI_LIVE, ONE_TURN,
                                                             key_env=KEY_ENV, options={"model": "gemini-live"}))
            assert f"key={key}" in server.requests[0].path  # it did go in the query string
        return art

    art = asyncio.run(main())
    failure = art.recording.failure
    assert failure is not None and failure.kind is FailureKind.SIGNALLING_ERROR
    assert "1008 policy violation" in failure.reason and "API key not valid" in failure.reason
    _no_key(art, key)


class MisbehavingRealtime:
    """An OpenAI Realtime server that sends junk, then drops the socket mid-reply on turn 2."""

    def __init__(self, corpus: Corpus, key: str) -> None:
        reply = to_wire_rate(speech_like(corpus, "rep_journey", 2.0), 24000)
        self.deltas = [base64.b64encode(encode(reply[i:i + 2400], Encoding.PCM16)).decode()
                       for i in range(0, reply.size, 2400)]  # 100 ms each
        self.key = key

    async def __call__(self, ws: ServerConnection) -> None:
        await ws.send(json.dumps({"type": "session.created", "event_id": "e1", "session": {"id": "sess_1"}}))
        loud = quiet = 0
        replies = 0
        async for message in ws:
            obj = json.loads(message)
            if obj["type"] == "session.update":
                await ws.send("this is not json {")
                await ws.send(json.dumps({"type": "vendor.made_up_event", "event_id": "e2"}))
                await ws.send(json.dumps({"type": "error", "event_id": "e3", "error": {
                    "type": "invalid_request_error", "code": "invalid_value", "param": "session",
                    "message": f"Invalid value for key {self.key}"}}))
                continue
            samples = np.frombuffer(base64.b64decode(obj["audio"]), dtype="<i2").astype(np.float64)
            if np.sqrt(np.mean(samples**2)) > 300:
                loud, quiet = loud + 1, 0
            else:
                quiet += 1
            if loud >= 15 and quiet == 10:  # a turn, then 200 ms of silence: answer it
                loud = 0
                replies += 1
                for i, delta in enumerate(self.deltas):
                    await ws.send(json.dumps({"type": "response.output_audio.delta", "response_id": "r",
                                              "item_id": f"item_{replies}", "output_index": 0,
                                              "content_index": 0, "delta": delta}))
                    await asyncio.sleep(0.1)
                    if replies == 2 and i == 5:
                        assert ws.transport is not None
                        ws.transport.abort()  # the socket goes away mid-reply, no close frame
                        return


def test_junk_events_and_a_dropped_socket_are_recorded_and_the_run_goes_on(corpus: Corpus, key: str) -> None:
    async def main() -> tuple[CallArtifacts, CallArtifacts]:
        caller = WebSocketCaller(corpus)
        async with fake_server(MisbehavingRealtime(corpus, key)) as bad, fake_server(MisbehavingRealtime(corpus, key)) as ok:
            healthy = spec(ok.url, Dialect.OPENAI_REALTIME_WS, ONE_TURN, key_env=KEY_ENV)
            broken = spec(bad.url, Dialect.OPENAI_REALTIME_WS, TWO_TURNS, key_env=KEY_ENV)
            healthy = dataclasses.replace(healthy, call_id="healthy")
            a, b = await asyncio.gather(caller.run(broken), caller.run(healthy))
            return a, b

    broken, healthy = asyncio.run(main())
    rec = broken.recording
    assert rec.failure is not None and rec.failure.kind is FailureKind.DROPPED, rec.failure
    assert rec.failure.step_index == 1 and "without a close frame" in rec.failure.reason
    kinds = {(e.vendor_type, e.kind) for e in rec.events}
    assert ("malformed", EventKind.ERROR) in kinds
    assert ("vendor.made_up_event", EventKind.OTHER) in kinds
    (error,) = [e for e in rec.events if e.vendor_type == "error"]
    assert error.data["message"] == "Invalid value for key ***" and error.data["code"] == "invalid_value"
    # The turn that finished is measured; the one cut off by the drop is not.
    measured = {m.turn: m.value for m in score_call(rec, TWO_TURNS, broken.received_audio).measurements
                if m.metric == "turn_latency_ms"}
    assert measured.keys() == {0} and measured[0] is not None
    _no_key(broken, key)
    assert healthy.recording.failure is None, healthy.recording.failure


def test_the_reference_agents_fault_knobs_over_websocket(corpus: Corpus, start_agent) -> None:  # type: ignore[no-untyped-def]
    """--malformed-events and --drop-after-s speak WebSocket too: junk is evidence, a drop a failure."""
    agent = start_agent("--malformed-events", "--drop-after-s", "2.5")
    url = agent.url.replace("http://", "ws://") + "/v1/realtime"
    art = asyncio.run(WebSocketCaller(corpus).run(spec(url, Dialect.OPENAI_REALTIME_WS, TWO_TURNS)))
    rec = art.recording
    assert rec.failure is not None and rec.failure.kind is FailureKind.DROPPED, rec.failure
    assert "without a close frame" in rec.failure.reason
    kinds = {(e.vendor_type, e.kind) for e in rec.events}
    assert ("malformed", EventKind.ERROR) in kinds and ("vendor.unknown_event", EventKind.OTHER) in kinds, kinds

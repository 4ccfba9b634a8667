"""Broken endpoints give clear recorded failures, never a traceback, never a secret.

A fake server on 127.0.0.1 answers with documented OpenAI error bodies (401 with the
key echoed back, 429, 500), a non-SDP answer, and a real WebRTC answer that never sends
audio; a closed port stands in for a wrong URL. Every case runs through the caller the
runner picks for its dialect, so what is checked is the ``Failure`` a report would show.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator

import pytest
from aiohttp import web
from aiortc import RTCPeerConnection, RTCSessionDescription
from support import say_scenario

from harness.callers.base import CallerSettings
from harness.corpus.model import Corpus
from harness.endpoints.transport import caller_for, url_schemes
from harness.records import CallerKind, CallRecording, CallSpec, Dialect, EndpointSpec, FailureKind
from harness.runner import default_callers
from harness.webrtc.ice import loopback_only, rtc_configuration

pytestmark = [pytest.mark.network]

SECRET = "sk-test-THISMUSTNEVERAPPEAR0123456789"


def _openai_error(status: int, message: str, code: str) -> web.Response:
    body = {"error": {"message": message, "type": "invalid_request_error", "code": code, "param": None}}
    return web.json_response(body, status=status)


async def _secret_401(request: web.Request) -> web.Response:
    key = request.headers.get("Authorization", "").removeprefix("Bearer ")
    return _openai_error(401, f"Incorrect API key provided: {key}. You can find your API key at "
                              "https://platform.openai.com/account/api-keys.", "invalid_api_key")


async def _secret_429(request: web.Request) -> web.Response:
    return _openai_error(429, "You exceeded your current quota, please check your plan and billing details.",
                         "insufficient_quota")


async def _secret_500(request: web.Request) -> web.Response:
    return _openai_error(500, "The server had an error while processing your request.", "server_error")


async def _secret_ok(request: web.Request) -> web.Response:
    return web.json_response({"value": "ek_68af296e8e408191a1120ab6383263c2", "expires_at": 1756310470})


async def _calls_expired(request: web.Request) -> web.Response:
    return _openai_error(401, "Ephemeral token ek_68af296e8e408191a1120ab6383263c2 has expired.",
                         "invalid_api_key")


async def _not_sdp(request: web.Request) -> web.Response:
    return web.Response(status=201, text="<html><body>Welcome to nginx!</body></html>",
                        content_type="text/html", headers={"Location": "/x"})


class _Silent:
    """Accepts the offer with a real answer, then never sends a packet of audio."""

    def __init__(self) -> None:
        self.pcs: list[RTCPeerConnection] = []

    async def whip(self, request: web.Request) -> web.Response:
        pc = RTCPeerConnection(rtc_configuration())
        self.pcs.append(pc)
        with loopback_only():
            await pc.setRemoteDescription(RTCSessionDescription(sdp=await request.text(), type="offer"))
            await pc.setLocalDescription(await pc.createAnswer())
        return web.Response(status=201, text=pc.localDescription.sdp, content_type="application/sdp",
                            headers={"Location": "/silent/1"})

    async def delete(self, request: web.Request) -> web.Response:
        return web.Response(status=200)


def _run(corpus: Corpus, endpoint: EndpointSpec, app: web.Application | None) -> CallRecording:
    scenario = say_scenario("probe", ["q_time"], timeout_ms=1500)

    async def main() -> CallRecording:
        runner = None
        if app is not None:
            runner = web.AppRunner(app)
            await runner.setup()
            site = web.TCPSite(runner, "127.0.0.1", 0)
            await site.start()
            port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
            endpoint_url = endpoint.url.replace("PORT", str(port))
        else:
            endpoint_url = endpoint.url
        kind = caller_for(endpoint.dialect, CallerKind.AIORTC)
        spec = CallSpec(call_id="c", scenario=scenario, caller=kind,
                        endpoint=EndpointSpec(name=endpoint.name, dialect=endpoint.dialect, url=endpoint_url,
                                              api_key_env=endpoint.api_key_env, options=endpoint.options))
        try:
            callers = default_callers(corpus, CallerSettings(connect_timeout_s=5, signalling_timeout_s=3))
            return (await callers[kind].run(spec)).recording
        finally:
            if runner is not None:
                with contextlib.suppress(Exception):
                    await runner.cleanup()

    return asyncio.run(main())


@pytest.fixture
def api_key(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    monkeypatch.setenv("FAKE_OPENAI_KEY", SECRET)
    yield "FAKE_OPENAI_KEY"


def _app(**routes: object) -> web.Application:
    app = web.Application()
    for path, handler in routes.items():
        method, _, route = path.partition(" ")
        app.router.add_route(method, route, handler)  # type: ignore[arg-type]
    return app


@pytest.mark.parametrize(("handler", "status", "words"), [
    (_secret_401, 401, "Incorrect API key provided"),
    (_secret_429, 429, "exceeded your current quota"),
    (_secret_500, 500, "server had an error"),
])
def test_client_secret_errors_are_clear_and_secret_free(corpus: Corpus, api_key: str, handler: object,
                                                        status: int, words: str) -> None:
    app = _app(**{"POST /v1/realtime/client_secrets": handler})
    endpoint = EndpointSpec(name="fake-openai", dialect=Dialect.OPENAI_REALTIME, url="http://127.0.0.1:PORT",
                            api_key_env=api_key)
    rec = _run(corpus, endpoint, app)
    assert rec.failure is not None
    assert rec.failure.kind == FailureKind.OFFER_REFUSED
    assert f"HTTP {status}" in rec.failure.reason and words in rec.failure.reason
    assert "client secret" in rec.failure.reason
    assert SECRET not in rec.failure.reason and SECRET[:12] not in rec.failure.reason


def test_expired_ephemeral_key_is_clear_and_secret_free(corpus: Corpus, api_key: str) -> None:
    app = _app(**{"POST /v1/realtime/client_secrets": _secret_ok, "POST /v1/realtime/calls": _calls_expired})
    endpoint = EndpointSpec(name="fake-openai", dialect=Dialect.OPENAI_REALTIME, url="http://127.0.0.1:PORT",
                            api_key_env=api_key)
    rec = _run(corpus, endpoint, app)
    assert rec.failure is not None and rec.failure.kind == FailureKind.OFFER_REFUSED
    assert "HTTP 401" in rec.failure.reason and "has expired" in rec.failure.reason
    assert "ek_68af" not in rec.failure.reason


def test_missing_key_variable_is_a_recorded_failure(corpus: Corpus, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("UNSET_KEY_VAR", raising=False)
    endpoint = EndpointSpec(name="fake-openai", dialect=Dialect.OPENAI_REALTIME, url="http://127.0.0.1:9",
                            api_key_env="UNSET_KEY_VAR")
    rec = _run(corpus, endpoint, None)
    assert rec.failure is not None and "UNSET_KEY_VAR" in rec.failure.reason


@pytest.mark.parametrize("dialect", list(Dialect))
def test_wrong_url_is_a_connect_error(corpus: Corpus, dialect: Dialect) -> None:
    # Each dialect over its own transport (ws:// for the WebSocket dialects), each through
    # the caller the runner would pick for it.
    scheme = url_schemes(dialect)[0]
    options = {"agent_id": "agent_1"} if dialect is Dialect.ELEVENLABS_AGENTS else {}  # else refused before connecting
    endpoint = EndpointSpec(name="nowhere", dialect=dialect, url=f"{scheme}://127.0.0.1:1/whip", options=options)
    rec = _run(corpus, endpoint, None)
    assert rec.failure is not None and rec.failure.kind == FailureKind.CONNECT_ERROR
    assert f"{scheme}://127.0.0.1:1" in rec.failure.reason
    assert "cannot reach" in rec.failure.reason or "cannot open" in rec.failure.reason


def test_wrong_path_is_a_refused_offer_with_a_hint(corpus: Corpus) -> None:
    endpoint = EndpointSpec(name="badpath", dialect=Dialect.WHIP, url="http://127.0.0.1:PORT/nope")
    rec = _run(corpus, endpoint, _app(**{"POST /whip": _not_sdp}))
    assert rec.failure is not None and rec.failure.kind == FailureKind.OFFER_REFUSED
    assert "HTTP 404" in rec.failure.reason and "wrong URL" in rec.failure.reason


def test_non_sdp_answer_is_a_signalling_error(corpus: Corpus) -> None:
    endpoint = EndpointSpec(name="nginx", dialect=Dialect.OPENAI_REALTIME, url="http://127.0.0.1:PORT")
    rec = _run(corpus, endpoint, _app(**{"POST /v1/realtime/calls": _not_sdp}))
    assert rec.failure is not None and rec.failure.kind == FailureKind.SIGNALLING_ERROR
    assert "not SDP" in rec.failure.reason and "Welcome to nginx" in rec.failure.reason


def test_pipecat_non_json_answer_is_a_signalling_error(corpus: Corpus) -> None:
    endpoint = EndpointSpec(name="pc", dialect=Dialect.PIPECAT, url="http://127.0.0.1:PORT")
    rec = _run(corpus, endpoint, _app(**{"POST /api/offer": _not_sdp}))
    assert rec.failure is not None and rec.failure.kind == FailureKind.SIGNALLING_ERROR
    assert "not JSON" in rec.failure.reason


def test_endpoint_that_never_sends_audio_is_no_audio(corpus: Corpus) -> None:
    silent = _Silent()
    app = _app(**{"POST /whip": silent.whip, "DELETE /silent/1": silent.delete})

    async def close_pcs(_app: web.Application) -> None:
        for pc in silent.pcs:
            await pc.close()

    app.on_cleanup.append(close_pcs)
    endpoint = EndpointSpec(name="silent", dialect=Dialect.WHIP, url="http://127.0.0.1:PORT/whip")
    rec = _run(corpus, endpoint, app)
    assert rec.failure is not None and rec.failure.kind == FailureKind.NO_AUDIO, rec.failure
    assert rec.dialect_info.get("hangup") == "HTTP 200"


PLAIN_KEY = "Zq9-not-shaped-like-a-key-7731"
"""A key no credential pattern recognises: only the configured secret itself can catch it."""


async def _echo_authorization(request: web.Request) -> web.Response:
    """A buggy endpoint whose non-SDP answer starts with the request's own headers."""
    body = f"Authorization: {request.headers.get('Authorization', '')}\r\nHost: x\r\n\r\nno"
    return web.Response(status=201, text=body, content_type="text/plain",
                        headers={"Location": f"/session/{PLAIN_KEY}"})


async def _plain_secret(request: web.Request) -> web.Response:
    return web.json_response({"value": PLAIN_KEY, "expires_at": 1})


@pytest.mark.parametrize(("dialect", "route"), [
    (Dialect.WHIP, "POST /whip"),
    (Dialect.PIPECAT, "POST /api/offer"),
    (Dialect.OPENAI_REALTIME, "POST /v1/realtime/calls"),
])
def test_a_key_echoed_in_the_answer_body_or_location_is_redacted(
    corpus: Corpus, monkeypatch: pytest.MonkeyPatch, dialect: Dialect, route: str
) -> None:
    monkeypatch.setenv("PLAIN_KEY_VAR", PLAIN_KEY)
    routes = {route: _echo_authorization, "POST /v1/realtime/client_secrets": _plain_secret}
    url = "http://127.0.0.1:PORT/whip" if dialect is Dialect.WHIP else "http://127.0.0.1:PORT"
    endpoint = EndpointSpec(name="echoing", dialect=dialect, url=url, api_key_env="PLAIN_KEY_VAR")
    rec = _run(corpus, endpoint, _app(**routes))
    assert rec.failure is not None and rec.failure.kind == FailureKind.SIGNALLING_ERROR
    assert "Authorization: ***" in rec.failure.reason, rec.failure.reason
    assert PLAIN_KEY not in rec.failure.reason and PLAIN_KEY[:10] not in rec.failure.reason
    location = str(rec.dialect_info.get("location", ""))
    if dialect is not Dialect.PIPECAT:
        assert location.endswith("/session/***"), rec.dialect_info

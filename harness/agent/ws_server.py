"""The reference agent's WebSocket routes: one path per dialect, on the agent's one port.

The paths are the vendors' own where they have one, so an endpoint URL differs from the
vendor's only by host: ``/v1/realtime`` (OpenAI), ``/ws/google.ai.generativelanguage.
v1beta.GenerativeService.BidiGenerateContent`` (Gemini), ``/v1/convai/conversation``
(ElevenLabs); a phone agent's media-stream path is the server's choice, here
``/twilio``; raw PCM is ``/pcm``. Signalling knobs apply to the upgrade as to an offer:
``refuse_offer`` answers 503, ``never_answer`` holds the upgrade unanswered.
"""

from __future__ import annotations

import asyncio
import json
import secrets
import socket
import sys
import time
from collections.abc import Callable, Mapping
from urllib.parse import parse_qsl, urlsplit

from aiohttp import web
from websockets.http11 import Request
from websockets.server import ServerProtocol

from harness.agent.core import Responder, new_turn_detector
from harness.agent.knobs import AgentKnobs
from harness.agent.listener import WsRoute
from harness.agent.truth import TruthLog
from harness.agent.ws_call import WsAgentCall
from harness.agent.ws_dialects.base import ServerDialect
from harness.agent.ws_dialects.elevenlabs import ElevenLabsServer
from harness.agent.ws_dialects.gemini import GeminiServer
from harness.agent.ws_dialects.openai import OpenAIServer
from harness.agent.ws_dialects.pcm import PcmServer
from harness.agent.ws_dialects.twilio import TwilioServer
from harness.ws.connection import Decision, ws_accept
from harness.ws.stamped import StampedStream

DialectFactory = Callable[[Mapping[str, str], Mapping[str, str]], ServerDialect]

GEMINI_PATH = "/ws/google.ai.generativelanguage.v1beta.GenerativeService.BidiGenerateContent"
ROUTES: dict[str, DialectFactory] = {
    "/v1/realtime": OpenAIServer,
    GEMINI_PATH: GeminiServer,
    GEMINI_PATH.replace("v1beta", "v1alpha"): GeminiServer,
    "/v1/convai/conversation": ElevenLabsServer,
    "/twilio": TwilioServer,
    "/pcm": PcmServer,
}

CALL_ID_HEADER = "X-Call-Id"
"""The agent's id of the call, on the 101 response, so tests can find its truth rows."""


SWITCH_INTERVAL_S = 0.001
"""The agent's WebSocket reader threads wait for the GIL at most this long (default 5 ms),
so its truth log's arrival times stay within a millisecond of the kernel's even while
its loop is busy. The agent process is the harness's own, so it may set this."""


class WsRoutes:
    def __init__(self, knobs: AgentKnobs, truth: TruthLog, brain: Responder | None,
                 calls: dict[str, WsAgentCall], next_index: Callable[[], int], never_answer_s: float) -> None:
        self.knobs, self.truth, self.brain = knobs, truth, brain
        self.calls = calls
        self._next_index = next_index
        self._never_answer_s = never_answer_s
        self._signatures: set[str] = set()
        sys.setswitchinterval(SWITCH_INTERVAL_S)

    async def signed_url(self, request: web.Request) -> web.Response:
        """ElevenLabs' signed-URL endpoint: any ``xi-api-key`` will do; the signature is one-off."""
        if not request.headers.get("xi-api-key"):
            return web.json_response({"detail": {"status": "invalid_api_key", "message": "Invalid API key"}},
                                     status=401)
        agent_id = request.query.get("agent_id", "")
        signature = secrets.token_urlsafe(24)
        self._signatures.add(signature)
        url = request.url.with_scheme("ws").with_path("/v1/convai/conversation").with_query(
            {"agent_id": agent_id, "conversation_signature": signature})
        return web.json_response({"signed_url": str(url)})

    def route(self, target: str) -> WsRoute | None:
        path = urlsplit(target).path.rstrip("/") or "/"
        factory = ROUTES.get(path)
        if factory is None:
            return None

        async def serve(sock: socket.socket, full_target: str) -> None:
            await self._serve(sock, full_target, factory)

        return serve

    async def _serve(self, sock: socket.socket, target: str, factory: DialectFactory) -> None:
        stream = StampedStream.accepted(sock)
        index = self._next_index()
        call_id = f"ws_{index:04d}_{secrets.token_hex(4)}"
        if self.knobs.never_answer:
            self.truth.write("offer_ignored")
            await asyncio.sleep(self._never_answer_s)
            stream.close()
            return

        # The agent's VAD loads in a thread: other calls' audio keeps being heard meanwhile,
        # and the upgrade is answered once this call can listen.
        turns = await asyncio.to_thread(new_turn_detector, self.knobs)

        def decide(protocol: ServerProtocol, request: Request) -> Decision:
            signature = dict(parse_qsl(urlsplit(target).query)).get("conversation_signature")
            if signature is not None and signature not in self._signatures:
                return 403, json.dumps({"detail": {"status": "invalid_signature", "message": "Invalid signature"}})
            if self.knobs.refuse_offer:
                self.truth.write("offer_refused")
                return 503, json.dumps({"error": {"message": "offer refused (refuse_offer knob)",
                                                  "type": "reference_agent"}})
            response = protocol.accept(request)
            response.headers[CALL_ID_HEADER] = call_id
            return response

        accepted = await ws_accept(stream, decide)
        if accepted is None:
            return
        conn, request = accepted
        query = dict(parse_qsl(urlsplit(target).query))
        headers = {k.lower(): v for k, v in request.headers.raw_items()}
        call = WsAgentCall(call_id, index, self.knobs, self.truth, conn, factory(query, headers), brain=self.brain,
                           turns=turns)
        self.calls[call_id] = call
        call.closed_callback = lambda: self.calls.pop(call_id, None)
        self.truth.write("ws_connected", call_id=call_id, t_ns=time.monotonic_ns(), path=urlsplit(target).path)
        await call.serve()

"""The reference agent's HTTP side: signalling routes of the dialects it speaks.

Knob faults that concern signalling (refusing the offer, never answering) are played
out here; media faults live in the call.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import itertools
import logging
import re
import secrets
import signal
import socket
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

from aiohttp import web

from harness.agent.call import AgentCall, Responder
from harness.agent.dialects import PipecatAgentCall
from harness.agent.knobs import AgentKnobs, AgentMode
from harness.agent.listener import DialectListener
from harness.agent.truth import TruthLog
from harness.agent.ws_call import WsAgentCall
from harness.agent.ws_server import WsRoutes
from harness.priority import (
    REFERENCE_AGENT_PRIORITY,
    describe_scheduling,
    freeze_startup_heap,
    raise_priority,
)

log = logging.getLogger(__name__)

NEVER_ANSWER_S = 120.0
"""How long a ``never_answer`` agent holds an offer before giving up (every wait ends)."""

READY_PREFIX = "voice-harness agent listening on "

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass(frozen=True, slots=True, kw_only=True)
class WorkerSlot:
    """This process's place among ``agent serve --workers N`` processes.

    All of them accept on one shared listening socket, so any may get a call's offer;
    the one that answers owns the call (its peer connection and UDP socket live there).
    Requests about an existing call (WHIP ``DELETE``, Pipecat's trickle-ICE ``PATCH``)
    name the call, whose id carries its owner's index: another worker redirects them
    (307, method and body kept) to the owner's own port.
    """

    index: int
    ports: tuple[int, ...]
    """Each worker's private port, by index."""
    host: str = "127.0.0.1"


_OWNER = re.compile(r"^rtc_w(\d+)_")


class AgentServer:
    def __init__(self, knobs: AgentKnobs, truth: TruthLog, brain: Responder | None = None,
                 slot: WorkerSlot | None = None) -> None:
        self.knobs = knobs
        self.truth = truth
        self.brain = brain
        self.slot = slot
        self.calls: dict[str, AgentCall] = {}
        self._counter = itertools.count()
        self.ws_calls: dict[str, WsAgentCall] = {}
        self.ws = WsRoutes(knobs, truth, brain, self.ws_calls, lambda: next(self._counter), NEVER_ANSWER_S)
        self._fail_rng = knobs.refusal_rng()
        self._leaked: list[bytes] = []
        """What ``leak_kb_per_call`` keeps: never freed while the agent runs."""
        self.app = web.Application()
        self.app.add_routes(
            [
                web.get("/health", self.health),
                web.post("/v1/realtime/client_secrets", self.client_secret),
                web.post("/v1/realtime/calls", self.openai_offer),
                web.delete("/v1/realtime/calls/{call_id}", self.hangup),
                web.post("/whip", self.whip_offer),
                web.delete("/whip/{call_id}", self.hangup),
                web.post("/api/offer", self.pipecat_offer),
                web.patch("/api/offer", self.pipecat_patch),
                web.get("/v1/convai/conversation/get-signed-url", self.ws.signed_url),
            ]
        )
        self.app.on_shutdown.append(self._shutdown)
        if slot is not None:
            self.app.middlewares.append(self._to_owner)

    @web.middleware
    async def _to_owner(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        """Send a request about another worker's call to that worker (see ``WorkerSlot``)."""
        slot = self.slot
        call_id = request.match_info.get("call_id")
        if call_id is None and request.method == "PATCH":
            with contextlib.suppress(ValueError, KeyError, TypeError):
                call_id = str((await request.json())["pc_id"])
        owner = _OWNER.match(call_id or "")
        if slot is not None and owner is not None and int(owner.group(1)) != slot.index:
            index = int(owner.group(1))
            if index < len(slot.ports):
                raise web.HTTPTemporaryRedirect(f"http://{slot.host}:{slot.ports[index]}{request.path_qs}")
        return await handler(request)

    async def health(self, request: web.Request) -> web.Response:
        return web.json_response({"ok": True, "calls": len(self.calls), "knobs": self.knobs.as_json()})

    async def client_secret(self, request: web.Request) -> web.Response:
        return web.json_response({"value": f"ek_local_{secrets.token_hex(8)}", "expires_at": 0})

    async def openai_offer(self, request: web.Request) -> web.Response:
        return await self._sdp_offer(request, "/v1/realtime/calls", bad_type_status=400)

    async def whip_offer(self, request: web.Request) -> web.Response:
        """RFC 9725: application/sdp in, 201 Created + Location + SDP answer out."""
        return await self._sdp_offer(request, "/whip", bad_type_status=415)

    async def _sdp_offer(self, request: web.Request, location: str, *, bad_type_status: int) -> web.Response:
        """The plain-SDP signalling both openai-realtime and WHIP use: 201 + Location."""
        if request.content_type != "application/sdp":
            return _error(bad_type_status, f"expected Content-Type application/sdp, got {request.content_type}")
        offer = await request.text()
        if not offer.lstrip().startswith("v=0"):
            return _error(400, "body is not an SDP offer")
        answer = await self._answer(offer)
        if isinstance(answer, web.Response):
            return answer
        call_id, sdp = answer
        return web.Response(
            status=201, text=sdp, content_type="application/sdp",
            headers={"Location": f"{location}/{call_id}"},
        )

    async def pipecat_offer(self, request: web.Request) -> web.Response:
        """SmallWebRTC: JSON {sdp, type, pc_id} in, JSON {sdp, type, pc_id} out."""
        try:
            body = await request.json()
        except ValueError:
            return _error(400, "body is not JSON {sdp, type, pc_id}")
        if not isinstance(body, dict) or not isinstance(body.get("sdp"), str) or body.get("type") != "offer":
            return _error(400, "expected JSON {sdp: <offer>, type: 'offer'}")
        if body.get("pc_id"):
            return _error(409, "renegotiation (pc_id) is not supported by the reference agent")
        answer = await self._answer(body["sdp"], PipecatAgentCall)
        if isinstance(answer, web.Response):
            return answer
        call_id, sdp = answer
        return web.json_response({"sdp": sdp, "type": "answer", "pc_id": call_id})

    async def pipecat_patch(self, request: web.Request) -> web.Response:
        """SmallWebRTC trickle ICE: {pc_id, candidates: [{candidate, sdp_mid, sdp_mline_index}]}."""
        from aiortc.sdp import candidate_from_sdp

        try:
            body = await request.json()
            call = self.calls.get(str(body["pc_id"]))
            candidates = list(body["candidates"])
        except (ValueError, KeyError, TypeError):
            return _error(400, "expected JSON {pc_id, candidates: [...]}")
        if call is None:
            return _error(404, "no such peer connection")
        for c in candidates:
            try:
                if c.get("candidate"):
                    candidate = candidate_from_sdp(str(c["candidate"]).removeprefix("candidate:"))
                    candidate.sdpMid = c.get("sdp_mid")
                    candidate.sdpMLineIndex = c.get("sdp_mline_index")
                    await call.pc.addIceCandidate(candidate)
                else:
                    await call.pc.addIceCandidate(None)
            except Exception as exc:  # a bad candidate is the client's error, not ours
                return _error(400, f"bad ICE candidate: {exc}")
        return web.Response(status=204)

    async def hangup(self, request: web.Request) -> web.Response:
        call = self.calls.pop(request.match_info["call_id"], None)
        if call is None:
            return _error(404, "no such call")
        await call.close(reason="hangup")
        return web.Response(status=200)

    async def _answer(
        self, offer: str, call_class: type[AgentCall] = AgentCall
    ) -> tuple[str, str] | web.Response:
        if self.knobs.refuse_offer:
            self.truth.write("offer_refused")
            return _error(503, "offer refused (refuse_offer knob)")
        if self.knobs.never_answer:
            self.truth.write("offer_ignored")
            await asyncio.sleep(NEVER_ANSWER_S)
            return _error(504, "never answered (never_answer knob)")
        refused = self._soak_failure()
        if refused is not None:
            return refused
        index = next(self._counter)
        if self.slot is None:
            call_id = f"rtc_{index:04d}_{secrets.token_hex(4)}"
        else:  # unique across the workers, and says which one owns it
            index = index * len(self.slot.ports) + self.slot.index
            call_id = f"rtc_w{self.slot.index}_{index:04d}_{secrets.token_hex(4)}"
        call = call_class(call_id, index, self.knobs, self.truth, brain=self.brain)
        try:
            sdp = await call.answer(offer)
        except Exception as exc:  # a bad offer must not take the agent down
            await call.close(reason="bad offer")
            return _error(400, f"cannot answer offer: {exc}")
        self.calls[call_id] = call
        call.closed_callback = lambda: self.calls.pop(call_id, None)
        if self.knobs.leak_kb_per_call > 0:
            self._leaked.append(bytes(int(self.knobs.leak_kb_per_call * 1024)))
            self.truth.write("leak", call_id=call_id, t_ns=time.monotonic_ns(),
                             retained_bytes=sum(len(b) for b in self._leaked))
        return call_id, sdp

    def _soak_failure(self) -> web.Response | None:
        """The soak knobs' refusals (``fail_after_s``, ``fail_rate``), logged as the truth.

        The first offer sets the knobs' time base (``origin_ns``), logged as ``knob_origin``.
        """
        now = time.monotonic_ns()
        if self.knobs.origin_ns is None:
            self.knobs = dataclasses.replace(self.knobs, origin_ns=now)
            self.truth.write("knob_origin", t_ns=now)
        reason = None
        if self.knobs.failing(now):
            reason = "fail_after"
        elif self.knobs.fail_rate > 0 and self._fail_rng.random() < self.knobs.fail_rate:
            reason = "fail_rate"
        if reason is None:
            return None
        self.truth.write("offer_refused", reason=reason, t_ns=now)
        return _error(503, f"offer refused ({reason} knob)")

    async def _shutdown(self, app: web.Application) -> None:
        for call in [*self.calls.values(), *self.ws_calls.values()]:
            await call.close(reason="agent shutdown")
        self.truth.close()


def _error(status: int, message: str) -> web.Response:
    return web.json_response({"error": {"message": message, "type": "reference_agent"}}, status=status)


async def serve(host: str, port: int, knobs: AgentKnobs, truth_path: Path | None, *,
                shared: socket.socket | None = None, private: socket.socket | None = None,
                slot: WorkerSlot | None = None, on_ready: Callable[[str], None] | None = None) -> None:
    """Run until SIGINT/SIGTERM; prints one ready line with the URL for whoever started us.

    A worker of ``agent serve --workers N`` is given the ``shared`` listening socket,
    its ``private`` one and its ``slot``; ``on_ready`` replaces the ready line.
    """
    brain = None
    if knobs.mode is AgentMode.TTS:
        # Loaded (and its fixed answers synthesised) before the ready line: a call
        # never waits for a model.
        from harness.agent.cascade import CascadeBrain

        brain = await asyncio.to_thread(CascadeBrain, wrong_answers=knobs.wrong_answers)
        scheduling = describe_scheduling()
    else:
        # The agent is the tests' ground truth: its loop paces its replies and stamps
        # them. Real-time (below the callers: harness.priority), so a busy machine does
        # not make it drift from its knobs; not the tts cascade, whose Whisper and Piper
        # would hold a real-time core for seconds.
        scheduling = raise_priority(threads_inherit=True, priority=REFERENCE_AGENT_PRIORITY)
    truth = TruthLog(truth_path)
    truth.write("agent_start", t_ns=time.monotonic_ns(), knobs=knobs.as_json(), scheduling=scheduling)
    server = AgentServer(knobs, truth, brain, slot)
    runner = web.AppRunner(server.app, handle_signals=False, access_log=None)
    await runner.setup()
    assert runner.server is not None
    # One port for all dialects: WebSocket upgrades stay with the agent (kernel-stamped
    # sockets), every other request goes to aiohttp (harness.agent.listener). A worker of
    # ``agent serve --workers N`` listens on the shared socket and its private one.
    listener = DialectListener(runner.server, server.ws.route, host, port)
    bound = await listener.start([sock for sock in (shared, private) if sock is not None])
    url = f"http://{host}:{bound}"
    freeze_startup_heap()  # its loop stamps the truth: no full collection over the start-up heap
    if on_ready is not None:
        on_ready(url)
    else:
        print(f"{READY_PREFIX}{url}", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    try:
        await stop.wait()
    finally:
        await listener.close()
        await runner.cleanup()
        print("voice-harness agent stopped", file=sys.stderr, flush=True)

"""The local web server the browser caller's pages are loaded from.

http://127.0.0.1 is a secure context for Chromium, so the page may use AudioWorklet,
encoded transforms and getUserMedia without TLS. It serves the page assets, each call's
clip audio (raw float32, so the page needs no decoder and gets the exact samples) and
one WebSocket per call, found by an unguessable token. It listens on loopback only.
"""

from __future__ import annotations

import contextlib
from pathlib import Path

from aiohttp import web

from harness.callers.browser.session import PageSession

PAGE_DIR = Path(__file__).resolve().parent / "page"
PAGE_FILES = frozenset({
    "index.html", "caller.js", "player.js", "protocol.js", "rtc.js", "wait.js", "worklet.js", "transform.js",
})
_MAX_MESSAGE = 16 * 1024 * 1024


class PageServer:
    def __init__(self, host: str = "127.0.0.1") -> None:
        self.host = host
        self.port = 0
        self._sessions: dict[str, PageSession] = {}
        self._runner: web.AppRunner | None = None
        app = web.Application()
        app.add_routes([
            web.get("/page/{name}", self._asset),
            web.get("/clip/{token}/{clip}", self._clip),
            web.get("/ws/{token}", self._socket),
        ])
        self._app = app

    @property
    def started(self) -> bool:
        return self._runner is not None

    async def start(self) -> None:
        if self._runner is not None:
            return
        runner = web.AppRunner(self._app, handle_signals=False, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, self.host, 0)
        await site.start()
        sockets = getattr(site._server, "sockets", None) or []
        if not sockets:
            await runner.cleanup()
            raise OSError("the page server did not bind a socket")
        self.port = int(sockets[0].getsockname()[1])
        self._runner = runner

    async def close(self) -> None:
        runner, self._runner = self._runner, None
        for session in list(self._sessions.values()):
            await session.close()
        self._sessions.clear()
        if runner is not None:
            with contextlib.suppress(Exception):
                await runner.cleanup()

    @property
    def sessions(self) -> tuple[PageSession, ...]:
        """The calls whose pages are being served now."""
        return tuple(self._sessions.values())

    def register(self, session: PageSession) -> str:
        """Make the session reachable; returns the page URL for it."""
        self._sessions[session.token] = session
        return f"http://{self.host}:{self.port}/page/index.html?call={session.token}"

    def unregister(self, session: PageSession) -> None:
        self._sessions.pop(session.token, None)

    async def _asset(self, request: web.Request) -> web.StreamResponse:
        name = request.match_info["name"]
        if name not in PAGE_FILES:
            raise web.HTTPNotFound()
        return web.FileResponse(PAGE_DIR / name, headers={"Cache-Control": "no-store"})

    async def _clip(self, request: web.Request) -> web.Response:
        session = self._sessions.get(request.match_info["token"])
        clip = session.clips.get(request.match_info["clip"]) if session else None
        if clip is None:
            raise web.HTTPNotFound()
        return web.Response(body=clip.astype("<f4").tobytes(), content_type="application/octet-stream")

    async def _socket(self, request: web.Request) -> web.StreamResponse:
        session = self._sessions.get(request.match_info["token"])
        if session is None:
            raise web.HTTPNotFound()
        ws = web.WebSocketResponse(max_msg_size=_MAX_MESSAGE, heartbeat=None)
        await ws.prepare(request)
        await session.handle(ws)
        return ws

"""``CallWorker``: runs calls in a process whose event loop does nothing but media.

It owns the callers (aiortc; the browser caller's Chromium pool when asked for), plays
each planned call, stamps where it ran, and returns a ``FinishedCall``. Scoring, ASR,
PESQ and report writing never happen here: the driver does them on what comes back.
Local worker processes and Ray actors both wrap one of these.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import socket
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from harness.callers.aiortc_caller import AiortcCaller
from harness.callers.base import Caller, CallerSettings, failed_artifacts
from harness.callers.websocket import WebSocketCaller
from harness.corpus.defaults import default_corpus
from harness.corpus.model import Corpus, load_corpus
from harness.endpoints.transport import caller_for
from harness.executors.base import FinishedCall
from harness.records import CallerKind, CallSpec, Failure, FailureKind, WorkerInfo

if TYPE_CHECKING:
    from harness.callers.browser.caller import BrowserCaller

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True, kw_only=True)
class WorkerConfig:
    """What a worker needs to start: picklable, so it can be sent to another process."""

    corpus_dir: Path | None = None
    """A built corpus folder; ``None``: the built-in corpus (built on first use)."""
    caller_kinds: tuple[CallerKind, ...] = (CallerKind.AIORTC,)
    caller_settings: CallerSettings = field(default_factory=CallerSettings)
    node: str = "local"
    region: str = ""


class CallWorker:
    """Plays calls one after another or side by side, in the loop it is started in."""

    def __init__(self, config: WorkerConfig) -> None:
        self.config = config
        self.info = WorkerInfo(host=socket.gethostname(), pid=os.getpid(), node=config.node,
                               region=config.region)
        self._corpus: Corpus | None = None
        self._callers: dict[CallerKind, Caller] = {}
        self._browser: BrowserCaller | None = None

    async def start(self) -> None:
        """Load the corpus and open the callers (a browser pool if one is asked for)."""
        cfg = self.config
        self._corpus = load_corpus(cfg.corpus_dir) if cfg.corpus_dir else default_corpus(build=True)
        self._callers[CallerKind.AIORTC] = AiortcCaller(self._corpus, cfg.caller_settings)
        self._callers[CallerKind.WEBSOCKET] = WebSocketCaller(self._corpus, cfg.caller_settings)
        if CallerKind.BROWSER in cfg.caller_kinds:
            try:
                from harness.callers.browser.caller import BrowserCaller, BrowserSettings

                settings = cfg.caller_settings
                browser = BrowserCaller(self._corpus, BrowserSettings(
                    player=settings.player, signalling_timeout_s=settings.signalling_timeout_s,
                    connect_timeout_s=settings.connect_timeout_s))
            except ImportError as exc:
                log.warning("browser caller unavailable: %s", exc)
            else:
                self._callers[CallerKind.BROWSER] = browser
                self._browser = browser

    async def run_call(self, spec: CallSpec) -> FinishedCall:
        """One call, never raising: an unavailable caller is a recorded failure too."""
        kind = caller_for(spec.endpoint.dialect, spec.caller)  # WebSocket dialects: the WebSocket caller
        caller = self._callers.get(kind)
        if caller is None:
            artifacts = failed_artifacts(spec, kind, "", Failure(
                kind=FailureKind.CALLER_ERROR, reason=f"caller {kind} is not available"))
        else:
            artifacts = await caller.run(spec)
        recording = dataclasses.replace(artifacts.recording, worker=self.info)
        return FinishedCall.from_artifacts(dataclasses.replace(artifacts, recording=recording))

    async def aclose(self) -> None:
        browser = self._browser
        self._browser = None
        if browser is not None:
            await browser.aclose()

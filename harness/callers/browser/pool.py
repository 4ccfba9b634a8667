"""A bounded pool of headless Chromium processes, one fresh context and page per call.

A browser process costs ~0.5 s and tens of MB to start, a context almost nothing, so
calls share browsers (``calls_per_browser`` pages each) and at most ``max_browsers``
run at once; calls beyond that wait for a free slot. Each call gets its own context,
so nothing (permissions, storage, audio devices) leaks between calls. A browser that
dies is dropped from the pool and the calls on it see ``Lease.lost``; the next call
starts a new one. Calls that need their own launch flags (getUserMedia with a fake
capture file) get a dedicated browser that is closed with the call.

The pool belongs to the event loop it is first used in (Playwright's async API does);
``close()`` it before that loop ends.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import secrets
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from harness.callers.browser.discovery import (
    LAUNCH_ARGS,
    ChromiumInstall,
    ChromiumNotFound,
    find_chromium,
)
from harness.callers.browser.procs import (
    MARKER_SWITCH,
    find_browser_pid,
    memory_bytes,
    process_tree,
    raise_niceness,
)
from harness.extras import MissingExtra
from harness.priority import children_at_normal_priority

log = logging.getLogger(__name__)


class BrowserUnavailable(Exception):
    """No browser could be started; the message is a failure reason for the report."""


@dataclass(frozen=True, slots=True, kw_only=True)
class PoolSettings:
    max_browsers: int = 2
    calls_per_browser: int = 4
    chromium: str | None = None
    """Executable to launch; default: discovered (see ``discovery``)."""
    extra_args: tuple[str, ...] = ()
    launch_timeout_s: float = 30.0
    close_timeout_s: float = 10.0


@dataclass(eq=False, slots=True)
class _Browser:
    handle: Any
    marker: str
    version: str
    dedicated: bool
    active: int = 0
    dead: bool = False
    lost: asyncio.Event = field(default_factory=asyncio.Event)


@dataclass(frozen=True, slots=True, kw_only=True)
class Lease:
    """One call's page, in its own context, on a pool browser."""

    page: Any
    context: Any
    browser_version: str
    browser_marker: str
    chromium: ChromiumInstall
    lost: asyncio.Event
    """Set when the browser process dies or the page crashes."""

    def browser_pid(self) -> int | None:
        return find_browser_pid(self.browser_marker)


class BrowserPool:
    def __init__(self, settings: PoolSettings | None = None) -> None:
        self.settings = settings or PoolSettings()
        self._playwright_cm: Any = None
        self._playwright: Any = None
        self._install: ChromiumInstall | None = None
        self._browsers: list[_Browser] = []
        self._launching = 0
        self._launching_shared = 0
        self._cond: asyncio.Condition | None = None
        self._closed = False
        self._ids = itertools.count()
        self._pool_id = secrets.token_hex(4)
        self.launches = 0
        self._tasks: set[asyncio.Task[None]] = set()

    # ------------------------------------------------------------------ public

    async def prepare(self) -> None:
        """Import and start Playwright's driver now, before any call: done lazily by the
        first call, its imports held the loop 15+ ms while other calls were live."""
        await self._start_playwright()

    @contextlib.asynccontextmanager
    async def lease(self, extra_args: Sequence[str] = (), *, grant_microphone: bool = False) -> AsyncIterator[Lease]:
        """A fresh context + page; everything is closed on every way out."""
        browser = await self._acquire(tuple(extra_args))
        context: Any = None
        page: Any = None
        lost = asyncio.Event()
        relay = asyncio.get_running_loop().create_task(self._relay(browser.lost, lost))
        try:
            timeout_ms = self.settings.launch_timeout_s * 1000
            try:
                context = await asyncio.wait_for(browser.handle.new_context(
                    permissions=["microphone"] if grant_microphone else [],
                ), self.settings.launch_timeout_s)
                context.set_default_timeout(timeout_ms)
                page = await asyncio.wait_for(context.new_page(), self.settings.launch_timeout_s)
            except Exception as exc:
                raise BrowserUnavailable(f"cannot open a page in Chromium {browser.version}: {_short(exc)}") from exc
            page.on("crash", lambda _page: lost.set())
            assert self._install is not None
            yield Lease(
                page=page, context=context, browser_version=browser.version,
                browser_marker=browser.marker, chromium=self._install, lost=lost,
            )
        finally:
            relay.cancel()
            for closable in (page, context):
                if closable is not None and not browser.dead:
                    with contextlib.suppress(Exception):
                        await asyncio.wait_for(closable.close(), self.settings.close_timeout_s)
            await self._release(browser)

    async def close(self) -> None:
        """Close every browser and Playwright itself; safe to call twice."""
        self._closed = True
        browsers, self._browsers = self._browsers, []
        for b in browsers:
            await self._close_browser(b)
        if self._playwright_cm is not None:
            cm, self._playwright_cm, self._playwright = self._playwright_cm, None, None
            with contextlib.suppress(Exception):
                await asyncio.wait_for(cm.__aexit__(None, None, None), self.settings.close_timeout_s)

    def browser_pids(self) -> list[int]:
        """Main process ids of the live pool browsers."""
        pids = [find_browser_pid(b.marker) for b in self._browsers if not b.dead]
        return [p for p in pids if p is not None]

    def memory_bytes(self) -> int:
        """PSS of every process of every live pool browser."""
        return sum(memory_bytes(process_tree(pid)) for pid in self.browser_pids())

    @property
    def browsers(self) -> int:
        return sum(1 for b in self._browsers if not b.dead)

    # ---------------------------------------------------------------- internals

    def _condition(self) -> asyncio.Condition:
        if self._cond is None:
            self._cond = asyncio.Condition()
        return self._cond

    async def _acquire(self, extra_args: tuple[str, ...]) -> _Browser:
        if self._closed:
            raise BrowserUnavailable("the browser pool is closed")
        cond = self._condition()
        settings = self.settings
        dedicated = bool(extra_args)
        async with cond:
            while True:
                self._browsers = [b for b in self._browsers if not b.dead]
                if not dedicated:
                    for b in self._browsers:
                        if not b.dedicated and b.active < settings.calls_per_browser:
                            b.active += 1
                            return b
                    if self._launching_shared:  # a browser with room is on its way
                        await cond.wait()
                        continue
                if len(self._browsers) + self._launching < max(1, settings.max_browsers):
                    self._launching += 1
                    self._launching_shared += not dedicated
                    break
                await cond.wait()
        try:
            browser = await self._launch(extra_args)
        except BaseException:
            async with cond:
                self._launching -= 1
                self._launching_shared -= not dedicated
                cond.notify_all()
            raise
        async with cond:
            self._launching -= 1
            self._launching_shared -= not dedicated
            browser.active = 1
            self._browsers.append(browser)
            cond.notify_all()
        return browser

    async def _release(self, browser: _Browser) -> None:
        cond = self._condition()
        async with cond:
            browser.active -= 1
            close = browser.dedicated or browser.dead or self._closed
            if close and browser in self._browsers:
                self._browsers.remove(browser)
            cond.notify_all()
        if close and browser.active <= 0:
            await self._close_browser(browser)

    async def _start_playwright(self) -> Any:
        if self._playwright is None:
            try:
                from playwright.async_api import async_playwright
            except ImportError as exc:
                raise BrowserUnavailable(str(MissingExtra("browser", "the browser caller", exc))) from exc
            cm = async_playwright()
            try:
                # Playwright's driver (and the Chromiums it launches) must not inherit a
                # caller worker loop's real-time priority (harness.priority).
                with children_at_normal_priority():
                    self._playwright = await asyncio.wait_for(cm.__aenter__(), self.settings.launch_timeout_s)
            except Exception as exc:
                raise BrowserUnavailable(f"cannot start Playwright: {_short(exc)}") from exc
            self._playwright_cm = cm
        return self._playwright

    def _find(self, playwright: Any) -> ChromiumInstall:
        if self._install is None:
            try:
                self._install = find_chromium(
                    self.settings.chromium, playwright_path=lambda: str(playwright.chromium.executable_path)
                )
            except ChromiumNotFound as exc:
                raise BrowserUnavailable(str(exc)) from exc
        return self._install

    async def _launch(self, extra_args: tuple[str, ...]) -> _Browser:
        playwright = await self._start_playwright()
        install = self._find(playwright)
        marker = f"{self._pool_id}-{next(self._ids)}"
        args = [*LAUNCH_ARGS, *self.settings.extra_args, *extra_args, MARKER_SWITCH + marker]
        try:
            handle = await playwright.chromium.launch(
                executable_path=install.path, args=args, headless=True,
                timeout=self.settings.launch_timeout_s * 1000,
            )
        except Exception as exc:
            raise BrowserUnavailable(f"cannot launch {install.path}: {_short(exc)}") from exc
        self.launches += 1
        raised = await asyncio.to_thread(_raise_browser, marker)
        browser = _Browser(handle=handle, marker=marker, version=str(handle.version), dedicated=bool(extra_args))
        handle.on("disconnected", lambda _b: self._on_disconnected(browser))
        log.debug("launched Chromium %s (%s) as %s; %d threads raised %d in niceness", browser.version,
                  install.path, marker, raised, BROWSER_NICENESS_RAISE)
        return browser

    def _on_disconnected(self, browser: _Browser) -> None:
        browser.dead = True
        browser.lost.set()
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # Playwright reports from its own loop; nothing waits then
            return
        if self._cond is not None:
            task = loop.create_task(self._notify())
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _notify(self) -> None:
        cond = self._condition()
        async with cond:
            cond.notify_all()

    async def _close_browser(self, browser: _Browser) -> None:
        if browser.dead:
            return
        browser.dead = True
        with contextlib.suppress(Exception):
            await asyncio.wait_for(browser.handle.close(), self.settings.close_timeout_s)

    @staticmethod
    async def _relay(source: asyncio.Event, target: asyncio.Event) -> None:
        await source.wait()
        target.set()


def _short(exc: BaseException) -> str:
    """The first line of a Playwright error (they carry long call logs)."""
    text = str(exc).strip() or type(exc).__name__
    return text.splitlines()[0][:300]


BROWSER_NICENESS_RAISE = 5
"""The browser is the caller: 5 nice levels above the endpoint and the scoring pool
(about 3x their CPU share when both want a core; ``procs``)."""


def _raise_browser(marker: str) -> int:
    pid = find_browser_pid(marker)
    return 0 if pid is None else raise_niceness(process_tree(pid), BROWSER_NICENESS_RAISE)

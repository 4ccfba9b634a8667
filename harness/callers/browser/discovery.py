"""Finding a Chromium to drive, and the flags it needs for loopback calls.

Order: an explicit path (setting or ``VOICE_HARNESS_CHROMIUM``), then a system
``chromium``/``google-chrome`` (Debian's package is what CI installs), then
Playwright's own download. An explicit path that is not an executable is an error, not
a reason to fall back: a run configured for one browser must not silently measure
another. ``VOICE_HARNESS_CHROMIUM_NO_FALLBACK=1`` also turns the search off, so a
machine's lack of a browser can be reproduced where one is installed.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

CHROMIUM_ENV = "VOICE_HARNESS_CHROMIUM"
NO_FALLBACK_ENV = "VOICE_HARNESS_CHROMIUM_NO_FALLBACK"
SYSTEM_NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")

INSTALL_HINT = (
    "install one with `sudo apt-get install chromium` (Debian/Ubuntu) or "
    "`playwright install chromium`, or point VOICE_HARNESS_CHROMIUM at a Chromium/Chrome executable"
)

LAUNCH_ARGS: tuple[str, ...] = (
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-default-apps",
    "--disable-extensions",
    "--autoplay-policy=no-user-gesture-required",
    # Timers and audio of a page must not be throttled when Chromium thinks it is hidden.
    "--disable-background-timer-throttling",
    "--disable-renderer-backgrounding",
    "--disable-backgrounding-occluded-windows",
    # Loopback calls: gather 127.0.0.1 and show real addresses instead of mDNS names.
    "--allow-loopback-in-peer-connection",
    "--disable-features=WebRtcHideLocalIpsWithMdns",
)
"""Flags every harness browser is launched with (known to work headless on Debian)."""


class ChromiumNotFound(Exception):
    """No usable browser; the message says what was tried and how to install one."""


@dataclass(frozen=True, slots=True, kw_only=True)
class ChromiumInstall:
    path: str
    source: str
    """settings | env | system | playwright"""


def _executable(path: str) -> bool:
    p = Path(path)
    return p.is_file() and os.access(p, os.X_OK)


def find_chromium(
    explicit: str | None = None,
    *,
    env: Mapping[str, str] | None = None,
    playwright_path: Callable[[], str | None] | None = None,
) -> ChromiumInstall:
    """The browser to launch; ``ChromiumNotFound`` with an install hint if there is none."""
    environ = os.environ if env is None else env
    for value, source, what in (
        (explicit, "settings", "the browser caller's chromium setting"),
        (environ.get(CHROMIUM_ENV), "env", CHROMIUM_ENV),
    ):
        if value:
            if _executable(value):
                return ChromiumInstall(path=value, source=source)
            raise ChromiumNotFound(f"{what} is {value!r}, which is not an executable file; {INSTALL_HINT}")
    if environ.get(NO_FALLBACK_ENV, "").strip() not in ("", "0"):
        raise ChromiumNotFound(f"no browser configured and {NO_FALLBACK_ENV} forbids searching; {INSTALL_HINT}")
    for name in SYSTEM_NAMES:
        found = shutil.which(name, path=environ.get("PATH"))
        if found and _executable(found):
            return ChromiumInstall(path=found, source="system")
    if playwright_path is not None:
        try:
            candidate = playwright_path()
        except Exception:  # Playwright's lookup is best effort
            candidate = None
        if candidate and _executable(candidate):
            return ChromiumInstall(path=candidate, source="playwright")
    tried = ", ".join(SYSTEM_NAMES)
    raise ChromiumNotFound(f"no Chromium found (tried {CHROMIUM_ENV}, {tried} and Playwright's own); {INSTALL_HINT}")

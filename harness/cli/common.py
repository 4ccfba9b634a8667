"""What the commands share: the two consoles, ``-v``/``-q``, the caller choice, usage errors.

Human output goes to stderr, so stdout holds nothing but what a program asked for
(``--json``); ``-q`` silences the human output but never an error message, which
always says why the exit code is 2.
"""

from __future__ import annotations

import logging
import sys
from enum import StrEnum
from typing import Annotated, NoReturn

import typer
from rich.markup import escape

from harness.console import make_console
from harness.exit_codes import EXIT_USAGE

__all__ = [
    "DETECTOR", "CallerChoice", "CallerOption", "JsonOption", "SpeechEndOption", "console", "errors",
    "set_verbosity", "speech_end_level", "usage_error",
]

console = make_console(stderr=True)
"""Progress, tables and notes (on stderr; silenced by ``-q``)."""
errors = make_console(stderr=True)
"""Error messages: printed whatever the verbosity."""


class CallerChoice(StrEnum):
    """The callers a user picks (the WebSocket caller is picked for WebSocket dialects)."""

    AIORTC = "aiortc"
    BROWSER = "browser"


CallerOption = Annotated[list[CallerChoice], typer.Option(
    "--caller", help="Caller (repeatable): aiortc (Python WebRTC) and/or browser (headless Chromium).")]
JsonOption = Annotated[bool, typer.Option(
    "--json", help="Print the summary and verdicts as one JSON object on stdout (the console "
                   "stays on stderr).")]

DETECTOR = "detector"
"""``--speech-end-dbfs detector``: the caller's speech ends where the corpus detector let go."""
SpeechEndOption = Annotated[str | None, typer.Option(
    "--speech-end-dbfs", metavar="LEVEL",
    help="Where the caller's speech ends (turn latency counts from it): the last sample whose 2 ms "
         "envelope is at or above LEVEL dBFS (-90..0, e.g. -40), or 'detector' for the detector's "
         "release (run's default). docs/segmentation.md.")]

LOG_FORMAT = "%(levelname)s %(name)s: %(message)s"


def speech_end_level(text: str) -> float | None:
    """``--speech-end-dbfs``'s value: a level in dBFS, or ``None`` for ``detector``.

    ``ValueError`` names the option and the accepted values, for a usage error.
    """
    from harness.analysis.speech_end import MAX_LEVEL_DBFS, MIN_LEVEL_DBFS, check_caller_end_dbfs

    cleaned = text.strip()
    if cleaned.lower() == DETECTOR:
        return None
    expected = (f"--speech-end-dbfs takes a level in dBFS from {MIN_LEVEL_DBFS:g} to {MAX_LEVEL_DBFS:g} "
                f"(e.g. -40) or '{DETECTOR}', got {text!r}")
    try:
        level = float(cleaned.removesuffix("dBFS").removesuffix("dbfs").strip())
        check_caller_end_dbfs(level)
    except ValueError:
        raise ValueError(expected) from None
    return level


def set_verbosity(verbose: int, quiet: bool) -> None:
    """``-v`` logs INFO (``-vv`` DEBUG) to stderr, caller workers included (they take the
    ``harness`` logger's level); ``-q`` silences the console and warnings."""
    console.quiet = quiet
    if verbose:
        level = logging.DEBUG if verbose > 1 else logging.INFO
        root = logging.getLogger()
        if not root.handlers:
            handler = logging.StreamHandler(sys.stderr)
            handler.setFormatter(logging.Formatter(LOG_FORMAT))
            root.addHandler(handler)
        root.setLevel(level)
        logging.getLogger("harness").setLevel(level)
    else:  # each invocation starts from the default (commands also run in-process, in tests)
        logging.getLogger("harness").setLevel(logging.ERROR if quiet else logging.NOTSET)


def usage_error(message: str) -> NoReturn:
    """Exit 2 with the message on stderr (also under ``-q``)."""
    errors.print(f"[red]error:[/red] {escape(message)}")
    raise typer.Exit(EXIT_USAGE)

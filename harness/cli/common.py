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

__all__ = ["CallerChoice", "CallerOption", "JsonOption", "console", "errors", "set_verbosity", "usage_error"]

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

LOG_FORMAT = "%(levelname)s %(name)s: %(message)s"


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

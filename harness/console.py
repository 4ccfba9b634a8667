"""The harness's consoles: every byte printed passes the redactor.

Console text carries what endpoints said (failure reasons, error messages), paths and
tags; a key echoed by a hostile endpoint must not reach a CI log. Two layers: strings
handed to ``print`` are redacted before rich lays them out (so a key cannot be split
by line wrapping), and the stream underneath redacts whatever is written (tables and
progress bars included). Text from outside must still be markup-escaped by the caller
(``rich.markup.escape``); redaction does not make ``[/x]`` safe.
"""

from __future__ import annotations

import io
import sys
from typing import Any, TextIO, cast

from rich.console import Console
from rich.text import Text

from harness.redact import SecretRedactor

__all__ = ["RedactingConsole", "RedactingStream", "make_console"]


class RedactingStream(io.TextIOBase):
    """Writes to the current ``sys.stdout``/``sys.stderr`` (looked up at each write, so a
    test runner's capture works), redacted with the environment's current secrets."""

    def __init__(self, *, stderr: bool, redactor: SecretRedactor | None = None) -> None:
        super().__init__()
        self._stderr = stderr
        self._redactor = redactor or SecretRedactor()

    @property
    def target(self) -> TextIO:
        return sys.stderr if self._stderr else sys.stdout

    def write(self, text: str) -> int:
        self._redactor.add_environment()
        self.target.write(self._redactor.redact(text))
        return len(text)

    def flush(self) -> None:
        self.target.flush()

    def isatty(self) -> bool:
        return self.target.isatty()

    def fileno(self) -> int:
        return self.target.fileno()

    @property
    def encoding(self) -> str:  # type: ignore[override]  # rich reads it to pick box characters
        return getattr(self.target, "encoding", None) or "utf-8"

    @property
    def redactor(self) -> SecretRedactor:
        return self._redactor


class RedactingConsole(Console):
    """A rich ``Console`` whose string arguments are redacted before layout."""

    def __init__(self, *, stream: RedactingStream, **kwargs: Any) -> None:
        super().__init__(file=cast(TextIO, stream), **kwargs)  # a TextIOBase is a text file
        self._stream = stream

    def _clean(self, obj: Any) -> Any:
        redactor = self._stream.redactor
        if isinstance(obj, str):
            return redactor.redact(obj)
        if isinstance(obj, Text):
            cleaned = redactor.redact(obj.plain)
            return obj if cleaned == obj.plain else Text(cleaned, style=obj.style)
        return obj

    def print(self, *objects: Any, **kwargs: Any) -> None:
        self._stream.redactor.add_environment()
        super().print(*(self._clean(o) for o in objects), **kwargs)

    def log(self, *objects: Any, **kwargs: Any) -> None:
        self._stream.redactor.add_environment()
        super().log(*(self._clean(o) for o in objects), **kwargs)


def make_console(*, stderr: bool = False, width: int | None = None, **kwargs: Any) -> RedactingConsole:
    """A redacting console on stdout or stderr; ``width`` defaults to the terminal's, or
    160 columns when the stream is not a terminal (CI logs)."""
    stream = RedactingStream(stderr=stderr)
    if width is None and not stream.isatty():
        width = 160
    return RedactingConsole(stream=stream, width=width, **kwargs)

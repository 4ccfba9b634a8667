"""Reading a file the user named, without trusting what kind of file it is or how big.

Every input file (scenario YAML, SLO and endpoints TOML, corpus transcripts, a run
folder's JSON) is read through :func:`read_regular_file`: a FIFO or a device given as a
path would block ``read()`` forever or never end, and a multi-gigabyte file where a page
of text is expected would exhaust memory. Both become an ``OSError`` whose ``strerror``
says what is wrong, so the existing "cannot read file: ..." messages name it.
"""

from __future__ import annotations

import errno
import os
import stat
import tomllib
from pathlib import Path
from typing import Any, BinaryIO, TypeVar

T = TypeVar("T")

__all__ = [
    "MAX_TOML_DEPTH",
    "FileTooLarge",
    "NotARegularFile",
    "TomlInputError",
    "open_regular",
    "parse_toml",
    "read_regular_file",
    "read_regular_text",
    "utf8_safe",
]


class NotARegularFile(OSError):
    """A FIFO, socket, device or directory where a file's content was expected."""


class FileTooLarge(OSError):
    """A file larger than the reader's limit for that kind of input."""


def _kind(mode: int) -> str:
    for test, name in (
        (stat.S_ISDIR, "a directory"),
        (stat.S_ISFIFO, "a FIFO (named pipe)"),
        (stat.S_ISSOCK, "a socket"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
    ):
        if test(mode):
            return name
    return "not a regular file"


def open_regular(path: Path) -> BinaryIO:
    """``path`` opened for reading if it is a regular file (checked on the descriptor);
    for streaming reads of files with no size limit (checksums of audio)."""
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0)
    fd = os.open(path, flags)
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            raise NotARegularFile(errno.EINVAL, f"is {_kind(mode)}, not a regular file")
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def read_regular_file(path: Path, *, max_bytes: int) -> bytes:
    """The bytes of ``path`` if it is a regular file of at most ``max_bytes``.

    The file is opened non-blocking, so a FIFO without a writer does not hang the open,
    and its type is checked on the open descriptor (no race with a swapped path).
    """
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0)
    fd = os.open(path, flags)
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise NotARegularFile(errno.EINVAL, f"is {_kind(info.st_mode)}, not a regular file")
        if info.st_size > max_bytes:
            raise FileTooLarge(
                errno.EFBIG, f"is {info.st_size} bytes; the limit for this file is {max_bytes}"
            )
        chunks: list[bytes] = []
        remaining = max_bytes + 1  # one byte more than allowed tells a file that grew
        while remaining > 0:
            chunk = os.read(fd, min(remaining, 1 << 20))
            if not chunk:
                break
            chunks.append(chunk)
            remaining -= len(chunk)
        data = b"".join(chunks)
        if len(data) > max_bytes:
            raise FileTooLarge(errno.EFBIG, f"is larger than the limit for this file ({max_bytes} bytes)")
        return data
    finally:
        os.close(fd)


def read_regular_text(path: Path, *, max_bytes: int) -> str:
    """:func:`read_regular_file` decoded as UTF-8 (``UnicodeDecodeError`` if it is not)."""
    return read_regular_file(path, max_bytes=max_bytes).decode("utf-8")


def utf8_safe(obj: T) -> T:
    """``obj`` (a JSON-like value) with every string encodable as UTF-8.

    ``json.loads`` turns ``"\\ud800"`` from an endpoint's message into a lone surrogate,
    which no UTF-8 file can hold: writing it would fail mid-run. Such characters become
    ``?``; every other string is returned as it is.
    """
    if isinstance(obj, str):
        try:
            obj.encode("utf-8")
        except UnicodeEncodeError:
            return obj.encode("utf-8", "replace").decode("utf-8")  # type: ignore[return-value]
        return obj
    if isinstance(obj, list):
        return [utf8_safe(v) for v in obj]  # type: ignore[return-value]
    if isinstance(obj, dict):
        return {utf8_safe(k): utf8_safe(v) for k, v in obj.items()}  # type: ignore[return-value]
    return obj


MAX_TOML_DEPTH = 32
"""No harness TOML file (endpoints, SLOs) nests more than a few tables deep."""


class TomlInputError(ValueError):
    """TOML that cannot be used: syntax, a number too long to convert, too deep a nesting."""


def _depth(obj: object, limit: int) -> int:
    """Nesting depth of a parsed value, walked without recursion (it may be very deep)."""
    deepest = 0
    stack: list[tuple[object, int]] = [(obj, 0)]
    while stack:
        value, depth = stack.pop()
        deepest = max(deepest, depth)
        if deepest > limit:
            return deepest
        if isinstance(value, dict):
            stack.extend((v, depth + 1) for v in value.values())
        elif isinstance(value, list):
            stack.extend((v, depth + 1) for v in value)
    return deepest


def parse_toml(text: str, *, max_depth: int = MAX_TOML_DEPTH) -> dict[str, Any]:
    """``tomllib.loads`` with its other failures (RecursionError on deep nesting,
    ValueError on a 5,000-digit integer) and an excessive nesting depth as one error."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise TomlInputError(f"TOML syntax error: {exc}") from None
    except RecursionError:
        raise TomlInputError(f"nested too deeply (at most {max_depth} levels)") from None
    except ValueError as exc:  # int() refusing thousands of digits
        raise TomlInputError(f"invalid value: {exc}") from None
    if _depth(data, max_depth) > max_depth:
        raise TomlInputError(f"nested too deeply (at most {max_depth} levels)")
    return data

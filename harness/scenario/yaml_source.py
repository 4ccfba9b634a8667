"""Read a YAML file into plain data plus the line of every key, for error messages.

PyYAML's ``safe_load`` forgets where things were; composing the node tree first keeps
the marks, so a validation error found later can still point at a line. Duplicate
keys, which PyYAML silently resolves to the last one, are reported here because a
scenario with two ``timeout_ms`` is a typo, never an intent.

The file is input from anyone, so before PyYAML builds values from the tree, what its
constructors would crash on is refused with a line: a NUL byte, an explicit tag whose
text is not of its type (``!!int x``, ``!!bool x``, ``!!timestamp x``), a number of
thousands of digits, nesting deeper than any scenario needs. Only regular files are
read (a FIFO would block forever).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from harness.safe_io import read_regular_text
from harness.scenario.errors import Problem

MAX_FILE_BYTES = 1_000_000
"""A scenario is a page of text; anything larger is the wrong file."""
MAX_DEPTH = 32
"""A scenario nests five levels deep (steps, item, kind, expect, contains)."""
MAX_NUMBER_CHARS = 40
"""Digits of a number: far past any millisecond count, far below Python's 4300-digit limit."""

_TAG = "tag:yaml.org,2002:"
_SCALAR_TYPES: dict[str, str] = {
    f"{_TAG}{name}": name for name in ("int", "float", "bool", "null", "timestamp")
}
"""Core tags whose constructors parse the text (and raise on text of the wrong shape)."""
_VALID_TEXT: dict[str, re.Pattern[str]] = {}
for _first, _resolvers in yaml.resolver.Resolver.yaml_implicit_resolvers.items():
    for _tag, _pattern in _resolvers:
        _VALID_TEXT.setdefault(_tag, _pattern)

Loc = tuple[str | int, ...]


@dataclass(slots=True)
class YamlDocument:
    data: object
    lines: dict[Loc, int] = field(default_factory=dict)
    """Path of a key (or list item) -> its 1-based line."""
    duplicates: list[tuple[Loc, int]] = field(default_factory=list)
    """(path, line) of repeated keys: the data is still usable, the file is not."""

    def line_of(self, loc: Loc) -> int | None:
        """Line of the deepest known prefix of ``loc`` (missing fields point at their parent)."""
        for end in range(len(loc), -1, -1):
            line = self.lines.get(loc[:end])
            if line is not None:
                return line
        return None


class YamlReadError(Exception):
    def __init__(self, problem: Problem) -> None:
        super().__init__(problem.message)
        self.problem = problem


def read_yaml(path: Path) -> YamlDocument:
    """Parse one YAML document; raise ``YamlReadError`` for unreadable or invalid files."""
    try:
        text = read_regular_text(path, max_bytes=MAX_FILE_BYTES)
    except FileNotFoundError:
        raise YamlReadError(Problem(message="no such file")) from None
    except IsADirectoryError:
        raise YamlReadError(Problem(message="is a directory, not a scenario file")) from None
    except UnicodeDecodeError as exc:
        raise YamlReadError(
            Problem(message=f"not UTF-8 text ({exc.reason} at byte {exc.start})")
        ) from None
    except OSError as exc:
        raise YamlReadError(Problem(message=f"cannot read file: {exc.strerror or exc}")) from None
    return parse_yaml(text)


def parse_yaml(text: str) -> YamlDocument:
    """One YAML document from text, with its key lines; ``YamlReadError`` names the line."""
    if "\x00" in text:
        line = text.count("\n", 0, text.index("\x00")) + 1
        raise YamlReadError(Problem(message="contains a NUL byte (not a text file?)", line=line))
    try:
        loader = yaml.SafeLoader(text)
    except yaml.YAMLError as exc:  # the reader refuses unprintable characters up front
        raise YamlReadError(Problem(message=f"YAML syntax error: {exc}")) from None
    try:
        node = loader.get_single_node()
        if node is None:
            raise YamlReadError(Problem(message="file is empty"))
        doc = YamlDocument(data=None)
        _index(node, (), doc, set(), 0)
        doc.data = loader.construct_document(node)
        return doc
    except RecursionError:
        raise YamlReadError(
            Problem(message=f"nested too deeply (a scenario needs at most {MAX_DEPTH} levels)")
        ) from None
    except (ValueError, TypeError, KeyError, AttributeError, OverflowError) as exc:
        # A constructor's own failure on a value _index did not foresee: still a clear error.
        raise YamlReadError(Problem(message=f"invalid value: {exc}")) from None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        what = " ".join(p for p in (exc.context, exc.problem) if p) or "invalid YAML"
        raise YamlReadError(
            Problem(
                message=f"YAML syntax error: {what}",
                line=mark.line + 1 if mark else None,
                column=mark.column + 1 if mark else None,
            )
        ) from None
    except yaml.YAMLError as exc:
        raise YamlReadError(Problem(message=f"YAML syntax error: {exc}")) from None
    finally:
        loader.dispose()


def _plain_float(kind: str, text: str) -> bool:
    """``!!float 1`` is a float PyYAML reads though its implicit pattern wants a dot."""
    if kind != "float":
        return False
    try:
        float(text.replace("_", ""))
    except ValueError:
        return False
    return True


def _check_scalar(node: yaml.ScalarNode) -> None:
    """Refuse text its (explicit) tag's constructor would crash on, with the line."""
    kind = _SCALAR_TYPES.get(node.tag)
    if kind is None:
        return
    text = str(node.value)
    line = node.start_mark.line + 1
    pattern = _VALID_TEXT.get(node.tag)
    if pattern is not None and not pattern.match(text) and not _plain_float(kind, text):
        raise YamlReadError(Problem(message=f"{text[:40]!r} is not a valid !!{kind}", line=line))
    if kind in ("int", "float") and len(text) > MAX_NUMBER_CHARS:
        raise YamlReadError(Problem(
            message=f"number of {len(text)} characters; at most {MAX_NUMBER_CHARS}", line=line))


def _index(node: yaml.Node, loc: Loc, doc: YamlDocument, seen: set[int], depth: int) -> None:
    if depth > MAX_DEPTH:
        raise YamlReadError(Problem(
            message=f"nested more than {MAX_DEPTH} levels deep", line=node.start_mark.line + 1))
    # Aliases share node objects; visiting each once keeps a "billion laughs" file linear.
    if id(node) in seen:
        return
    seen.add(id(node))
    if isinstance(node, yaml.ScalarNode):
        _check_scalar(node)
    elif isinstance(node, yaml.MappingNode):
        keys: set[str] = set()
        for key_node, value_node in node.value:
            key = str(key_node.value) if isinstance(key_node, yaml.ScalarNode) else "?"
            line = key_node.start_mark.line + 1
            if key in keys:
                doc.duplicates.append(((*loc, key), line))
            keys.add(key)
            doc.lines.setdefault((*loc, key), line)
            _index(key_node, (*loc, key), doc, seen, depth + 1)
            _index(value_node, (*loc, key), doc, seen, depth + 1)
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            doc.lines.setdefault((*loc, i), item.start_mark.line + 1)
            _index(item, (*loc, i), doc, seen, depth + 1)

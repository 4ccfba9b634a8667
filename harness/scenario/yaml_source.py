"""Read a YAML file into plain data plus the line of every key, for error messages.

PyYAML's ``safe_load`` forgets where things were; composing the node tree first keeps
the marks, so a validation error found later can still point at a line. Duplicate
keys, which PyYAML silently resolves to the last one, are reported here because a
scenario with two ``timeout_ms`` is a typo, never an intent.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import yaml

from harness.scenario.errors import Problem

MAX_FILE_BYTES = 1_000_000
"""A scenario is a page of text; anything larger is the wrong file."""

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
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            raise YamlReadError(
                Problem(message=f"file is {size} bytes; the limit is {MAX_FILE_BYTES}")
            )
        text = path.read_text(encoding="utf-8")
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

    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            raise YamlReadError(Problem(message="file is empty"))
        doc = YamlDocument(data=None)
        _index(node, (), doc, set())
        doc.data = loader.construct_document(node)
        return doc
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


def _index(node: yaml.Node, loc: Loc, doc: YamlDocument, seen: set[int]) -> None:
    # Aliases share node objects; visiting each once keeps a "billion laughs" file linear.
    if id(node) in seen:
        return
    seen.add(id(node))
    if isinstance(node, yaml.MappingNode):
        keys: set[str] = set()
        for key_node, value_node in node.value:
            key = str(key_node.value) if isinstance(key_node, yaml.ScalarNode) else "?"
            line = key_node.start_mark.line + 1
            if key in keys:
                doc.duplicates.append(((*loc, key), line))
            keys.add(key)
            doc.lines.setdefault((*loc, key), line)
            _index(value_node, (*loc, key), doc, seen)
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            doc.lines.setdefault((*loc, i), item.start_mark.line + 1)
            _index(item, (*loc, i), doc, seen)

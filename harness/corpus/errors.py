"""Errors of the corpus stage.

Every one carries a message that names the file (and item or field) at fault, so the
CLI and the runner can print it as it is instead of a traceback.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import ValidationError


class CorpusError(Exception):
    """Anything wrong with a corpus, its script, its manifest or its audio."""


class ScriptError(CorpusError):
    """The corpus script (YAML) is missing or invalid."""


class ManifestError(CorpusError):
    """``manifest.json`` is missing, unreadable or does not match the schema."""


class CorpusBuildError(CorpusError):
    """Synthesis or measurement of an item failed."""


class CorpusImportError(CorpusError):
    """A folder of recordings could not be imported."""


class MissingCorpusItem(CorpusError, KeyError):
    """A scenario (or a caller) asked for an id the corpus does not have.

    A ``KeyError`` too, so ``corpus.get`` behaves like a mapping lookup.
    """

    def __init__(self, item_id: str, corpus_root: Path) -> None:
        self.item_id = item_id
        self.corpus_root = corpus_root
        super().__init__(f"corpus item {item_id!r} not found in corpus at {corpus_root}")

    def __str__(self) -> str:
        # KeyError.__str__ would repr() the message and add quotes around it.
        return str(self.args[0])


def describe_validation_error(source: Path, error: ValidationError, data: object) -> str:
    """One line per problem, naming the file, the field path and the item id if known.

    Pydantic's own message names fields by position only (``items.3.tags``); an author
    fixing a script wants ``items[3] (id 'q_time')``.
    """
    lines = [f"{source}: invalid ({error.error_count()} problem(s))"]
    for problem in error.errors(include_url=False):
        loc = problem["loc"]
        where = _describe_loc(loc, data)
        lines.append(f"  {where}: {problem['msg']}")
    return "\n".join(lines)


def _describe_loc(loc: tuple[int | str, ...], data: object) -> str:
    parts: list[str] = []
    node = data
    for key in loc:
        if isinstance(key, int):
            parts.append(f"[{key}]")
            node = node[key] if isinstance(node, list) and 0 <= key < len(node) else None
            if isinstance(node, dict) and isinstance(node.get("id"), str):
                parts.append(f" (id {node['id']!r})")
        else:
            parts.append(f".{key}" if parts else key)
            node = node.get(key) if isinstance(node, dict) else None
    return "".join(parts) or "(top level)"

"""What every record shares: the schema version, the JSON value type, the decorator."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypeVar, dataclass_transform

from typing_extensions import TypeAliasType

__all__ = ["SCHEMA_VERSION", "JSONScalar", "JSONValue", "record"]

SCHEMA_VERSION = 1
"""Written into every file the harness produces, so readers can refuse what they do not know."""

JSONScalar = str | int | float | bool | None
JSONValue = TypeAliasType(  # a named alias, so pydantic and mypy can follow the recursion
    "JSONValue", "JSONScalar | list[JSONValue] | dict[str, JSONValue]"
)

_T = TypeVar("_T")


@dataclass_transform(frozen_default=True, kw_only_default=True, field_specifiers=(field,))
def record(cls: type[_T]) -> type[_T]:
    """Every record: frozen (stages never mutate each other's output), slotted, keyword-only."""
    wrap: Callable[[type[_T]], type[_T]] = dataclass(frozen=True, slots=True, kw_only=True)
    return wrap(cls)

"""Records <-> JSON, through pydantic TypeAdapters built from the records themselves.

The records stay plain frozen dataclasses; the adapter derives the JSON shape from
their type hints, so a field added to ``harness.records`` is written and read back
without touching this module. Every object written carries ``schema_version`` at its
top level (records that lack the field get it added) and reading refuses versions it
does not know, so an old harness never misreads a newer run folder.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import fields, is_dataclass
from typing import Any, TypeVar, cast

from pydantic import JsonValue, TypeAdapter, ValidationError

from harness.records import SCHEMA_VERSION

T = TypeVar("T")

_NON_FINITE = {math.inf: "Infinity", -math.inf: "-Infinity"}


class SerializationError(Exception):
    """A JSON object that is not a valid record of the requested type (or version)."""


_ADAPTERS: dict[type[Any], TypeAdapter[Any]] = {}


def _adapter(cls: type[Any]) -> TypeAdapter[Any]:
    adapter = _ADAPTERS.get(cls)
    if adapter is None:
        adapter = _ADAPTERS[cls] = _build_adapter(cls)
    return adapter


def _build_adapter(cls: type[Any]) -> TypeAdapter[Any]:
    # records.JSONValue is an implicit recursive alias, on which pydantic's schema
    # builder recurses forever. Pydantic resolves a dataclass's string annotations
    # with the namespace of the frame creating the adapter before the module's, so
    # binding the name here substitutes pydantic's own (named, recursive) JsonValue.
    JSONValue = JsonValue  # noqa: F841
    return TypeAdapter(cls)


def _has_schema_version(cls: type[Any]) -> bool:
    return is_dataclass(cls) and any(f.name == "schema_version" for f in fields(cls))


def _finite(value: Any) -> Any:
    """NaN and infinities as the strings pydantic reads back, so the output is strict JSON."""
    if isinstance(value, float) and not math.isfinite(value):
        return "NaN" if math.isnan(value) else _NON_FINITE[value]
    if isinstance(value, list):
        return [_finite(v) for v in value]
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    return value


def to_json_obj(record: object) -> dict[str, Any]:
    """A JSON-ready dict of a record (dataclass), ``schema_version`` first."""
    obj = _finite(_adapter(type(record)).dump_python(record, mode="json"))
    if not isinstance(obj, dict):
        raise TypeError(f"{type(record).__name__} does not serialise to a JSON object")
    return {"schema_version": obj.pop("schema_version", SCHEMA_VERSION), **obj}


def from_json_obj(cls: type[T], obj: Mapping[str, Any]) -> T:
    """The record of type ``cls`` that ``obj`` describes; ``SerializationError`` if it does not."""
    if not isinstance(obj, Mapping):
        raise SerializationError(
            f"expected a JSON object for {cls.__name__}, got {type(obj).__name__}"
        )
    version = obj.get("schema_version")
    if version != SCHEMA_VERSION:
        raise SerializationError(
            f"{cls.__name__}: schema_version {version!r} is not supported "
            f"(this harness reads version {SCHEMA_VERSION})"
        )
    data = dict(obj)
    if not _has_schema_version(cls):
        del data["schema_version"]
    try:
        return cast(T, _adapter(cls).validate_python(data))
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or '(top level)'}: {err['msg']}"
            for err in exc.errors(include_url=False)
        )
        raise SerializationError(f"invalid {cls.__name__}: {problems}") from None


def to_json(record: object, *, indent: int | None = None) -> str:
    """Strict JSON text (no NaN literals) of a record."""
    return json.dumps(to_json_obj(record), indent=indent, ensure_ascii=False, allow_nan=False)


def from_json(cls: type[T], text: str | bytes) -> T:
    try:
        obj = json.loads(text)
        return from_json_obj(cls, obj)
    except RecursionError:
        raise SerializationError("JSON nested too deeply") from None
    except ValueError as exc:
        raise SerializationError(f"not JSON: {exc}") from None

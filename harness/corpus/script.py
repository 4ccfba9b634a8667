"""The text script a built-in corpus is generated from (YAML), validated at the edge.

The script is the whole definition of a synthetic corpus: what each item says, how it
is assembled (one phrase, phrases joined by exact pauses, or generated noise) and its
tags. Its bytes are part of the build's cache key, so editing it triggers a rebuild.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from harness.corpus.errors import ScriptError, describe_validation_error
from harness.safe_io import read_regular_file

SCRIPT_SCHEMA_VERSION = 1

ID_PATTERN = r"^[a-z0-9][a-z0-9_\-]*$"
MAX_SCRIPT_BYTES = 1_000_000
"""A corpus script is a few pages of YAML."""
"""Built-in ids double as file names and scenario references: keep them plain."""

TAG_PATTERN = re.compile(r"^[a-z0-9][a-z0-9_\-]*$")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class VoiceSettings(_Strict):
    backend: Literal["auto", "piper", "espeak"] = "auto"
    """``auto``: Piper with the bundled voice, espeak-ng only if Piper cannot load."""
    length_scale: float = Field(default=1.0, gt=0.25, lt=4.0)
    """Piper speaking rate (> 1 is slower)."""
    espeak_voice: str = "en-us"
    espeak_speed_wpm: int = Field(default=160, ge=80, le=450)


class NoiseSpec(_Strict):
    kind: Literal["pink", "cough", "knock"]
    seed: int = Field(default=0, ge=0)
    duration_ms: int = Field(default=400, ge=20, le=10_000)
    """Length of a pink-noise burst (ignored by the other kinds)."""
    count: int = Field(default=1, ge=1, le=10)
    """Number of coughs or knocks."""
    peak_dbfs: float = Field(default=-6.0, ge=-60.0, le=0.0)


class ScriptItem(_Strict):
    """One item: exactly one of ``text``, ``parts`` (+ ``pause_ms``) or ``noise``."""

    id: str = Field(pattern=ID_PATTERN, max_length=80)
    text: str | None = Field(default=None, min_length=1)
    """What is said (the WER reference); synthesised as one phrase."""
    say: str | None = Field(default=None, min_length=1)
    """What Piper is given instead of ``text`` (e.g. ``[[ phonemes ]]`` for "mm-hmm")."""
    parts: tuple[str, ...] | None = Field(default=None, min_length=2)
    """Phrases synthesised separately and joined by ``pause_ms`` of digital silence."""
    pause_ms: int | None = Field(default=None, ge=1, le=10_000)
    noise: NoiseSpec | None = None
    tags: tuple[str, ...] = ()

    @field_validator("tags")
    @classmethod
    def _plain_tags(cls, tags: tuple[str, ...]) -> tuple[str, ...]:
        for tag in tags:
            if not TAG_PATTERN.match(tag):
                raise ValueError(f"tag {tag!r} must be lower-case letters, digits, '_' or '-'")
        if len(set(tags)) != len(tags):
            raise ValueError("tags repeat")
        return tags

    @field_validator("parts")
    @classmethod
    def _non_empty_parts(cls, parts: tuple[str, ...] | None) -> tuple[str, ...] | None:
        if parts is not None and any(not p.strip() for p in parts):
            raise ValueError("every part must contain text")
        return parts

    @model_validator(mode="after")
    def _one_kind(self) -> ScriptItem:
        given = [name for name in ("text", "parts", "noise") if getattr(self, name) is not None]
        if len(given) != 1:
            raise ValueError(
                f"give exactly one of text, parts or noise (got {', '.join(given) or 'none'})"
            )
        if (self.parts is None) != (self.pause_ms is None):
            raise ValueError("parts and pause_ms go together")
        if self.say is not None and self.text is None:
            raise ValueError("say is only allowed with text")
        return self

    @property
    def spoken_text(self) -> str:
        """The manifest text: what a listener hears (empty for noise)."""
        if self.text is not None:
            return self.text
        if self.parts is not None:
            return " ".join(p.strip() for p in self.parts)
        return ""


class CorpusScript(_Strict):
    schema_version: Literal[1]
    name: str = Field(pattern=ID_PATTERN)
    description: str = ""
    voice: VoiceSettings = VoiceSettings()
    lead_ms: int = Field(default=150, ge=0, le=5000)
    """Digital silence before the first voiced sample of every item."""
    tail_ms: int = Field(default=300, ge=0, le=5000)
    """Digital silence after the last voiced sample of every item."""
    peak_dbfs: float = Field(default=-3.0, ge=-40.0, le=0.0)
    """Every synthesised phrase is scaled to this peak."""
    items: tuple[ScriptItem, ...] = Field(min_length=1)

    @model_validator(mode="after")
    def _unique_ids(self) -> CorpusScript:
        seen: set[str] = set()
        for item in self.items:
            if item.id in seen:
                raise ValueError(f"item id {item.id!r} appears more than once")
            seen.add(item.id)
        return self


def load_script(path: Path) -> tuple[CorpusScript, bytes]:
    """The validated script and its raw bytes (the bytes feed the cache key)."""
    try:
        raw = read_regular_file(path, max_bytes=MAX_SCRIPT_BYTES)
    except OSError as exc:
        raise ScriptError(f"{path}: cannot read corpus script ({exc.strerror or exc})") from None
    try:
        data = yaml.safe_load(raw.decode("utf-8"))
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise ScriptError(f"{path}: not valid YAML: {exc}") from None
    except RecursionError:
        raise ScriptError(f"{path}: not valid YAML: nested too deeply") from None
    except (ValueError, TypeError, KeyError, AttributeError, OverflowError) as exc:
        # PyYAML's constructors on an explicit tag of the wrong shape (!!int x, !!bool x)
        raise ScriptError(f"{path}: not valid YAML: invalid value ({exc})") from None
    if not isinstance(data, dict):
        raise ScriptError(f"{path}: expected a mapping at the top level")
    try:
        return CorpusScript.model_validate(data), raw
    except ValidationError as exc:
        raise ScriptError(describe_validation_error(path, exc, data)) from None

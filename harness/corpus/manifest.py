"""``manifest.json``: the on-disk description of a corpus, validated at the edge.

The manifest is what every later stage trusts for caller speech bounds, so it is
checked for internal consistency on load (bounds inside the file, voiced runs ordered)
rather than when a call is half done.
"""

from __future__ import annotations

import json
import os
from pathlib import Path, PurePosixPath
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from harness.corpus.errors import ManifestError, describe_validation_error
from harness.safe_io import read_regular_text

MANIFEST_NAME = "manifest.json"
MANIFEST_SCHEMA_VERSION = 1

MAX_MANIFEST_BYTES = 64 * 1024 * 1024
"""A manifest of 100,000 items is ~40 MB; more is not one."""

MIN_RATE, MAX_RATE = 8_000, 192_000
MAX_ITEM_SECONDS = 600
"""A corpus item is one utterance: a manifest claiming more describes no real corpus (and
a 1 Hz item of 300,000 samples would be resampled into gigabytes)."""

InputValue = str | int | float | bool | None


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ManifestItem(_Strict):
    id: str = Field(min_length=1, max_length=200)
    text: str
    wav: str
    """Path of the WAV relative to the corpus folder (POSIX separators)."""
    sample_rate: int = Field(ge=MIN_RATE, le=MAX_RATE)
    num_samples: int = Field(ge=0, le=MAX_ITEM_SECONDS * MAX_RATE)
    speech_start: int = Field(ge=0)
    speech_end: int = Field(ge=0)
    voiced: tuple[tuple[int, int], ...]
    tags: tuple[str, ...] = ()
    speaker: str = ""
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")

    @field_validator("wav")
    @classmethod
    def _relative_inside(cls, wav: str) -> str:
        path = PurePosixPath(wav)
        if path.is_absolute() or ".." in path.parts or "\\" in wav or not wav:
            raise ValueError(f"wav must be a relative path inside the corpus folder, got {wav!r}")
        return wav

    @model_validator(mode="after")
    def _bounds(self) -> ManifestItem:
        if not self.speech_start <= self.speech_end <= self.num_samples:
            raise ValueError(
                f"need 0 <= speech_start ({self.speech_start}) <= speech_end "
                f"({self.speech_end}) <= num_samples ({self.num_samples})"
            )
        previous_end = self.speech_start
        for start, end in self.voiced:
            if not previous_end <= start < end <= self.speech_end:
                raise ValueError(
                    f"voiced run [{start}, {end}) is out of order or outside "
                    f"[{self.speech_start}, {self.speech_end})"
                )
            previous_end = end
        if self.voiced and (
            self.voiced[0][0] != self.speech_start or self.voiced[-1][1] != self.speech_end
        ):
            raise ValueError("speech_start/speech_end must be the first/last voiced bounds")
        return self


class Manifest(_Strict):
    schema_version: Literal[1]
    name: str = Field(min_length=1)
    kind: Literal["built", "imported"]
    source: str = ""
    """The script or folder it came from, for humans."""
    input_hash: str = ""
    """sha256 of everything the audio depends on: equal hash + valid checksums = cache hit."""
    inputs: dict[str, InputValue] = Field(default_factory=dict)
    """The parts of the hash, spelled out, so a cache miss can be explained."""
    segmentation: dict[str, float] = Field(default_factory=dict)
    """The SegmentationParams the speech bounds were measured with."""
    sample_rate: int = Field(ge=MIN_RATE, le=MAX_RATE)
    items: tuple[ManifestItem, ...]

    @model_validator(mode="after")
    def _unique_ids(self) -> Manifest:
        seen: set[str] = set()
        for item in self.items:
            if item.id in seen:
                raise ValueError(f"item id {item.id!r} appears more than once")
            seen.add(item.id)
        return self


def read_manifest(path: Path) -> Manifest:
    try:
        raw = read_regular_text(path, max_bytes=MAX_MANIFEST_BYTES)
    except FileNotFoundError:
        raise ManifestError(f"{path}: no corpus manifest here") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ManifestError(f"{path}: cannot read corpus manifest ({exc})") from None
    try:
        data = json.loads(raw)
    except RecursionError:
        raise ManifestError(f"{path}: corrupt corpus manifest (JSON nested too deeply)") from None
    except json.JSONDecodeError as exc:
        raise ManifestError(f"{path}: corrupt corpus manifest (not JSON: {exc})") from None
    if not isinstance(data, dict):
        raise ManifestError(f"{path}: corrupt corpus manifest (expected a JSON object)")
    version = data.get("schema_version")
    if version != MANIFEST_SCHEMA_VERSION:
        raise ManifestError(
            f"{path}: manifest schema_version {version!r} is not supported "
            f"(this harness reads {MANIFEST_SCHEMA_VERSION}); rebuild or re-import the corpus"
        )
    try:
        return Manifest.model_validate(data)
    except ValidationError as exc:
        raise ManifestError(describe_validation_error(path, exc, data)) from None


def write_manifest(path: Path, manifest: Manifest) -> None:
    """Atomic (write + rename): a reader never sees half a manifest."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(manifest.model_dump_json(indent=1) + "\n", encoding="utf-8")
    tmp.replace(path)

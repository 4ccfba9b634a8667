"""Network profiles: ``--network 4g`` or ``--network delay=50ms,jitter=10ms,loss=2%``.

A profile is a named entry of ``profiles.toml`` (shipped beside this module, every
figure with its source in a comment) or inline text, optionally a name followed by
overrides (``4g,up.loss=5%``). A field applies to both directions unless it is
prefixed ``up.`` (caller -> endpoint) or ``down.`` (endpoint -> caller); a prefixed
field wins over a plain one whatever their order. Units: times ``50ms``, ``0.05s`` or a
bare number of ms; probabilities ``2%`` or ``0.02``; rates ``48kbit``, ``1mbit``,
``64000bit`` or a bare number of kbit/s; ``burst`` in bytes. Bad text is a
``ProfileError`` that names the field and says what would be accepted.
"""

from __future__ import annotations

import dataclasses
import re
import tomllib
from collections.abc import Iterable, Mapping
from functools import cache
from pathlib import Path
from typing import Any

from harness.records import LinkProfile, NetworkProfile

SHIPPED_PROFILES = Path(__file__).with_name("profiles.toml")
CLEAN = "clean"
"""The name of the no-impairment profile (the relay is still in the path)."""

_DIRECTIONS = ("up", "down")
_TIME = re.compile(r"^\s*([0-9]*\.?[0-9]+)\s*(us|ms|s)?\s*$", re.IGNORECASE)
_PROBABILITY = re.compile(r"^\s*([0-9]*\.?[0-9]+)\s*(%)?\s*$")
_RATE = re.compile(r"^\s*([0-9]*\.?[0-9]+)\s*(bit|bps|kbit|kbps|mbit|mbps)?(/s)?\s*$", re.IGNORECASE)
_BYTES = re.compile(r"^\s*([0-9]+)\s*(b|kb)?\s*$", re.IGNORECASE)
_RATE_KBPS = {"bit": 1e-3, "bps": 1e-3, "kbit": 1.0, "kbps": 1.0, "mbit": 1e3, "mbps": 1e3}
_TIME_MS = {"us": 1e-3, "ms": 1.0, "s": 1e3}
_TRUE = {"on", "true", "yes", "1"}
_FALSE = {"off", "false", "no", "0"}


class ProfileError(ValueError):
    """A profile that cannot be used; the message names the profile and the field."""


def _time_ms(text: str) -> float:
    m = _TIME.match(text)
    if m is None:
        raise ValueError(f"{text!r} is not a time (use e.g. 50ms, 0.05s or 50)")
    return float(m.group(1)) * _TIME_MS[(m.group(2) or "ms").lower()]


def _probability(text: str) -> float:
    m = _PROBABILITY.match(text)
    if m is None:
        raise ValueError(f"{text!r} is not a probability (use e.g. 2% or 0.02)")
    value = float(m.group(1)) / (100.0 if m.group(2) else 1.0)
    if not 0.0 <= value <= 1.0:
        raise ValueError(f"{text!r} is not a probability between 0 and 100%")
    return value


def _rate_kbps(text: str) -> float | None:
    if text.strip().lower() in ("none", "off"):
        return None
    m = _RATE.match(text)
    if m is None:
        raise ValueError(f"{text!r} is not a bit rate (use e.g. 48kbit, 1mbit or none)")
    value = float(m.group(1)) * _RATE_KBPS[(m.group(2) or "kbit").lower()]
    if value <= 0:
        raise ValueError(f"{text!r}: a bandwidth cap must be above 0 (or none)")
    return value


def _bytes(text: str) -> int:
    m = _BYTES.match(text)
    if m is None:
        raise ValueError(f"{text!r} is not a byte count (use e.g. 1500 or 2kB)")
    value = int(m.group(1)) * (1000 if (m.group(2) or "").lower() == "kb" else 1)
    if value < 64:
        raise ValueError(f"{text!r}: the token bucket must hold at least 64 bytes")
    return value


def _flag(text: str) -> bool:
    word = text.strip().lower()
    if word in _TRUE:
        return True
    if word in _FALSE:
        return False
    raise ValueError(f"{text!r} is not on/off")


def _positive_time(text: str) -> float:
    value = _time_ms(text)
    if value <= 0:
        raise ValueError(f"{text!r}: the queue must hold more than 0 ms")
    return value


_FIELDS: dict[str, tuple[str, Any]] = {
    "delay": ("delay_ms", _time_ms),
    "jitter": ("jitter_ms", _time_ms),
    "reorder": ("reorder", _flag),
    "loss": ("loss", _probability),
    "ge_p": ("ge_p", _probability),
    "ge_r": ("ge_r", _probability),
    "ge_loss": ("ge_loss", _probability),
    "duplicate": ("duplicate", _probability),
    "rate": ("rate_kbps", _rate_kbps),
    "burst": ("burst_bytes", _bytes),
    "queue": ("queue_ms", _positive_time),
}
"""Profile field -> (``LinkProfile`` attribute, parser of its text)."""
FIELD_NAMES = (*_FIELDS, "seed")


def _check_link(link: LinkProfile, prefix: str) -> None:
    if link.ge_p > 0 and link.ge_r <= 0:
        raise ValueError(f"field '{prefix}ge_r': must be above 0 when ge_p is set "
                         "(the bad state would never end)")


def build_profile(name: str, fields: Iterable[tuple[str, str]], base: NetworkProfile | None = None) -> NetworkProfile:
    """A profile from ``(field, text)`` pairs over ``base``; raises ``ValueError`` naming the field."""
    base = base or NetworkProfile(name=name)
    plain: dict[str, Any] = {}
    directed: dict[str, dict[str, Any]] = {d: {} for d in _DIRECTIONS}
    seed = base.seed
    for key, text in fields:
        key = key.strip()
        direction, _, field = key.rpartition(".")
        if direction and direction not in _DIRECTIONS:
            raise ValueError(f"field {key!r}: the prefix must be up. or down.")
        if field == "seed" and not direction:
            try:
                seed = int(text)
            except ValueError:
                raise ValueError(f"field 'seed': {text!r} is not an integer") from None
            continue
        if field not in _FIELDS:
            known = ", ".join(FIELD_NAMES)
            raise ValueError(f"unknown field {key!r} (known: {known}; prefix up. or down. for one direction)")
        attribute, parse = _FIELDS[field]
        try:
            value = parse(text)
        except ValueError as exc:
            raise ValueError(f"field {key!r}: {exc}") from None
        (directed[direction] if direction else plain)[attribute] = value
    links = {}
    for d in _DIRECTIONS:
        link = dataclasses.replace(getattr(base, d), **{**plain, **directed[d]})
        _check_link(link, f"{d}." if directed[d] else "")
        links[d] = link
    return NetworkProfile(name=name, up=links["up"], down=links["down"], seed=seed,
                          ladder_step=base.ladder_step)


def _flatten(table: Mapping[str, Any], prefix: str = "") -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    for key, value in table.items():
        if key == "description" and not prefix:
            continue
        if isinstance(value, Mapping):
            out += _flatten(value, f"{prefix}{key}.")
        elif isinstance(value, bool):
            out.append((f"{prefix}{key}", "on" if value else "off"))
        else:
            out.append((f"{prefix}{key}", str(value)))
    return out


def load_profiles(path: Path) -> dict[str, NetworkProfile]:
    """Every profile of a profiles TOML file (one table per profile)."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ProfileError(f"{path}: cannot read network profiles: {exc}") from None
    profiles = {}
    for name, table in data.items():
        if not isinstance(table, Mapping):
            raise ProfileError(f"{path}: {name!r} is not a profile table ([{name}])")
        try:
            profiles[name] = build_profile(name, _flatten(table))
        except ValueError as exc:
            raise ProfileError(f"{path}: profile {name!r}: {exc}") from None
    return profiles


@cache
def shipped_profiles() -> dict[str, NetworkProfile]:
    """The named profiles that ship with the harness (``profiles.toml``)."""
    return load_profiles(SHIPPED_PROFILES)


def parse_profile(text: str, named: Mapping[str, NetworkProfile] | None = None) -> NetworkProfile:
    """``4g``, ``4g,up.loss=5%`` or ``delay=50ms,loss=2%`` -> a profile (``ProfileError`` if bad)."""
    named = shipped_profiles() if named is None else named
    items = [item.strip() for item in text.split(",")]
    if not text.strip() or any(not item for item in items):
        raise ProfileError(f"network profile {text!r}: empty item (write NAME or FIELD=VALUE, comma-separated)")
    base = None
    if "=" not in items[0]:
        if items[0].rpartition(".")[2] in FIELD_NAMES:
            raise ProfileError(f"network profile {text!r}: field {items[0]!r} has no value (write {items[0]}=VALUE)")
        base = named.get(items[0])
        if base is None:
            raise ProfileError(
                f"network profile {text!r}: unknown profile {items[0]!r} (named profiles: "
                f"{', '.join(sorted(named))}; or inline fields like delay=50ms,jitter=10ms,loss=2%)")
        items = items[1:]
    pairs = []
    for item in items:
        key, sep, value = item.partition("=")
        if not sep:
            raise ProfileError(f"network profile {text!r}: {item!r} is not FIELD=VALUE (only the first item may be a name)")
        pairs.append((key, value))
    try:
        return build_profile(text.strip(), pairs, base)
    except ValueError as exc:
        raise ProfileError(f"network profile {text!r}: {exc}") from None


def parse_ladder(text: str, named: Mapping[str, NetworkProfile] | None = None) -> tuple[NetworkProfile, ...]:
    """``clean,4g,3g-lossy,congested`` -> the named profiles in order, each with its step.

    Steps are names only (an inline profile has commas of its own). A name given twice
    is refused: the calls of both steps would share their ids.
    """
    named = shipped_profiles() if named is None else named
    names = [n.strip() for n in text.split(",")]
    if len(names) < 2 or any(not n for n in names):
        raise ProfileError(f"network ladder {text!r}: give at least two profile names, comma-separated")
    if len(set(names)) != len(names):
        raise ProfileError(f"network ladder {text!r}: a profile appears twice")
    ladder = []
    for step, name in enumerate(names):
        if name not in named:
            raise ProfileError(f"network ladder {text!r}: unknown profile {name!r} (named profiles: "
                               f"{', '.join(sorted(named))})")
        ladder.append(dataclasses.replace(named[name], ladder_step=step))
    return tuple(ladder)


def describe(profile: NetworkProfile) -> str:
    """One line for a console or report: what each direction does."""
    def link(lp: LinkProfile) -> str:
        parts = [f"delay {lp.delay_ms:g} ms"]
        if lp.jitter_ms:
            parts.append(f"jitter {lp.jitter_ms:g} ms{'' if lp.reorder else ' (in order)'}")
        if lp.loss:
            parts.append(f"loss {lp.loss:.2%}")
        if lp.ge_p:
            parts.append(f"bursts p={lp.ge_p:g} r={lp.ge_r:g} h={lp.ge_loss:g}")
        if lp.duplicate:
            parts.append(f"dup {lp.duplicate:.2%}")
        if lp.rate_kbps is not None:
            parts.append(f"cap {lp.rate_kbps:g} kbit/s, queue {lp.queue_ms:g} ms")
        return ", ".join(parts)

    up, down = link(profile.up), link(profile.down)
    return f"{profile.name}: " + (f"both ways {up}" if up == down else f"up {up}; down {down}")

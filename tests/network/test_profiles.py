"""The profile language: inline text, the shipped named profiles, ladders, and clear errors."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from harness.network.link import expected_loss, expected_mean_burst
from harness.network.profiles import (
    SHIPPED_PROFILES,
    ProfileError,
    describe,
    load_profiles,
    parse_ladder,
    parse_profile,
    shipped_profiles,
)
from harness.records import LinkProfile, NetworkProfile


def test_inline_fields_apply_to_both_directions_and_prefixed_ones_win() -> None:
    p = parse_profile("up.loss=5%,delay=50ms,jitter=10ms,loss=2%,down.delay=0.02s,seed=7")
    assert p.name == "up.loss=5%,delay=50ms,jitter=10ms,loss=2%,down.delay=0.02s,seed=7"
    assert p.up == LinkProfile(delay_ms=50.0, jitter_ms=10.0, loss=0.05)
    assert p.down == LinkProfile(delay_ms=20.0, jitter_ms=10.0, loss=0.02)
    assert p.seed == 7


def test_units() -> None:
    p = parse_profile("delay=1500us,jitter=3,rate=1mbit,burst=2kB,queue=0.25s,ge_p=0.01,ge_r=25%,"
                      "ge_loss=0.5,duplicate=1%,reorder=off")
    assert p.up == LinkProfile(delay_ms=1.5, jitter_ms=3.0, rate_kbps=1000.0, burst_bytes=2000, queue_ms=250.0,
                               ge_p=0.01, ge_r=0.25, ge_loss=0.5, duplicate=0.01, reorder=False)
    assert parse_profile("rate=64000bit").up.rate_kbps == pytest.approx(64.0)
    assert parse_profile("4g,rate=none").up.rate_kbps is None


def test_a_named_profile_takes_overrides() -> None:
    p = parse_profile("4g,up.loss=5%")
    base = shipped_profiles()["4g"]
    assert p.down == base.down
    assert p.up.loss == 0.05 and p.up.delay_ms == base.up.delay_ms


@pytest.mark.parametrize(("text", "message"), [
    ("dealy=50ms", "network profile 'dealy=50ms': unknown field 'dealy' (known: delay, jitter,"),
    ("delay=50 parsecs", "field 'delay': '50 parsecs' is not a time (use e.g. 50ms, 0.05s or 50)"),
    ("loss=120%", "field 'loss': '120%' is not a probability between 0 and 100%"),
    ("up.jitter=-3ms", "field 'up.jitter': '-3ms' is not a time"),
    ("side.loss=1%", "field 'side.loss': the prefix must be up. or down."),
    ("lte", "unknown profile 'lte' (named profiles: 3g-lossy, 4g, clean, congested, wifi-good;"),
    ("up.loss", "field 'up.loss' has no value (write up.loss=VALUE)"),
    ("4g,wifi-good", "'wifi-good' is not FIELD=VALUE (only the first item may be a name)"),
    ("ge_p=2%,ge_r=0", "field 'ge_r': must be above 0 when ge_p is set"),
    ("rate=0kbit", "field 'rate': '0kbit': a bandwidth cap must be above 0"),
    ("burst=10", "field 'burst': '10': the token bucket must hold at least 64 bytes"),
    ("queue=0ms", "field 'queue': '0ms': the queue must hold more than 0 ms"),
    ("reorder=maybe", "field 'reorder': 'maybe' is not on/off"),
    ("seed=x", "field 'seed': 'x' is not an integer"),
    ("delay=5ms,,loss=1%", "empty item"),
    ("", "empty item"),
])
def test_bad_text_names_the_field(text: str, message: str) -> None:
    with pytest.raises(ProfileError) as info:
        parse_profile(text)
    assert message in str(info.value)


def test_shipped_profiles_load_and_every_figure_has_a_source_comment() -> None:
    profiles = shipped_profiles()
    assert {"clean", "wifi-good", "4g", "3g-lossy", "congested"} <= set(profiles)
    assert profiles["clean"].up == LinkProfile() and profiles["clean"].down == LinkProfile()
    data = tomllib.loads(SHIPPED_PROFILES.read_text(encoding="utf-8"))
    lines = SHIPPED_PROFILES.read_text(encoding="utf-8").splitlines()
    for name, table in data.items():
        for key in table:
            if key == "description":
                continue
            line = next(ln for ln in lines if ln.split("=")[0].strip() == key and "#" in ln
                        and _in_table(lines, ln, name))
            comment = line.split("#", 1)[1]
            assert "[" in comment or "chosen" in comment, f"{name}.{key}: no source in {line!r}"
    # the 3g-lossy bursts are what its comment claims: a 2-packet mean burst
    lossy = profiles["3g-lossy"].up
    assert expected_mean_burst(LinkProfile(ge_p=lossy.ge_p, ge_r=lossy.ge_r, ge_loss=lossy.ge_loss)) == pytest.approx(2.0)
    assert 0.03 < expected_loss(lossy) < 0.05


def _in_table(lines: list[str], line: str, name: str) -> bool:
    index = lines.index(line)
    header = next(ln for ln in reversed(lines[:index]) if ln.startswith("["))
    return header.strip("[]\"") == name


def test_a_profiles_file_with_a_bad_field_names_file_profile_and_field(tmp_path: Path) -> None:
    path = tmp_path / "mine.toml"
    path.write_text('[office]\ndelay = "10ms"\nup.loss = "lots"\n', encoding="utf-8")
    with pytest.raises(ProfileError) as info:
        load_profiles(path)
    assert str(info.value) == (f"{path}: profile 'office': field 'up.loss': 'lots' is not a probability "
                               "(use e.g. 2% or 0.02)")
    path.write_text('[office]\ndelay = "10ms"\nreorder = false\n', encoding="utf-8")
    office = load_profiles(path)["office"]
    assert office == NetworkProfile(name="office", up=LinkProfile(delay_ms=10.0, reorder=False),
                                    down=LinkProfile(delay_ms=10.0, reorder=False))


def test_ladder() -> None:
    ladder = parse_ladder("clean, 4g,3g-lossy,congested")
    assert [(p.name, p.ladder_step) for p in ladder] == [
        ("clean", 0), ("4g", 1), ("3g-lossy", 2), ("congested", 3)]
    for text, message in (("4g", "at least two"), ("4g,4g", "appears twice"), ("clean,lte", "unknown profile 'lte'")):
        with pytest.raises(ProfileError, match=message):
            parse_ladder(text)


def test_describe() -> None:
    assert describe(parse_profile("delay=50ms")) == "delay=50ms: both ways delay 50 ms"
    assert describe(parse_profile("up.loss=5%")) == "up.loss=5%: up delay 0 ms, loss 5.00%; down delay 0 ms"

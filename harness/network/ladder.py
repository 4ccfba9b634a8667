"""``--network-ladder clean,4g,3g-lossy,congested``: the same plan once per network profile.

Every planned call is repeated on each step of the ladder, its id suffixed with the
step, so one run folder holds the same scenarios over a network that degrades step by
step; each recording stores its profile (with ``ladder_step``) and what the relay did,
which is what the report's network-robustness section plots.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Sequence

from harness.records import CallSpec, NetworkProfile

_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]+")


def ladder_call_id(call_id: str, profile: NetworkProfile) -> str:
    return f"{call_id}-net{profile.ladder_step}-{_UNSAFE.sub('_', profile.name)}"


def on_ladder(specs: Sequence[CallSpec], ladder: Sequence[NetworkProfile]) -> tuple[CallSpec, ...]:
    """Each spec once per profile, step by step (a run stopped early has whole steps)."""
    if not ladder:
        return tuple(specs)
    return tuple(dataclasses.replace(spec, call_id=ladder_call_id(spec.call_id, profile), network=profile)
                 for profile in ladder for spec in specs)

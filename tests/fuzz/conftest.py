"""Hypothesis profiles for the fuzz suites.

``ci`` (the default) is what ``make test`` runs: 1,000 examples per property,
derandomized (the same examples every run, so CI never flakes on a new one) and no
example database written into the tree; each example must finish within 2 s.
``explore`` (``HYPOTHESIS_PROFILE=explore``) draws 20,000 fresh examples per property
and keeps a database of failures, for a developer hunting new bugs.
"""

from __future__ import annotations

import os
from datetime import timedelta

from hypothesis import HealthCheck, settings

EXAMPLES_CI = 1000

settings.register_profile(
    "ci",
    max_examples=EXAMPLES_CI,
    deadline=timedelta(seconds=2),
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    print_blob=True,
)
settings.register_profile(
    "explore",
    max_examples=20_000,
    deadline=timedelta(seconds=2),
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

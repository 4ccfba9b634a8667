"""The options that choose which scenarios a run or soak plays: ``--tag``, ``--skip-tag``.

Shared by ``run`` and ``soak`` so both say the same thing; the choosing itself is
``harness.plan.select_scenarios`` (pure, unit-tested without calls).
"""

from __future__ import annotations

from typing import Annotated

import typer

__all__ = ["SkipTagOption", "TagOption"]

TagOption = Annotated[list[str] | None, typer.Option(
    "--tag", metavar="TAG",
    help="Keep only scenarios carrying any of these tags (repeatable); none left is an error.")]
SkipTagOption = Annotated[list[str] | None, typer.Option(
    "--skip-tag", metavar="TAG",
    help="Leave out scenarios carrying any of these tags (repeatable); applied after --tag.")]

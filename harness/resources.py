"""The files the harness ships beside its code: the built-in corpus script, the suites, an SLO.

In the repository they live at its top level (``corpora/builtin/script.yaml``,
``suites/``, ``ci/slo.toml``), where people edit them and the docs point. A wheel has
no top level, so its build copies them into the package, under ``harness/_shipped/``
with the same relative paths (pyproject's ``[tool.hatch.build.targets.wheel.force-include]``).
``shipped_root`` finds whichever is there: the installed copy first, else the checkout
the package was imported from (a clone, or an editable install of one). Everything
that needs a shipped file asks ``shipped_path`` for it, so nothing depends on the
current folder.
"""

from __future__ import annotations

import functools
from importlib.resources import files
from pathlib import Path

__all__ = [
    "CORPUS_SCRIPT",
    "EXAMPLE_SLO",
    "SHIPPED_DIR",
    "SUITES",
    "ResourceError",
    "shipped_path",
    "shipped_root",
]

SHIPPED_DIR = "_shipped"
"""The folder inside the installed package that holds the copies (absent in a checkout)."""
CORPUS_SCRIPT = "corpora/builtin/script.yaml"
SUITES = "suites"
EXAMPLE_SLO = "ci/slo.toml"
_MARKER = CORPUS_SCRIPT
"""A file every complete set has: how a folder is recognised as one."""


class ResourceError(FileNotFoundError):
    """The shipped files are in neither place (a broken install or a partial checkout)."""


@functools.cache
def shipped_root() -> Path:
    """The folder the shipped files' relative paths start from.

    ``harness/_shipped`` of an installed wheel, else the checkout that holds the
    ``harness`` package (its parent folder, recognised by ``pyproject.toml`` beside the
    corpus script).
    """
    package = files("harness")
    if not isinstance(package, Path):  # e.g. imported from a zip: the harness needs real files
        raise ResourceError(f"voice-harness is not installed as files ({package}); reinstall it with pip")
    installed = package / SHIPPED_DIR
    if (installed / _MARKER).is_file():
        return installed
    checkout = package.resolve().parent
    if (checkout / "pyproject.toml").is_file() and (checkout / _MARKER).is_file():
        return checkout
    raise ResourceError(
        f"the files voice-harness ships (corpus script, suites, example SLO) are neither in "
        f"{installed} (an installed wheel) nor in {checkout} (a checkout); reinstall voice-harness"
    )


def shipped_path(relative: str) -> Path:
    """A shipped file or folder, e.g. ``shipped_path(SUITES) / "smoke"``; it must exist."""
    path = shipped_root() / relative
    if not path.exists():
        raise ResourceError(f"{path}: not shipped with this voice-harness ({relative})")
    return path

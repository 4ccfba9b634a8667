"""``voice-harness init [DIR]``: a folder a team can start from, in its own repository.

It writes ``endpoints.toml`` (the reference agent, and one commented example per
dialect), a small suite (``suites/smoke``), ``slo.toml`` (the example SLO the package
ships), ``pytest.ini`` (so that a plain ``pytest`` runs the suite through the plugin) and
a GitHub Actions workflow that installs voice-harness, starts the endpoint, waits for it
with a timeout, runs the suite with the gate and uploads the report.

It never overwrites: if any of these files exists, it writes nothing and exits 2 naming
them, unless ``--force``. A folder that already has a pytest configuration
(``pyproject.toml``'s ``[tool.pytest.ini_options]``, ``tox.ini``'s ``[pytest]``,
``setup.cfg``'s ``[tool:pytest]``) gets no ``pytest.ini``, which would silently replace
it; the lines to add are printed instead.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from harness.cli.common import console, usage_error
from harness.resources import EXAMPLE_SLO, ResourceError, shipped_path

__all__ = ["SCAFFOLD", "ScaffoldFile", "init_command", "scaffold"]

TEMPLATES = Path(__file__).resolve().parent / "init_templates"
PYTEST_INI = "pytest.ini"
WORKFLOW = ".github/workflows/voice-harness.yml"
VERSION_MARK = "@VERSION@"
REQUIREMENT_MARK = "@REQUIREMENT@"
"""The workflow installs the version that scaffolded it (the templates' placeholders)."""
PYTEST_LINES = 'vh_suites = ["suites"]\nvh_slo = "slo.toml"'
"""What to add to an existing ``[tool.pytest.ini_options]`` instead of a pytest.ini."""


@dataclass(frozen=True, slots=True, kw_only=True)
class ScaffoldFile:
    path: str
    """Where it goes, relative to the folder."""
    source: str
    """``templates/NAME`` (beside this module) or ``shipped/RELATIVE`` (harness.resources)."""
    what: str
    """One line for the listing."""


SCAFFOLD: tuple[ScaffoldFile, ...] = (
    ScaffoldFile(path="endpoints.toml", source="templates/endpoints.toml",
                 what="endpoints by name: the reference agent, one commented example per dialect"),
    ScaffoldFile(path="suites/smoke/first_call.yaml", source="templates/suites/smoke/first_call.yaml",
                 what="a question; the reply must start within 2 s"),
    ScaffoldFile(path="suites/smoke/interrupt.yaml", source="templates/suites/smoke/interrupt.yaml",
                 what="a barge-in; the agent must stop within 1 s"),
    ScaffoldFile(path="slo.toml", source=f"shipped/{EXAMPLE_SLO}",
                 what="the SLOs the gate checks (latency percentiles, failed calls)"),
    ScaffoldFile(path=PYTEST_INI, source="templates/pytest.ini",
                 what="plain `pytest` runs the suite through the voice-harness plugin"),
    ScaffoldFile(path=WORKFLOW, source="templates/workflow.yml",
                 what="GitHub Actions: install, start, wait, run with the gate, upload the report"),
)


def init_command(
    folder: Annotated[Path, typer.Argument(help="Folder to scaffold (created if missing).")] = Path(),
    force: Annotated[bool, typer.Option("--force", help="Overwrite files that already exist.")] = False,
) -> None:
    """Scaffold endpoints.toml, a small suite, slo.toml, pytest.ini and a CI workflow."""
    try:
        written, pytest_config = scaffold(folder, force=force)
    except ScaffoldError as exc:
        usage_error(str(exc))
    console.print(f"voice-harness init: {len(written)} files in {escape(str(folder.resolve()))}")
    for item in written:
        console.print(f"  {escape(item.path):<38} {escape(item.what)}")
    if pytest_config is not None:
        console.print(f"  (no {PYTEST_INI}: {escape(pytest_config.name)} already configures pytest; "
                      "add to its pytest settings:)")
        console.print(escape(PYTEST_LINES))
    console.print(
        "next:\n"
        f"  cd {escape(str(folder))}\n"
        "  voice-harness agent serve &                        # or start your bot; name it in endpoints.toml\n"
        "  voice-harness endpoints check local               # one short call: does it work?\n"
        "  voice-harness run suites -e local --slo slo.toml  # the suite, gated; prints the report's path\n"
        "  pytest                                            # the same suite as pytest tests"
    )


class ScaffoldError(Exception):
    """Nothing was written: the folder is unusable or files would be overwritten."""


def scaffold(folder: Path, *, force: bool = False) -> tuple[list[ScaffoldFile], Path | None]:
    """Write the scaffold into ``folder``; returns what was written and, when ``pytest.ini``
    was left out, the file that already configures pytest there."""
    if folder.exists() and not folder.is_dir():
        raise ScaffoldError(f"{folder}: exists and is not a folder")
    pytest_config = _pytest_config(folder)
    files = [f for f in SCAFFOLD if not (f.path == PYTEST_INI and pytest_config is not None)]
    contents = {f.path: _render(f) for f in files}  # every source read before anything is written
    blocked = [f.path for f in files if _blocked(folder, f.path)]
    if blocked:
        raise ScaffoldError(f"{folder}: something other than a file is where {', '.join(blocked)} go "
                            "(a folder, or a file where a folder should be); nothing written")
    existing = [f.path for f in files if (folder / f.path).exists() or (folder / f.path).is_symlink()]
    if existing and not force:
        raise ScaffoldError(
            f"{folder}: would overwrite {', '.join(existing)}; nothing written "
            "(use --force to overwrite them)"
        )
    try:
        for f in files:
            target = folder / f.path
            target.parent.mkdir(parents=True, exist_ok=True)
            if target.is_symlink() or target.is_file():
                target.unlink()  # never write through a symlink to somewhere else
            target.write_text(contents[f.path], encoding="utf-8")
    except OSError as exc:
        raise ScaffoldError(f"{folder}: cannot write the scaffold ({exc.strerror or exc})") from None
    return files, pytest_config


def _render(item: ScaffoldFile) -> str:
    kind, _, name = item.source.partition("/")
    try:
        if kind == "shipped":
            text = shipped_path(name).read_text(encoding="utf-8")
            return text.replace(name, item.path)  # its comments name itself by its repository path
        text = (TEMPLATES / name).read_text(encoding="utf-8")
    except (OSError, ResourceError) as exc:
        raise ScaffoldError(f"voice-harness is missing its template {item.source} ({exc}); reinstall it") from None
    installed = _version()
    requirement = f"voice-harness[tts]=={installed}" if installed else "voice-harness[tts]"
    return text.replace(REQUIREMENT_MARK, requirement).replace(VERSION_MARK, installed or "unreleased")


def _version() -> str | None:
    try:
        return version("voice-harness")
    except PackageNotFoundError:  # a checkout run without installing it: no version to pin
        return None


def _blocked(folder: Path, relative: str) -> bool:
    """Something other than a file (or symlink) is where ``relative`` goes, or other than a
    folder where one of its folders goes: found before anything is written."""
    target = folder / relative
    if target.exists() and not (target.is_file() or target.is_symlink()):
        return True
    on_the_way = [folder / p for p in Path(relative).parents if p != Path()]
    return any(p.exists() and not p.is_dir() for p in on_the_way)


def _pytest_config(folder: Path) -> Path | None:
    """The file in ``folder`` that already configures pytest (pytest.ini itself excluded)."""
    markers = {"pyproject.toml": "[tool.pytest.ini_options]", "tox.ini": "[pytest]", "setup.cfg": "[tool:pytest]"}
    for name, marker in markers.items():
        path = folder / name
        try:
            if path.is_file() and marker in path.read_text(encoding="utf-8", errors="replace"):
                return path
        except OSError:
            continue
    return None

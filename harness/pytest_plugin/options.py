"""The plugin's options, on the command line and in the ini file, read once into a record.

Every ``--vh-*`` option has an ini twin (``vh_endpoint``, ``vh_caller``, ...), so a team
puts its settings in ``pytest.ini``/``pyproject.toml`` and overrides them on the
command line: a command-line value always wins. Paths in the ini file are relative to
the ini file (pytest's ``paths`` type), paths on the command line to the current folder.

Scenario collection is opt-in (``--vh-suites``/``vh_suites``): an environment that has
the package installed loads the plugin in every pytest session, and an unrelated YAML
file (a Kubernetes manifest under some ``suites/`` folder) must never become a test.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from harness.records import CallerKind

__all__ = ["DEFAULT_AGENT_ARGS", "PluginOptions", "add_options"]

DEFAULT_AGENT_ARGS = "--delay 300"


def add_options(parser: pytest.Parser) -> None:
    group = parser.getgroup("voice-harness", "voice-harness: run scenario files as tests")
    group.addoption("--vh-suites", nargs="+", action="extend", default=None, metavar="PATH",
                    help="Scenario YAML files or folders: the YAML files under them are collected as "
                         "tests (and run when no other path is given). Nothing else is. "
                         "[ini: vh_suites]")
    group.addoption("--vh-endpoint", action="append", default=None, metavar="NAME",
                    help="Endpoint name in endpoints.toml or DIALECT+URL (repeatable); "
                         "default: a local reference agent per worker. [ini: vh_endpoint]")
    group.addoption("--vh-caller", action="append", default=None, metavar="KIND",
                    help="aiortc and/or browser (repeatable; default aiortc). [ini: vh_caller]")
    group.addoption("--vh-repeat", type=int, default=None, metavar="N",
                    help="Repeat each scenario N times (default 1). [ini: vh_repeat]")
    group.addoption("--vh-slo", type=Path, default=None, metavar="FILE",
                    help="SLO file (TOML): a failed verdict fails the session. [ini: vh_slo]")
    group.addoption("--vh-baseline", type=Path, default=None, metavar="RUN",
                    help="Baseline run folder: a regression fails the session. [ini: vh_baseline]")
    group.addoption("--vh-run-dir", type=Path, default=None, metavar="DIR",
                    help="Run folder to write (default: reports/<run id>). [ini: vh_run_dir]")
    group.addoption("--vh-agent-args", default=None, metavar="ARGS",
                    help=f"Knobs of the reference agent (default: '{DEFAULT_AGENT_ARGS}'). "
                         "[ini: vh_agent_args]")
    parser.addini("vh_suites", "voice-harness: scenario YAML files or folders to collect as tests",
                  type="paths", default=[])
    parser.addini("vh_endpoint", "voice-harness: endpoint names or DIALECT+URLs", type="args", default=[])
    parser.addini("vh_caller", "voice-harness: callers (aiortc, browser)", type="args", default=[])
    parser.addini("vh_repeat", "voice-harness: repeat each scenario N times", default="1")
    parser.addini("vh_slo", "voice-harness: SLO file to gate the session on", type="paths", default=[])
    parser.addini("vh_baseline", "voice-harness: baseline run folder", type="paths", default=[])
    parser.addini("vh_run_dir", "voice-harness: run folder to write", type="paths", default=[])
    parser.addini("vh_agent_args", "voice-harness: knobs of the reference agent", default=DEFAULT_AGENT_ARGS)


@dataclass(frozen=True, slots=True, kw_only=True)
class PluginOptions:
    suites: tuple[Path, ...]
    """Absolute paths whose YAML files are scenarios; empty: the plugin collects nothing."""
    suites_from_command_line: bool
    """``--vh-suites`` was given (so, without other paths, they are what pytest runs)."""
    endpoint_names: tuple[str, ...]
    """``--vh-endpoint``: empty means this process's reference agent."""
    caller_names: tuple[str, ...]
    """``--vh-caller`` as given; ``callers`` checks them when they are first needed."""
    repeat: int
    slo: Path | None
    baseline: Path | None
    run_dir: Path | None
    agent_args: str

    @classmethod
    def from_config(cls, config: pytest.Config) -> PluginOptions:
        cli_suites = config.getoption("vh_suites")
        if cli_suites:
            suites = tuple((config.invocation_params.dir / p).absolute() for p in cli_suites)
        else:
            suites = tuple(Path(p).absolute() for p in config.getini("vh_suites"))
        return cls(
            suites=suites,
            suites_from_command_line=bool(cli_suites),
            endpoint_names=tuple(_either(config, "vh_endpoint") or ()),
            caller_names=tuple(_either(config, "vh_caller") or ("aiortc",)),
            repeat=_repeat(_either(config, "vh_repeat")),
            slo=_path(config, "vh_slo"),
            baseline=_path(config, "vh_baseline"),
            run_dir=_path(config, "vh_run_dir"),
            agent_args=str(_either(config, "vh_agent_args")),
        )

    @property
    def callers(self) -> list[CallerKind]:
        try:
            return [CallerKind(n) for n in self.caller_names]
        except ValueError:
            raise pytest.UsageError(
                f"--vh-caller: unknown caller in {list(self.caller_names)}; use aiortc or browser"
            ) from None

    def is_scenario_file(self, path: Path) -> bool:
        """A YAML file (not hidden) under one of the ``suites`` paths."""
        if path.suffix not in (".yaml", ".yml") or path.name.startswith("."):
            return False
        path = path.absolute()
        return any(path == s or path.is_relative_to(s) for s in self.suites)


def _either(config: pytest.Config, name: str) -> Any:
    """The command line's value of ``name`` if given, else the ini file's."""
    value = config.getoption(name)
    return config.getini(name) if value is None else value


def _path(config: pytest.Config, name: str) -> Path | None:
    value = config.getoption(name)
    if value is not None:
        return Path(value)
    paths = config.getini(name)
    if len(paths) > 1:
        raise pytest.UsageError(f"{name}: one path, not {len(paths)}")
    return Path(paths[0]) if paths else None


def _repeat(value: object) -> int:
    try:
        repeat = int(str(value))
    except ValueError:
        raise pytest.UsageError(f"vh_repeat: not a whole number: {value!r}") from None
    if repeat < 1:
        raise pytest.UsageError(f"--vh-repeat: at least 1, not {repeat}")
    return repeat

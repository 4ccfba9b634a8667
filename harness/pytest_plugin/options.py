"""The plugin's command-line options, and their values read once into a typed record."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from harness.records import CallerKind

__all__ = ["PluginOptions", "add_options"]


def add_options(parser: pytest.Parser) -> None:
    group = parser.getgroup("voice-harness", "voice-harness: run scenario files as tests")
    group.addoption("--vh-endpoint", action="append", default=[], metavar="NAME",
                    help="Endpoint name in endpoints.toml or DIALECT+URL (repeatable); "
                         "default: a local reference agent per worker.")
    group.addoption("--vh-caller", action="append", default=[], metavar="KIND",
                    help="aiortc and/or browser (repeatable; default aiortc).")
    group.addoption("--vh-repeat", type=int, default=1, metavar="N", help="Repeat each scenario N times.")
    group.addoption("--vh-slo", type=Path, default=None, metavar="FILE",
                    help="SLO file (TOML): a failed verdict fails the session.")
    group.addoption("--vh-baseline", type=Path, default=None, metavar="RUN",
                    help="Baseline run folder: a regression fails the session.")
    group.addoption("--vh-run-dir", type=Path, default=None, metavar="DIR",
                    help="Run folder to write (default: reports/<run id>).")
    group.addoption("--vh-agent-args", default="--delay 300", metavar="ARGS",
                    help="Knobs of the reference agent (default: '--delay 300').")


@dataclass(frozen=True, slots=True, kw_only=True)
class PluginOptions:
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
        slo, baseline, run_dir = (config.getoption(n) for n in ("vh_slo", "vh_baseline", "vh_run_dir"))
        return cls(
            endpoint_names=tuple(config.getoption("vh_endpoint") or ()),
            caller_names=tuple(config.getoption("vh_caller") or ("aiortc",)),
            repeat=int(config.getoption("vh_repeat")),
            slo=None if slo is None else Path(slo),
            baseline=None if baseline is None else Path(baseline),
            run_dir=None if run_dir is None else Path(run_dir),
            agent_args=str(config.getoption("vh_agent_args")),
        )

    @property
    def callers(self) -> list[CallerKind]:
        try:
            return [CallerKind(n) for n in self.caller_names]
        except ValueError:
            raise pytest.UsageError(
                f"--vh-caller: unknown caller in {list(self.caller_names)}; use aiortc or browser"
            ) from None

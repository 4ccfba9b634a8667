"""pytest plugin: ``pytest --vh-suites suites/smoke`` runs scenario files as tests.

Registered through the ``pytest11`` entry point (``-p harness.pytest_plugin`` when the
package is not installed), so it is loaded in every pytest session of an environment
that has the package: it must never change a session that does not use it. So it
collects nothing unless told where the scenarios are (``--vh-suites PATH...`` or the
``vh_suites`` ini option), and its xdist hook is optional (``-p no:xdist`` works).
Each scenario YAML under those paths becomes one test per endpoint x caller x repeat,
with the same call ids and the same run folder layout as ``voice-harness run`` (both
plan calls with ``harness.runner.plan`` and run them with ``harness.runner.execute``).
``--vh-suites`` with no other path to collect is what the session runs.

With pytest-xdist the controller picks the run folder and hands its path to every
worker (``workerinput``); each worker starts its own reference agent on its own port
and appends to the shared ``results.jsonl`` (locked ``O_APPEND`` writes, so no line is
lost or duplicated). The controller writes run.json and the reports at the end, and
gates on ``--vh-slo`` / ``--vh-baseline``: a failed verdict fails the session (pytest
exit code 1) and is listed in the terminal summary.

A test of one's own gets the endpoint and a caller through fixtures::

    @pytest.mark.scenario("suites/smoke/smoke_single_turn.yaml")
    def test_my_bot(vh_call):
        result = vh_call()                  # runs the marked scenario, returns a CallResult
        assert result.ok

and an async test awaits ``vh_acall()`` (the call runs on the test's loop).

The parts, as pytest-benchmark splits its own: this module holds the hooks (pytest
finds hooks and fixtures on the registered module), ``options`` the command line,
``state`` the per-process state, ``items`` the scenario collection, ``fixtures`` the
fixtures and ``finish`` the end of the session.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from harness.pytest_plugin.finish import finish_session
from harness.pytest_plugin.fixtures import vh_acall, vh_call, vh_endpoint, vh_run_dir
from harness.pytest_plugin.items import collect_file
from harness.pytest_plugin.options import PluginOptions, add_options
from harness.pytest_plugin.state import RUN_DIR_ENV, STATE, SUMMARY, PluginState

__all__ = ["RUN_DIR_ENV", "vh_acall", "vh_call", "vh_endpoint", "vh_run_dir"]


def pytest_addoption(parser: pytest.Parser) -> None:
    add_options(parser)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "scenario(path): the scenario file a test's vh_call runs")
    config.addinivalue_line("markers", "slo(file): SLO file for this test's calls (informational)")
    options = PluginOptions.from_config(config)
    workerinput = getattr(config, "workerinput", None)
    if workerinput is not None and "vh_run_dir" in workerinput:
        run_dir = Path(workerinput["vh_run_dir"])
    elif options.run_dir is not None:
        run_dir = options.run_dir
    elif os.environ.get(RUN_DIR_ENV):
        run_dir = Path(os.environ[RUN_DIR_ENV])
    else:
        from harness.store.run_folder import new_run_id

        run_dir = Path("reports") / new_run_id()
    if options.suites_from_command_line and config.args_source is not pytest.Config.ArgsSource.ARGS:
        # ``pytest --vh-suites suites/smoke`` runs the suites, not the testpaths or the
        # current folder; with paths of its own, the session runs those.
        config.args = [str(p) for p in options.suites]
    config.stash[STATE] = PluginState(config, run_dir.absolute(), options)


@pytest.hookimpl(optionalhook=True)  # an xdist hook: without xdist, pytest must not refuse it
def pytest_configure_node(node: Any) -> None:
    """xdist controller -> worker: every worker writes into the controller's run folder."""
    node.workerinput["vh_run_dir"] = str(node.config.stash[STATE].run_dir)


def pytest_unconfigure(config: pytest.Config) -> None:
    state = config.stash.get(STATE, None)
    if state is not None:
        state.close()


def pytest_collect_file(parent: pytest.Collector, file_path: Path) -> pytest.Collector | None:
    return collect_file(parent, file_path)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    state = session.config.stash[STATE]
    state.close()
    if state.is_worker or not (state.run_dir / "results.jsonl").is_file():
        return
    finish_session(session, state)


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
    for line in config.stash.get(SUMMARY, []):
        terminalreporter.write_line(line)

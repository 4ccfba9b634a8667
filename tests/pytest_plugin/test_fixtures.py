"""The fixtures from a user's own test file, async included: one real call over loopback.

A subprocess pytest in a scratch folder whose test runs inside an event loop (as
pytest-asyncio or anyio run an ``async def`` test): ``await vh_acall()`` makes the call
on that loop and writes it into the run folder, and ``vh_call()`` there says to use
``vh_acall`` instead of failing inside ``asyncio.run``.
"""

from __future__ import annotations

import os
import subprocess
import sys
from importlib.metadata import entry_points
from pathlib import Path

import pytest

from harness.store.run_folder import iter_call_dirs, read_results

pytestmark = [pytest.mark.network, pytest.mark.slow]
ROOT = Path(__file__).resolve().parents[2]
PLUGIN = [] if any(ep.value == "harness.pytest_plugin" for ep in entry_points(group="pytest11")) \
    else ["-p", "harness.pytest_plugin"]

ASYNC_TEST = '''
import asyncio

import pytest

SCENARIO = {scenario!r}


@pytest.mark.scenario(SCENARIO)
def test_async_call(vh_acall, vh_call):
    async def main():
        with pytest.raises(pytest.UsageError, match="vh_acall"):
            vh_call()
        return await vh_acall()

    result = asyncio.run(main())
    assert result.ok, result
    print("CALL", result.spec_call_id)
'''


def test_vh_acall_runs_a_call_on_the_tests_own_loop(tmp_path: Path) -> None:
    (tmp_path / "test_mine.py").write_text(
        ASYNC_TEST.format(scenario=str(ROOT / "suites/smoke/smoke_single_turn.yaml")))
    run_dir = tmp_path / "run"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    ran = subprocess.run([sys.executable, "-m", "pytest", *PLUGIN, "-p", "no:cacheprovider", "-p", "no:xdist",
                          "-q", "-s", "--vh-run-dir", str(run_dir)],
                         cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300, check=False)
    assert ran.returncode == 0, ran.stdout[-4000:] + ran.stderr[-4000:]
    (call_id,) = [line.split()[1] for line in ran.stdout.splitlines() if line.startswith("CALL ")]
    assert [p.name for p in iter_call_dirs(run_dir)] == [call_id]
    assert {m.call_id for m in read_results(run_dir)} == {call_id}
    assert (run_dir / "run.json").is_file()

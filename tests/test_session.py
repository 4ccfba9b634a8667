"""``voice-harness run`` option plumbing that needs no call."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from harness.cli import app
from harness.executors.local import LocalExecutor
from harness.executors.worker import WorkerConfig
from harness.session import RunRequest, UsageError, _executor


def test_local_workers_by_default_and_a_clear_error_without_ray(monkeypatch: pytest.MonkeyPatch) -> None:
    request = RunRequest(paths=(Path("suites/smoke"),), endpoints=("x",), concurrency=6, workers=3)
    executor = _executor(request, WorkerConfig())
    assert isinstance(executor, LocalExecutor) and executor.n_workers == 3
    assert executor.admission.max_calls == 2  # each worker's share of --concurrency
    monkeypatch.setitem(sys.modules, "ray", None)  # as if Ray were not installed
    monkeypatch.delitem(sys.modules, "harness.executors.ray", raising=False)
    with pytest.raises(UsageError, match=r"pip install 'voice-harness\[ray\]'"):
        _executor(RunRequest(paths=(), endpoints=(), ray="auto"), WorkerConfig())


def test_bad_guard_threshold_is_a_usage_error(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["run", "suites/smoke", "-e", "openai-realtime+http://127.0.0.1:1",
                                      "--out", str(tmp_path), "--guard", "send_p99=3"])
    assert result.exit_code == 2
    assert "bad guard threshold" in result.output and not any(tmp_path.iterdir())

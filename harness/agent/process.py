"""Start the reference agent in its own process, as the demo, tests and benchmarks do.

A separate process gives it its own event loop (so the caller's timing is not disturbed
by the agent's work) while sharing CLOCK_MONOTONIC, which is what makes its ground-truth
log comparable with the caller's measurements.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType

from harness.agent.server import READY_PREFIX

START_TIMEOUT_S = 60.0


class AgentStartError(RuntimeError):
    pass


class AgentProcess:
    """``with AgentProcess(["--delay", "500"], truth_log=p) as agent: agent.url``"""

    def __init__(self, args: list[str] | None = None, *, truth_log: Path | None = None,
                 port: int = 0, host: str = "127.0.0.1", prefix: Sequence[str] = ()) -> None:
        """``prefix``: a command to run the agent under (benchmarks: ``taskset -c 1``)."""
        self.args = list(args or [])
        self.prefix = list(prefix)
        self.truth_log = truth_log
        self.port = port
        self.host = host
        self.url = ""
        self._proc: subprocess.Popen[str] | None = None
        self._stderr: list[str] = []

    def start(self) -> AgentProcess:
        cmd = [*self.prefix, sys.executable, "-m", "harness", "agent", "serve", "--host", self.host,
               "--port", str(self.port), *self.args]
        if self.truth_log is not None:
            cmd += ["--truth-log", str(self.truth_log)]
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        self._proc = subprocess.Popen(
            cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env
        )
        threading.Thread(target=self._collect_stderr, daemon=True).start()
        deadline = time.monotonic() + START_TIMEOUT_S
        assert self._proc.stdout is not None
        ready: list[str] = []
        reader = threading.Thread(target=lambda: ready.append(self._proc.stdout.readline()),  # type: ignore[union-attr]
                                  daemon=True)
        reader.start()
        reader.join(max(0.0, deadline - time.monotonic()))
        line = ready[0] if ready else ""
        if not line.startswith(READY_PREFIX):
            self.stop()
            tail = "".join(self._stderr[-20:])
            raise AgentStartError(f"reference agent did not start: {line.strip()!r}\n{tail}")
        self.url = line[len(READY_PREFIX):].strip()
        return self

    def _collect_stderr(self) -> None:
        assert self._proc is not None and self._proc.stderr is not None
        for line in self._proc.stderr:
            self._stderr.append(line)
            del self._stderr[:-200]

    @property
    def stderr(self) -> str:
        return "".join(self._stderr)

    def stop(self, timeout_s: float = 10.0) -> None:
        proc = self._proc
        if proc is None or proc.poll() is not None:
            return
        proc.terminate()
        try:
            proc.wait(timeout_s)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout_s)

    def __enter__(self) -> AgentProcess:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()

"""``make bench`` collects the benchmarks, and a plain ``pytest`` (``make test``) does not.

The benchmarks are ``bench_*.py`` so the normal run never collects them; the bench
target widens ``python_files``. Both sides are checked with ``--collect-only`` (nothing
is run): the target's own command line, read from ``make -n bench``.
"""

from __future__ import annotations

import shlex
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _collect(args: list[str]) -> list[str]:
    out = subprocess.run([sys.executable, "-m", "pytest", *args, "--collect-only", "-q", "-p", "no:cacheprovider"],
                         cwd=ROOT, capture_output=True, text=True, timeout=300, check=False)
    assert out.returncode in (0, 5), out.stdout + out.stderr  # 5: nothing collected
    return [line for line in out.stdout.splitlines() if "::" in line]


def test_make_bench_collects_the_benchmarks() -> None:
    dry = subprocess.run(["make", "-n", "bench"], cwd=ROOT, capture_output=True, text=True,
                         timeout=60, check=True).stdout
    (command,) = [line for line in dry.splitlines() if " -m pytest " in line]
    args = shlex.split(command)
    args = args[args.index("pytest") + 1:]
    items = _collect(args)
    assert "tests/bench/bench_report.py::test_bench_report_200_calls" in items, items
    assert "tests/bench/bench_asr.py::test_bench_asr" in items, items


def test_a_plain_pytest_run_collects_no_benchmark() -> None:
    items = _collect(["tests/bench"])
    assert not [i for i in items if "/bench_" in i], items

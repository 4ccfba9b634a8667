"""The heavy families are extras, and a core install works without them.

- pyproject's extras bring the modules ``harness.extras`` says they do;
- with every extra's modules hidden, each module of the package imports (but the Ray
  executor, which is the ``ray`` extra), and a real aiortc call runs and is scored;
- a command that needs a missing extra exits 2 naming it (``pip install
  'voice-harness[X]'``), never with an ImportError traceback.

Hiding: ``sys.modules[name] = None`` makes ``import name`` fail as if the package were
absent. In-process for the CLI checks; in a subprocess (a ``sitecustomize`` on
PYTHONPATH, inherited by the reference agent and the caller workers) for the imports
and the call. Metrics without their extras: tests/metrics/test_missing_extras.py.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tomllib
from importlib.metadata import packages_distributions
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from typer.testing import CliRunner

import harness
from harness.agent.cli import agent_app
from harness.agent.process import AgentProcess
from harness.cli import app
from harness.corpus import tts
from harness.corpus.cli import corpus_app
from harness.corpus.model import Corpus
from harness.extras import EXTRAS, MissingExtra, install_hint, missing_modules, require

REPO = Path(harness.__file__).resolve().parent.parent
HIDDEN = sorted({module for modules in EXTRAS.values() for module in modules})
SMOKE = REPO / "suites" / "smoke" / "smoke_single_turn.yaml"


def _pyproject() -> dict[str, object]:
    return tomllib.loads((REPO / "pyproject.toml").read_text())


def _names(requirements: list[str]) -> set[str]:
    return {canonicalize_name(Requirement(r).name) for r in requirements}


def test_each_extra_brings_the_modules_the_code_imports() -> None:
    project = _pyproject()["project"]
    assert isinstance(project, dict)
    extras: dict[str, list[str]] = project["optional-dependencies"]
    provided = {module: {canonicalize_name(d) for d in dists} for module, dists in packages_distributions().items()}
    for extra, modules in EXTRAS.items():
        listed = _names(extras[extra])
        for module in modules:
            assert provided.get(module, set()) & listed, f"extra {extra!r} lists {sorted(listed)}, none provides {module}"
    core = _names(project["dependencies"])
    for module in HIDDEN:
        assert not provided.get(module, set()) & core, f"{module} is an extra's, but a core dependency brings it"
    assert extras["all"] == [f"voice-harness[{','.join(EXTRAS)}]"]


def test_this_environment_has_every_extra() -> None:
    """``make`` installs them all, so every test that needs one runs here."""
    assert {extra: missing_modules(extra) for extra in EXTRAS} == {extra: [] for extra in EXTRAS}


def test_the_error_names_the_extra_and_the_command() -> None:
    error = MissingExtra("asr", "WER", ModuleNotFoundError(name="faster_whisper"))
    assert isinstance(error, ImportError)
    assert str(error) == "WER needs the 'asr' extra (faster_whisper is not installed): pip install 'voice-harness[asr]'"
    with pytest.raises(ValueError, match="unknown extra"):
        install_hint("gpu")


def _hide(monkeypatch: pytest.MonkeyPatch, extra: str) -> None:
    for module in EXTRAS[extra]:
        monkeypatch.setitem(sys.modules, module, None)
    with pytest.raises(MissingExtra):
        require(extra, "the test")


def _run(corpus: Corpus, tmp_path: Path, *extra_args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, ["run", str(SMOKE), "-e", "openai-realtime+http://127.0.0.1:9",
                                      "--corpus", str(corpus.root), "--out", str(tmp_path), *extra_args])
    return result.exit_code, result.output


def test_browser_caller_without_the_extra_is_exit_2(corpus: Corpus, tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    _hide(monkeypatch, "browser")
    code, output = _run(corpus, tmp_path, "--caller", "browser")
    assert code == 2 and install_hint("browser") in output and "Traceback" not in output
    assert not any(tmp_path.iterdir())  # refused before a run folder was made


def test_ray_without_the_extra_is_exit_2(corpus: Corpus, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _hide(monkeypatch, "ray")
    monkeypatch.delitem(sys.modules, "harness.executors.ray", raising=False)  # imported again, without ray
    code, output = _run(corpus, tmp_path, "--ray", "auto")
    assert code == 2 and install_hint("ray") in output and "Traceback" not in output


@pytest.mark.parametrize("extra", ["asr", "tts"])
def test_the_tts_agent_without_its_extras_is_exit_2(extra: str, monkeypatch: pytest.MonkeyPatch) -> None:
    _hide(monkeypatch, extra)
    result = CliRunner().invoke(agent_app, ["--port", "0", "--mode", "tts"])
    assert result.exit_code == 2, result.output
    assert install_hint(extra) in result.output and "Traceback" not in result.output


def test_building_a_corpus_without_any_tts_names_the_extra(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _hide(monkeypatch, "tts")
    monkeypatch.setattr(tts, "_espeak_binary", lambda: None)  # as on a machine without espeak-ng
    script = tmp_path / "script.yaml"
    script.write_text("schema_version: 1\nname: t\nitems:\n  - {id: a, text: Hello.}\n")
    result = CliRunner().invoke(corpus_app, ["build", "--script", str(script), "--out", str(tmp_path / "out")])
    assert result.exit_code == 2, result.output
    assert install_hint("tts") in result.output and "espeak-ng" in result.output


HIDE_SITE = """\
import os, sys
for name in os.environ["VH_TEST_HIDE"].split(","):
    sys.modules[name] = None
"""

CORE_IMPORTS = """\
import importlib, json, pkgutil, sys
import harness
failed = {}
for info in pkgutil.walk_packages(harness.__path__, "harness."):
    if info.name.endswith("__main__"):
        continue
    try:
        importlib.import_module(info.name)
    except ImportError as exc:
        failed[info.name] = str(exc)
loaded = [name for name in sys.argv[1].split(",") if sys.modules.get(name) is not None]
print(json.dumps({"failed": failed, "loaded": loaded}))
"""


@pytest.fixture
def core_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """The environment of a core install: every extra's module hidden in every process started."""
    site = tmp_path / "core-site"
    site.mkdir()
    (site / "sitecustomize.py").write_text(HIDE_SITE)
    monkeypatch.setenv("PYTHONPATH", str(site))
    monkeypatch.setenv("VH_TEST_HIDE", ",".join(HIDDEN))
    return dict(os.environ)


@pytest.mark.slow
def test_every_module_but_the_ray_executor_imports_without_the_extras(core_env: dict[str, str]) -> None:
    done = subprocess.run([sys.executable, "-c", CORE_IMPORTS, ",".join(HIDDEN)], env=core_env,
                          capture_output=True, text=True, timeout=180, check=True)
    outcome = json.loads(done.stdout.strip().splitlines()[-1])
    assert outcome["loaded"] == []  # really hidden
    assert list(outcome["failed"]) == ["harness.executors.ray"]
    assert "ray" in outcome["failed"]["harness.executors.ray"]


CORE_CALL = """\
import json, sys
from typer.testing import CliRunner
from harness.cli import app
result = CliRunner().invoke(app, sys.argv[2:])
loaded = [name for name in sys.argv[1].split(",") if sys.modules.get(name) is not None]
print(json.dumps({"code": result.exit_code, "output": result.output[-3000:], "loaded": loaded}))
"""


@pytest.mark.network
@pytest.mark.slow
def test_a_core_install_places_and_scores_an_aiortc_call(
    core_env: dict[str, str], corpus: Corpus, tmp_path: Path
) -> None:
    """A corpus built elsewhere (a core install has no TTS: ``--corpus``), the reference
    agent in echo mode, the aiortc caller: all without any extra, and the turn measured."""
    with AgentProcess(["--delay", "300"]) as agent:  # started in core_env too (inherits os.environ)
        args = ["run", str(SMOKE), "-e", f"openai-realtime+{agent.url}", "--corpus", str(corpus.root),
                "--out", str(tmp_path / "reports"), "--run-id", "core"]
        done = subprocess.run([sys.executable, "-c", CORE_CALL, ",".join(HIDDEN), *args], env=core_env,
                              capture_output=True, text=True, timeout=240, check=True)
    outcome = json.loads(done.stdout.strip().splitlines()[-1])
    assert outcome["loaded"] == [], outcome
    assert outcome["code"] == 0, outcome["output"]
    rows = [json.loads(line) for line in (tmp_path / "reports" / "core" / "results.jsonl").read_text().splitlines()]
    latency = [r for r in rows if r.get("metric") == "turn_latency_ms"]
    assert len(latency) == 1 and latency[0]["value"] is not None
    assert 300 <= latency[0]["value"] < 2000  # the agent's 300 ms delay, plus its endpointing

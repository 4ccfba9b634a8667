"""``voice-harness init``: what it writes is valid for the harness's own loaders, and it
never overwrites a file without ``--force``.

The scaffold is checked the way the harness will read it (endpoints, scenarios against
the built-in corpus, the SLO file, the pytest ini, the workflow's steps). Whether the
scaffolded suite really runs, from a wheel in a fresh virtualenv, is
tests/test_packaging_wheel.py.
"""

from __future__ import annotations

import configparser
import re
import tomllib
from importlib.metadata import version
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner, Result

from harness.cli import app
from harness.cli.init_cmd import PYTEST_INI, SCAFFOLD, WORKFLOW
from harness.corpus.model import Corpus
from harness.endpoints.config import load_endpoints
from harness.records import Dialect
from harness.scenario.loader import load_all
from harness.slo.rules import load_slo_file

FILES = sorted(f.path for f in SCAFFOLD)


def _init(*args: str | Path) -> Result:
    return CliRunner().invoke(app, ["init", *(str(a) for a in args)])


def _tree(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file())


def test_init_writes_the_scaffold_into_a_new_folder(tmp_path: Path) -> None:
    folder = tmp_path / "voice"
    result = _init(folder)
    assert result.exit_code == 0, result.output
    assert _tree(folder) == FILES
    for name in FILES:
        assert name in result.output
    assert "voice-harness run suites -e local --slo slo.toml" in result.output


def test_endpoints_has_the_reference_agent_and_a_valid_commented_example_per_dialect(tmp_path: Path) -> None:
    assert _init(tmp_path).exit_code == 0
    text = (tmp_path / "endpoints.toml").read_text()
    active = load_endpoints(tmp_path / "endpoints.toml")
    assert list(active) == ["local"]
    assert active["local"].dialect is Dialect.OPENAI_REALTIME and active["local"].url == "http://127.0.0.1:8765"
    # Uncomment every example block: it must load, and cover every dialect the harness speaks.
    blocks = re.findall(r"^# (\[endpoints\.[^\]]+\]\n(?:# \S.*\n)*)", text, flags=re.MULTILINE)
    examples = tmp_path / "examples.toml"
    examples.write_text("schema_version = 1\n" + "\n".join(re.sub(r"^# ", "", b, flags=re.MULTILINE) for b in blocks))
    loaded = load_endpoints(examples)
    assert sorted({spec.dialect for spec in loaded.values()}) == sorted(Dialect)
    assert len(loaded) == len(Dialect)  # one each
    assert "sk-" not in text and "api_key =" not in text  # keys come from variables, never the file


def test_the_suite_loads_against_the_builtin_corpus(tmp_path: Path, corpus: Corpus) -> None:
    assert _init(tmp_path).exit_code == 0
    scenarios, errors = load_all([tmp_path / "suites"], corpus)
    assert errors == []
    assert sorted(s.id for s in scenarios) == ["first_call", "interrupt"]


def test_slo_is_the_shipped_example_naming_itself(tmp_path: Path) -> None:
    assert _init(tmp_path).exit_code == 0
    slo = load_slo_file(tmp_path / "slo.toml")
    assert {rule.metric for rule in slo.rules} >= {"turn_latency_ms", "call_failed"}
    text = (tmp_path / "slo.toml").read_text()
    assert "ci/slo.toml" not in text and "--slo slo.toml" in text


def test_pytest_ini_points_the_plugin_at_the_suite(tmp_path: Path) -> None:
    assert _init(tmp_path).exit_code == 0
    ini = configparser.ConfigParser()
    ini.read(tmp_path / PYTEST_INI)
    assert ini["pytest"]["vh_suites"] == "suites"
    assert ini["pytest"]["vh_slo"] == "slo.toml"


def test_the_workflow_installs_waits_with_a_timeout_runs_and_uploads(tmp_path: Path) -> None:
    assert _init(tmp_path).exit_code == 0
    workflow = yaml.safe_load((tmp_path / WORKFLOW).read_text())
    steps = workflow["jobs"]["voice"]["steps"]
    runs = [s.get("run", "") for s in steps]
    install = next(r for r in runs if "pip install" in r)
    assert f"voice-harness[tts]=={version('voice-harness')}" in install
    wait = next(r for r in runs if "endpoints check" in r)
    assert re.match(r"timeout \d+ ", wait), wait  # bounded, not a sleep
    assert not any(re.search(r"(^|;|&&)\s*sleep ", r) for r in runs if r is not wait)
    run_step = next(r for r in runs if "voice-harness run" in r)
    assert "--slo slo.toml" in run_step and "--out reports --run-id ci" in run_step
    upload = next(s for s in steps if str(s.get("uses", "")).startswith("actions/upload-artifact"))
    assert upload["if"] == "always()" and "reports/ci" in upload["with"]["path"]
    assert workflow["jobs"]["voice"]["timeout-minutes"] <= 60


def test_an_existing_file_is_never_overwritten_without_force(tmp_path: Path) -> None:
    (tmp_path / "slo.toml").write_text("mine\n")
    (tmp_path / "notes.txt").write_text("unrelated\n")
    result = _init(tmp_path)
    assert result.exit_code == 2
    assert "slo.toml" in result.output and "--force" in result.output and "Traceback" not in result.output
    assert _tree(tmp_path) == ["notes.txt", "slo.toml"]  # nothing written
    assert (tmp_path / "slo.toml").read_text() == "mine\n"

    forced = _init(tmp_path, "--force")
    assert forced.exit_code == 0, forced.output
    assert _tree(tmp_path) == sorted([*FILES, "notes.txt"])
    assert "schema_version = 1" in (tmp_path / "slo.toml").read_text()


def test_force_replaces_a_symlink_instead_of_writing_through_it(tmp_path: Path) -> None:
    outside = tmp_path / "outside.toml"
    outside.write_text("keep me\n")
    folder = tmp_path / "voice"
    folder.mkdir()
    (folder / "endpoints.toml").symlink_to(outside)
    assert _init(folder).exit_code == 2
    assert _init(folder, "--force").exit_code == 0
    assert outside.read_text() == "keep me\n"
    assert not (folder / "endpoints.toml").is_symlink()


def test_a_folder_whose_pyproject_configures_pytest_gets_no_pytest_ini(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text('[tool.pytest.ini_options]\naddopts = "-ra"\n')
    result = _init(tmp_path)
    assert result.exit_code == 0, result.output
    assert not (tmp_path / PYTEST_INI).exists()  # it would silently replace the team's settings
    assert 'vh_suites = ["suites"]' in result.output
    snippet = tomllib.loads("[x]\n" + 'vh_suites = ["suites"]\nvh_slo = "slo.toml"')
    assert snippet["x"]["vh_suites"] == ["suites"]


@pytest.mark.parametrize("make", ["file", "dir-in-the-way"])
def test_an_unusable_target_is_exit_2_with_nothing_written(tmp_path: Path, make: str) -> None:
    if make == "file":
        target = tmp_path / "voice"
        target.write_text("")
        result = _init(target)
        assert result.exit_code == 2 and "not a folder" in result.output
        return
    (tmp_path / "slo.toml").mkdir()
    (tmp_path / ".github").write_text("")  # a file where the workflow's folder goes
    result = _init(tmp_path, "--force")
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert "slo.toml" in result.output and WORKFLOW in result.output
    assert _tree(tmp_path) == [".github"]  # nothing written

"""The GitHub Actions examples in ci/workflows/ run commands that exist, wait for the
agent by asking it, cache what the corpus build writes, and keep the nightly green
against the reference agents by design.

No call and no runner: each step's script is run by bash as a runner would (``bash -eo
pipefail``, ``$GITHUB_ENV`` carried to the next steps), with ``voice-harness`` and
``sleep`` replaced by stubs that log their arguments. Every logged command line is then
parsed by the real CLI (click), so an option the CLI does not have, a bad choice or a
missing value fails here rather than in a user's first night.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import typer
import yaml
from typer.exceptions import TyperException

from harness.cli import app
from harness.corpus.defaults import DIR_ENV, default_corpus_dir
from harness.plan import parse_route, plan, select
from harness.records import CallerKind, Dialect, EndpointSpec
from harness.scenario.loader import load_all

REPO = Path(__file__).resolve().parents[1]
WORKFLOWS = sorted((REPO / "ci" / "workflows").glob("*.y*ml"))
BASH = ["bash", "--noprofile", "--norc", "-eo", "pipefail"]  # what `run:` uses on ubuntu runners

STUB = """#!{python}
import json, os, sys
args = sys.argv[1:]
log = os.environ["VH_STUB_LOG"]
with open(log, "a") as f:
    f.write(json.dumps(args) + "\\n")
if args[:2] == ["endpoints", "check"]:
    if os.environ.get("VH_STUB_CHECK") == "bad":
        sys.exit(2)
    tried = log + ".checked"
    seen = open(tried).read().split("\\n") if os.path.exists(tried) else []
    with open(tried, "a") as f:
        f.write(args[2] + "\\n")
    sys.exit(0 if args[2] in seen else 1)  # not ready at the first try, ready at the second
"""


@dataclass
class Simulated:
    commands: list[list[str]] = field(default_factory=list)
    """Every voice-harness command line, in order."""
    env: dict[str, str] = field(default_factory=dict)
    """What the steps added to ``$GITHUB_ENV``."""
    sleeps: int = 0


def _load(path: Path) -> dict[str, Any]:
    loaded = yaml.safe_load(path.read_text())
    assert isinstance(loaded, dict)
    return loaded


def _jobs(path: Path) -> list[dict[str, Any]]:
    return list(_load(path)["jobs"].values())


def _expr(text: str) -> str:
    """The few ``${{ }}`` expressions the scripts use, as a runner without inputs sees them."""
    def one(match: re.Match[str]) -> str:
        expr = match.group(1).strip()
        default = re.fullmatch(r"inputs\.\w+ \|\| '([^']*)'", expr)
        if default:
            return default.group(1)
        if expr.startswith("secrets."):
            return ""  # no secret: the reference agent
        raise AssertionError(f"unexpected expression in a run script: {expr}")
    return re.sub(r"\$\{\{(.*?)\}\}", one, text)


def _runs(condition: str | None, env: Mapping[str, str]) -> bool:
    if condition is None or condition == "always()":
        return True
    if condition == "env.VOICE_ENDPOINT == ''":
        return env.get("VOICE_ENDPOINT", "") == ""
    if condition == "github.event_name == 'pull_request'":
        return False
    raise AssertionError(f"unexpected step condition: {condition}")


def simulate(job: dict[str, Any], tmp: Path, secrets: Mapping[str, str] = {},
             check: str = "late") -> Simulated:
    """Run the job's scripts that call voice-harness, in order, against the stubs."""
    bin_dir, work = tmp / "bin", tmp / "work"
    bin_dir.mkdir(parents=True, exist_ok=True)
    work.mkdir(exist_ok=True)
    (bin_dir / "voice-harness").write_text(STUB.format(python=sys.executable))
    (bin_dir / "sleep").write_text(f'#!/bin/sh\necho sleep >> "{tmp}/sleeps"\n')
    for stub in bin_dir.iterdir():
        stub.chmod(0o755)
    log, github_env = tmp / "commands.jsonl", tmp / "github_env"
    github_env.write_text("")
    env = {k: _expr(str(v)) for k, v in job.get("env", {}).items()}
    env.update(secrets)
    out = Simulated()
    for step in job["steps"]:
        script = step.get("run")
        if script is None or "voice-harness" not in script or not _runs(step.get("if"), env):
            continue
        # Background stubs (``agent serve ... &``) log their command line as they start: wait
        # for them, or a busy machine reads the log first (a CI run lost a serve line so).
        done = subprocess.run(
            [*BASH, "-c", f"{_expr(script)}\nstatus=$?\nwait\nexit $status"], cwd=work, capture_output=True, text=True, timeout=60,
            env={**os.environ, **env, "PATH": f"{bin_dir}:{os.environ['PATH']}", "VH_STUB_LOG": str(log),
                 "VH_STUB_CHECK": check, "GITHUB_ENV": str(github_env),
                 "GITHUB_OUTPUT": str(tmp / "github_output")})
        if done.returncode != 0:
            raise StepFailed(step.get("name", script), done.returncode, done.stdout + done.stderr)
        for line in github_env.read_text().splitlines():
            key, _, value = line.partition("=")
            env[key] = out.env[key] = value
        github_env.write_text("")
    out.commands = [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []
    out.sleeps = len((tmp / "sleeps").read_text().split()) if (tmp / "sleeps").exists() else 0
    return out


class StepFailed(Exception):
    def __init__(self, name: str, code: int, output: str) -> None:
        super().__init__(f"step {name!r} exited {code}: {output}")
        self.code = code


def parse_command(argv: list[str]) -> Any:
    """The voice-harness CLI's own parse of a command line (no command runs): its click
    context, whose ``params`` hold the parsed options. Typer vendors click, so its
    groups are told apart by what they do, not by click's classes."""
    command: Any = typer.main.get_command(app)
    args = list(argv)
    name = "voice-harness"
    while hasattr(command, "get_command"):
        name = args.pop(0)
        sub = command.get_command(typer.Context(command), name)
        assert sub is not None, f"voice-harness has no command {name!r} ({argv})"
        command = sub
    return command.make_context(name, args)


# --------------------------------------------------------------------------- tests


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.name)
def test_every_command_a_workflow_runs_exists_with_its_options(path: Path, tmp_path: Path) -> None:
    (job,) = _jobs(path)
    for name, secrets in (("reference agent", {}),
                          ("own bot", {"VOICE_ENDPOINT": "openai-realtime+https://bot.example.com/v1"})):
        sim = simulate(job, tmp_path / name.replace(" ", "-"), secrets)
        assert sim.commands, f"{path.name} ({name}) runs no voice-harness command"
        for argv in sim.commands:
            try:
                parse_command(argv)
            except TyperException as exc:  # click's usage errors
                raise AssertionError(f"{path.name} ({name}): voice-harness {' '.join(argv)}: {exc}") from None
        main = [a for a in sim.commands if a[0] in ("run", "soak")]
        assert len(main) == 1 and main[0][main[0].index("-e") + 1] == (
            secrets.get("VOICE_ENDPOINT") or "openai-realtime+http://127.0.0.1:8799")


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.name)
def test_the_reference_agent_is_waited_for_by_asking_it_with_a_timeout(path: Path, tmp_path: Path) -> None:
    (job,) = _jobs(path)
    (start,) = [s for s in job["steps"] if "agent serve" in s.get("run", "")]
    assert 0 < start["timeout-minutes"] <= 10 and "endpoints check" in start["run"]
    sim = simulate(job, tmp_path / "late")
    serves = [a for a in sim.commands if a[:2] == ["agent", "serve"]]
    checks = [a for a in sim.commands if a[:2] == ["endpoints", "check"]]
    agents = {f"openai-realtime+http://127.0.0.1:{a[a.index('--port') + 1]}" for a in serves}
    # Each agent was asked until it answered: not ready at the first check, ready at the second.
    assert sorted(a[2] for a in checks) == sorted([*agents, *agents])
    assert sim.sleeps == len(agents) and sim.env["VOICE_ENDPOINT"] in agents
    # A check that says the input is bad (exit 2) ends the step at once, with the reason.
    with pytest.raises(StepFailed) as failed:
        simulate(job, tmp_path / "bad", check="bad")
    assert failed.value.code == 1


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.name)
def test_the_corpus_cache_keeps_the_folder_the_build_writes(path: Path, monkeypatch: pytest.MonkeyPatch,
                                                            tmp_path: Path) -> None:
    (job,) = _jobs(path)
    (cache,) = [s for s in job["steps"] if str(s.get("uses", "")).startswith("actions/cache@")]
    assert cache["with"]["path"] == "${{ env." + DIR_ENV + " }}"
    folder = job["env"][DIR_ENV]
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv(DIR_ENV, folder)
    assert default_corpus_dir() == tmp_path / folder.removeprefix("~/")
    assert "hashFiles(" in cache["with"]["key"]
    builds = [s for s in job["steps"] if s.get("run", "").strip() == "voice-harness corpus build"]
    assert builds and job["steps"].index(builds[0]) > job["steps"].index(cache)


def test_the_nightly_sends_tts_scenarios_to_a_tts_agent_and_skips_echo_ones_for_a_bot(tmp_path: Path) -> None:
    """Against the echo agent, accuracy_tts_answers failed every night by design."""
    (job,) = _jobs(REPO / "ci" / "workflows" / "voice-nightly.yml")
    scenarios, errors = load_all([REPO / "suites"])
    assert not errors

    def chosen(argv: list[str]) -> dict[str, set[str]]:
        ctx = parse_command(argv)
        given = ctx.params["endpoint"]
        specs = [EndpointSpec(name=g, dialect=Dialect.OPENAI_REALTIME, url="http://x") for g in given]
        routes = [parse_route(r) for r in ctx.params["route"] or []]
        picked = select(scenarios, list(zip(given, specs, strict=True)), tags=ctx.params["tag"] or (),
                        skip_tags=ctx.params["skip_tag"] or (), routes=routes)
        by_endpoint: dict[str, set[str]] = {}
        for spec in plan(picked.scenarios, specs, [CallerKind.AIORTC], routes=picked.routes).specs:
            by_endpoint.setdefault(spec.endpoint.name, set()).add(spec.scenario.id)
        return by_endpoint

    (run,) = [a for a in simulate(job, tmp_path / "agents").commands if a[0] == "run"]
    planned = chosen(run)
    echo, tts = "openai-realtime+http://127.0.0.1:8799", "openai-realtime+http://127.0.0.1:8798"
    assert planned[tts] == {"accuracy_tts_answers"}
    assert "accuracy_tts_answers" not in planned[echo] and "accuracy_echo_repeat" in planned[echo]
    assert len(planned[echo]) == len(scenarios) - 1

    bot = "openai-realtime+https://bot.example.com/v1"
    (run,) = [a for a in simulate(job, tmp_path / "bot", {"VOICE_ENDPOINT": bot}).commands if a[0] == "run"]
    planned = chosen(run)
    assert set(planned) == {bot} and "accuracy_tts_answers" in planned[bot]
    assert not {s.id for s in scenarios if "echo" in s.tags} & planned[bot]

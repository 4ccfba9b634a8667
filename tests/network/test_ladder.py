"""The ladder multiplies the plan; the CLI refuses bad profile text before anything runs."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from harness.cli import app
from harness.corpus.model import Corpus
from harness.exit_codes import EXIT_USAGE
from harness.network.ladder import on_ladder
from harness.network.profiles import parse_ladder
from harness.records import CallerKind, CallSpec, Dialect, EndpointSpec, Scenario


def test_every_call_runs_once_per_step_with_its_own_id() -> None:
    endpoint = EndpointSpec(name="e", dialect=Dialect.WHIP, url="http://127.0.0.1:1/whip")
    specs = [CallSpec(call_id=f"s{i}-aiortc-r0-abc", scenario=Scenario(id=f"s{i}", steps=()), endpoint=endpoint,
                      caller=CallerKind.AIORTC) for i in range(2)]
    ladder = parse_ladder("clean,4g,3g-lossy")
    out = on_ladder(specs, ladder)
    assert [(s.call_id, s.network.name if s.network else None) for s in out] == [
        ("s0-aiortc-r0-abc-net0-clean", "clean"), ("s1-aiortc-r0-abc-net0-clean", "clean"),
        ("s0-aiortc-r0-abc-net1-4g", "4g"), ("s1-aiortc-r0-abc-net1-4g", "4g"),
        ("s0-aiortc-r0-abc-net2-3g-lossy", "3g-lossy"), ("s1-aiortc-r0-abc-net2-3g-lossy", "3g-lossy"),
    ]
    assert len({s.call_id for s in out}) == len(out)
    assert on_ladder(specs, ()) == tuple(specs)


@pytest.mark.parametrize(("args", "message"), [
    (["--network", "4g,dealy=5ms"], "unknown field 'dealy'"),
    (["--network", "lte"], "unknown profile 'lte'"),
    (["--network-ladder", "clean,lte"], "unknown profile 'lte'"),
    (["--network", "4g", "--network-ladder", "clean,4g"], "give --network or --network-ladder, not both"),
])
def test_run_refuses_bad_network_options_with_exit_2(tmp_path: Path, args: list[str], message: str) -> None:
    result = CliRunner().invoke(app, ["run", str(tmp_path), "-e", "whip+http://127.0.0.1:9/whip",
                                      "--out", str(tmp_path / "reports"), *args])
    assert result.exit_code == EXIT_USAGE, result.output
    assert message in " ".join(result.output.split())
    assert not (tmp_path / "reports").exists()  # nothing ran


def test_soak_refuses_a_bad_profile_with_exit_2(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["soak", str(tmp_path), "-e", "whip+http://127.0.0.1:9/whip",
                                      "--out", str(tmp_path / "reports"), "--network", "4g,jitter=lots"])
    assert result.exit_code == EXIT_USAGE, result.output
    assert "field 'jitter': 'lots' is not a time" in " ".join(result.output.split())
    assert not (tmp_path / "reports").exists()


def test_endpoints_check_refuses_a_bad_profile_with_exit_2() -> None:
    result = CliRunner().invoke(app, ["endpoints", "check", "whip+http://127.0.0.1:9/whip", "--network", "loss=2"])
    assert result.exit_code == EXIT_USAGE
    assert "field 'loss': '2' is not a probability between 0 and 100%" in " ".join(result.output.split())


def test_a_websocket_call_asked_to_run_over_a_network_is_a_recorded_failure(corpus: Corpus) -> None:
    """The relay carries UDP media; a WebSocket dialect's call is refused with the reason,
    never run unimpaired while the user asked for a network."""
    import asyncio

    from harness.callers.base import CallerSettings
    from harness.callers.websocket import WebSocketCaller
    from harness.network.profiles import parse_profile

    endpoint = EndpointSpec(name="ws", dialect=Dialect.WEBSOCKET_PCM, url="ws://127.0.0.1:9/pcm")
    spec = CallSpec(call_id="ws-1", scenario=Scenario(id="s", steps=()), endpoint=endpoint,
                    caller=CallerKind.WEBSOCKET)
    caller = WebSocketCaller(corpus, CallerSettings(network=parse_profile("4g")))
    failure = asyncio.run(caller.run(spec)).recording.failure
    assert failure is not None and failure.kind == "caller_error"
    assert "network profile '4g'" in failure.reason and "runs over WebSocket" in failure.reason

"""``voice-harness endpoints check | list`` through the real CLI (typer's CliRunner).

Ground truth: the reference agent serves every dialect and really answers, so each
dialect must come out usable (exit 0) with audio both ways; an agent told to refuse
offers and a closed port must come out unusable (exit 1) with the reason, the closed
port quickly; bad input is exit 2. ``list`` must show a key's variable name and never
its value.
"""

from __future__ import annotations

import re
import socket
import time
from pathlib import Path

import numpy as np
import pytest
from rich.console import Console
from support import local_endpoint
from typer.testing import CliRunner

from harness.callers.base import CallArtifacts
from harness.cli import app
from harness.corpus.model import Corpus
from harness.probe import (
    CheckItem,
    CheckReport,
    CheckSettings,
    CheckStatus,
    probe_scenario,
    report_from_call,
)
from harness.records import CallerKind, CallRecording, JSONValue

runner = CliRunner()


def row(output: str, name: str) -> tuple[str, str]:
    """(status, detail) of a table row, from the printed table."""
    match = re.search(rf"│ {re.escape(name)}\s*│ (\w+)\s*│ (.*?)\s*│", output)
    assert match is not None, f"no row {name!r} in:\n{output}"
    return match.group(1), match.group(2)


@pytest.mark.network
@pytest.mark.slow
def test_every_dialect_of_the_reference_agent_is_usable(corpus: Corpus, start_agent) -> None:  # type: ignore[no-untyped-def]
    agent = start_agent("--delay", "300")
    for dialect, route in (("openai-realtime", ""), ("pipecat", ""), ("whip", "/whip")):
        result = runner.invoke(app, ["endpoints", "check", f"{dialect}+{agent.url}{route}",
                                     "--reply-timeout", "4"])
        out = result.output
        assert result.exit_code == 0, out
        assert "usable" in out and "NOT usable" not in out, out
        for name in ("signalling", "media connected", "audio out", "audio in", "agent replied"):
            assert row(out, name)[0] == "ok", (dialect, name, out)
        assert re.match(r"\d+ frames sent", row(out, "audio out")[1]), out
        packets = re.match(r"(\d+) packets received", row(out, "audio in")[1])
        assert packets is not None and int(packets.group(1)) > 50, out  # a reply is >1 s of 20 ms packets
        latency = re.search(r"turn latency (\d+) ms", row(out, "agent replied")[1])
        # The agent answers 300 ms after its 500 ms end-of-turn silence (+ VAD frames).
        assert latency is not None and 750 <= int(latency.group(1)) <= 1100, out
        events = row(out, "events seen")[1]
        if dialect == "whip":
            assert events == "none", out
        else:
            # The row may wrap, but never inside one kind=count.
            assert "speech_stopped=1" in out and "audio_started=1" in out, out
            assert "(endpointing" in row(out, "agent replied")[1], out
        assert row(out, "failures") == ("ok", "none"), out
        dialect_info = "pc_id=" if dialect == "pipecat" else "location="  # the agent's id of the call
        assert "answer SDP received" in row(out, "signalling")[1] and dialect_info in out, out


WS_ROUTES = {"openai-realtime-ws": "/v1/realtime", "twilio-media-streams": "/twilio"}
"""Two WebSocket dialects: the probe's WebSocket path is the same for all (the per-dialect
truth is tests/callers/test_websocket_truth.py)."""


@pytest.mark.network
@pytest.mark.slow
def test_every_websocket_dialect_of_the_reference_agent_is_usable(corpus: Corpus, start_agent) -> None:  # type: ignore[no-untyped-def]
    agent = start_agent("--delay", "300", "--send-ahead-ms", "500")
    base = agent.url.replace("http://", "ws://")
    for dialect, route in WS_ROUTES.items():
        result = runner.invoke(app, ["endpoints", "check", f"{dialect}+{base}{route}", "--reply-timeout", "4"])
        out = result.output
        assert result.exit_code == 0, out
        for name in ("signalling", "media connected", "audio out", "audio in", "agent replied"):
            assert row(out, name)[0] == "ok", (dialect, name, out)
        assert "WebSocket upgrade accepted" in row(out, "signalling")[1], out
        chunks = re.match(r"(\d+) audio chunks received, up to ([\d.]+) ms ahead", row(out, "audio in")[1])
        # A reply is >0.7 s of 20 ms chunks, sent up to 500 ms ahead of playback.
        assert chunks is not None and int(chunks.group(1)) > 35 and float(chunks.group(2)) > 300, out
        latency = re.search(r"turn latency (\d+) ms", row(out, "agent replied")[1])
        assert latency is not None and 750 <= int(latency.group(1)) <= 1100, out
        assert row(out, "failures") == ("ok", "none"), out


@pytest.mark.network
def test_a_refusing_websocket_agent_is_not_usable_and_says_why(corpus: Corpus, start_agent) -> None:  # type: ignore[no-untyped-def]
    agent = start_agent("--refuse-offer")
    result = runner.invoke(app, ["endpoints", "check", f"twilio-media-streams+{agent.url.replace('http', 'ws')}/twilio"])
    out = result.output
    assert result.exit_code == 1, out
    status, detail = row(out, "signalling")
    assert status == "fail" and "offer_refused" in detail and "HTTP 503" in detail and "refuse_offer" in detail, out


@pytest.mark.network
def test_a_refusing_agent_is_not_usable_and_says_why(corpus: Corpus, start_agent) -> None:  # type: ignore[no-untyped-def]
    agent = start_agent("--refuse-offer")
    result = runner.invoke(app, ["endpoints", "check", f"openai-realtime+{agent.url}"])
    out = result.output
    assert result.exit_code == 1, out
    status, detail = row(out, "signalling")
    assert status == "fail" and "offer_refused" in detail and "503" in detail, out
    assert row(out, "media connected")[0] == "skipped", out
    assert row(out, "failures")[0] == "fail", out


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.network
def test_a_wrong_url_fails_quickly(corpus: Corpus) -> None:
    started = time.monotonic()
    result = runner.invoke(app, ["endpoints", "check", f"whip+http://127.0.0.1:{_closed_port()}/whip",
                                 "--signalling-timeout", "2", "--connect-timeout", "2"])
    elapsed = time.monotonic() - started
    assert result.exit_code == 1, result.output
    status, detail = row(result.output, "signalling")
    assert status == "fail" and "connect_error" in detail, result.output
    assert elapsed < 10.0, f"took {elapsed:.1f} s"


def test_bad_input_is_exit_2(tmp_path: Path) -> None:
    unknown = runner.invoke(app, ["endpoints", "check", "nope", "--endpoints-file", str(tmp_path / "missing.toml")])
    assert unknown.exit_code == 2 and "no such file" in unknown.output, unknown.output
    bad_dialect = runner.invoke(app, ["endpoints", "check", "sip+http://127.0.0.1:1"])
    assert bad_dialect.exit_code == 2 and "unknown dialect 'sip'" in bad_dialect.output, bad_dialect.output


def test_an_unknown_utterance_is_exit_2(corpus: Corpus) -> None:
    result = runner.invoke(app, ["endpoints", "check", "whip+http://127.0.0.1:1/whip", "--utterance", "no_such_id"])
    assert result.exit_code == 2 and "no_such_id" in result.output, result.output


def test_list_shows_endpoints_without_secrets(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    secret = "sk-test-NEVERPRINTED0123456789"
    monkeypatch.setenv("CHECK_TEST_KEY", secret)
    monkeypatch.delenv("CHECK_TEST_UNSET", raising=False)
    toml = tmp_path / "endpoints.toml"
    toml.write_text(
        '[endpoints.vendor]\ndialect = "openai-realtime"\nurl = "https://api.example.com"\n'
        'api_key_env = "CHECK_TEST_KEY"\n[endpoints.vendor.options]\nmodel = "m1"\n'
        '[endpoints.other]\ndialect = "whip"\nurl = "https://whip.example.com/w"\napi_key_env = "CHECK_TEST_UNSET"\n'
        '[endpoints.local]\ndialect = "pipecat"\nurl = "http://127.0.0.1:7860"\n',
        encoding="utf-8",
    )
    result = runner.invoke(app, ["endpoints", "list", "--endpoints-file", str(toml)])
    assert result.exit_code == 0, result.output
    out = result.output
    assert secret not in out and "NEVERPRINTED" not in out
    assert re.search(r"vendor\s*│ openai-realtime\s*│ https://api.example.com\s*│ \$CHECK_TEST_KEY \(set\)", out), out
    assert "$CHECK_TEST_UNSET (NOT set)" in out and '"model": "m1"' in out, out
    assert re.search(r"local\s*│ pipecat\s*│ http://127.0.0.1:7860\s*│ -", out), out
    broken = tmp_path / "broken.toml"
    broken.write_text('[endpoints.x]\ndialect = "whip"\n', encoding="utf-8")
    bad = runner.invoke(app, ["endpoints", "list", "--endpoints-file", str(broken)])
    assert bad.exit_code == 2 and "endpoints.x.url" in bad.output, bad.output


def test_report_is_usable_only_when_every_required_stage_is_ok() -> None:
    def report(**statuses: CheckStatus) -> CheckReport:
        items = tuple(CheckItem(name=n, status=statuses.get(n.replace(" ", "_"), CheckStatus.OK), detail="[red]x[/red]")
                      for n in CheckReport.REQUIRED)
        return CheckReport(endpoint="e", dialect="whip", url="http://h", items=items)

    assert report().ok
    assert not report(audio_in=CheckStatus.FAIL).ok
    assert not report(agent_replied=CheckStatus.SKIPPED).ok
    # Endpoint text is printed literally, never read as rich markup.
    console = Console(width=200, record=True)
    console.print(report().table())
    assert "[red]x[/red]" in console.export_text()


@pytest.mark.parametrize(("info", "said"), [
    ({"network_path": "loopback"}, "; media path: loopback"),
    ({"network_path": "non-loopback: 127.0.0.1 -> 192.0.2.2 (the endpoint URL is loopback, its media "
                      "address is not)"}, "; media path: non-loopback: 127.0.0.1 -> 192.0.2.2"),
    ({}, None),  # a caller that records no pair: nothing claimed
])
def test_media_connected_says_where_the_media_went(info: dict[str, JSONValue], said: str | None) -> None:
    rec = CallRecording(call_id="c", scenario_id="probe", endpoint="local", caller=CallerKind.AIORTC,
                        connected_ns=-120_000_000, caller_info=info)
    none = np.zeros(0, dtype=np.float32)
    report = report_from_call(local_endpoint("http://127.0.0.1:8765"), probe_scenario(CheckSettings()),
                              CallArtifacts(recording=rec, caller_audio=none, received_audio=none))
    media = report.item("media connected")
    assert media.status is CheckStatus.OK
    assert media.detail.startswith("ICE + DTLS connected at t=-120 ms")
    if said is None:
        assert "media path" not in media.detail, media.detail
    else:
        assert said in media.detail, media.detail

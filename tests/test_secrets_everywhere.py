"""No key reaches a run folder, a report or the console, whatever the endpoint sends back.

A hostile local endpoint for each dialect echoes what it was sent: the request's
``Authorization`` header as the start of a non-SDP answer body (the 60-character
snippet of the failure reason), the key in a ``Location`` header, the URL's query
string back in a 401 message that also carries rich markup (``[/x]``). The key is not
shaped like one (no ``sk-``), so only knowing the configured secret catches it; a key in
a query string under a name endpoint loading lets through (``auth=``, ``sig=``) is caught
by its parameter name, and one it refuses (``api_key=``) never reaches a call. Every byte under the run folder
(results, recordings, run.json with argv and URLs, junit, html, markdown, allure) and
everything printed is searched.
"""

from __future__ import annotations

import asyncio
import logging
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import pytest
from aiohttp import web
from typer.testing import CliRunner

from harness.cli import app
from harness.redact import install_log_redaction

pytestmark = [pytest.mark.network, pytest.mark.driver]

KEY = "Zq9-hostile-KEY-value-7731xx"
"""Not shaped like any vendor's key: only the configured secret itself can catch it."""
QUERY_KEY = "qk-query-secret-55aa11"
KEY_ENV = "HOSTILE_ENDPOINT_KEY"


def _echo_body(request: web.Request) -> str:
    headers = "\r\n".join(f"{k}: {v}" for k, v in request.headers.items())
    return f"{headers}\r\n\r\nyou asked for {request.path_qs}"


async def _client_secret(request: web.Request) -> web.Response:
    return web.json_response({"value": "ek_" + KEY[::-1], "expires_at": 1})


async def _calls_location(request: web.Request) -> web.Response:
    auth = request.headers.get("Authorization", "")
    return web.Response(status=201, text=_echo_body(request), content_type="text/plain",
                        headers={"Location": f"/v1/realtime/calls/{KEY}?echo={quote(auth)}"})


async def _refuse_401(request: web.Request) -> web.Response:
    auth = request.headers.get("Authorization", "")
    message = f"Incorrect API key provided: {auth} [/x] for {request.path_qs} [bold]"
    return web.json_response({"error": {"message": message, "code": "invalid_api_key"}}, status=401)


async def _pipecat_offer(request: web.Request) -> web.Response:
    return web.Response(status=200, text=_echo_body(request), content_type="text/plain")


async def _whip_offer(request: web.Request) -> web.Response:
    return web.Response(status=201, text=_echo_body(request), content_type="text/plain",
                        headers={"Location": f"/whip/session/{KEY}?token={QUERY_KEY}", "ETag": KEY})


async def _whip_delete(request: web.Request) -> web.Response:
    return web.Response(status=200, text=_echo_body(request))


@pytest.fixture
def hostile_server() -> Iterator[int]:
    """The hostile endpoint on a loop in its own thread (the CLI runs its own loop)."""
    application = web.Application()
    for method, path, handler in [
        ("POST", "/echo/v1/realtime/client_secrets", _client_secret),
        ("POST", "/echo/v1/realtime/calls", _calls_location),
        ("POST", "/refuse/v1/realtime/client_secrets", _refuse_401),
        ("POST", "/api/offer", _pipecat_offer),
        ("POST", "/whip", _whip_offer),
        ("DELETE", "/whip/session/{tail:.*}", _whip_delete),
    ]:
        application.router.add_route(method, path, handler)
    loop = asyncio.new_event_loop()
    runner = web.AppRunner(application)
    loop.run_until_complete(runner.setup())
    site = web.TCPSite(runner, "127.0.0.1", 0)
    loop.run_until_complete(site.start())
    port: int = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    yield port
    loop.call_soon_threadsafe(loop.stop)
    thread.join(timeout=5)
    loop.run_until_complete(runner.cleanup())
    loop.close()


def _forms(secret: str) -> list[bytes]:
    return [secret.encode(), quote(secret, safe="").encode(), secret[::-1].encode()]


def test_no_secret_anywhere_for_every_dialect(tmp_path: Path, hostile_server: int,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(KEY_ENV, KEY)
    port = hostile_server
    base = f"http://127.0.0.1:{port}"
    (tmp_path / "endpoints.toml").write_text(f"""
[endpoints.hostile-openai]
dialect = "openai-realtime"
url = "{base}/echo"
api_key_env = "{KEY_ENV}"

[endpoints.hostile-401]
dialect = "openai-realtime"
url = "{base}/refuse"
api_key_env = "{KEY_ENV}"

[endpoints.hostile-pipecat]
dialect = "pipecat"
url = "{base}?sig={QUERY_KEY}"
api_key_env = "{KEY_ENV}"

[endpoints.hostile-whip]
dialect = "whip"
url = "{base}/whip"
api_key_env = "{KEY_ENV}"
""")
    suite = tmp_path / "suite"
    suite.mkdir()
    (suite / "one.yaml").write_text("id: one_turn\nsteps:\n  - say: q_time\n")
    out = tmp_path / "runs"
    args = ["run", str(suite), "--out", str(out), "--endpoints-file", str(tmp_path / "endpoints.toml"),
            "--signalling-timeout", "15", "--concurrency", "4",
            "-e", f"whip+{base}/whip?auth={QUERY_KEY}"]
    for name in ("hostile-openai", "hostile-401", "hostile-pipecat", "hostile-whip"):
        args += ["-e", name]
    # A real process, so the console is everything it and its worker processes print.
    env = {**os.environ, KEY_ENV: KEY}
    done = subprocess.run([str(Path(sys.executable).with_name("voice-harness")), *args], env=env,
                          capture_output=True, text=True, timeout=240, check=False)
    console = done.stdout + done.stderr
    assert done.returncode == 1, console  # every call failed, the run finished
    (run_dir,) = out.iterdir()

    files = [p for p in run_dir.rglob("*") if p.is_file()]
    names = {p.name for p in files}
    assert {"run.json", "results.jsonl", "junit.xml", "index.html", "summary.md"} <= names
    assert sum(p.name == "recording.json" for p in files) == 5
    assert any(p.parent.name == "allure-results" for p in files)
    for path in files:
        data = path.read_bytes()
        for secret in (KEY, QUERY_KEY):
            for form in _forms(secret):
                assert form not in data, f"{form!r} in {path.relative_to(run_dir)}"
    for secret in (KEY, QUERY_KEY):
        for form in _forms(secret):
            assert form.decode() not in console

    # The failures are still there to read, with the endpoint's words.
    results = (run_dir / "results.jsonl").read_text()
    assert results.count('"metric":"call_failed"') == 5
    assert "is not SDP" in results and "HTTP 401" in results and "not JSON" in results, results
    assert "[/x]" in console  # printed as text, not taken as markup
    run_json = (run_dir / "run.json").read_text()
    assert "auth=***" in run_json and "sig=***" in run_json  # argv and the endpoints' URLs


@pytest.mark.parametrize("where", ["argv", "endpoints.toml"])
def test_a_key_named_as_such_in_a_query_string_is_refused_unechoed(tmp_path: Path, where: str) -> None:
    """A key in a URL's query string would sit in argv, shell history and run.json: the
    run refuses it as a usage error before any call, and never prints it back."""
    url = f"http://127.0.0.1:9/whip?api_key={QUERY_KEY}"
    suite = tmp_path / "suite"
    suite.mkdir()
    (suite / "one.yaml").write_text("id: one_turn\nsteps:\n  - say: q_time\n")
    out = tmp_path / "runs"
    args = ["run", str(suite), "--out", str(out)]
    if where == "argv":
        args += ["-e", f"whip+{url}"]
    else:
        (tmp_path / "endpoints.toml").write_text(f'[endpoints.leaky]\ndialect = "whip"\nurl = "{url}"\n')
        args += ["--endpoints-file", str(tmp_path / "endpoints.toml"), "-e", "leaky"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 2, result.output
    said = " ".join(result.output.split())  # the console wraps long lines
    assert "must not carry a credential in its query string (parameter 'api_key')" in said
    assert "api_key_env" in said  # says what to do instead
    for form in _forms(QUERY_KEY):
        assert form.decode() not in result.output
    assert not out.exists() or not any(out.rglob("results.jsonl"))  # no call was placed


def test_log_records_are_redacted_whichever_handler_writes_them(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv(KEY_ENV, KEY)
    from harness.redact import register_secret_env

    register_secret_env(KEY_ENV)
    install_log_redaction()
    with caplog.at_level(logging.WARNING):
        logging.getLogger("aiortc.some.library").warning("offer to %s failed: %s", f"{KEY}/x",
                                                         "token=abcdef123456")
        try:
            raise RuntimeError(f"boom {KEY}")
        except RuntimeError:
            logging.getLogger("harness.x").exception("failed")
    text = caplog.text
    assert KEY not in text and "abcdef123456" not in text
    assert "offer to ***/x failed: token=***" in text and "boom ***" in text

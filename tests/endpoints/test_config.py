"""endpoints.toml -> EndpointSpec, the dialect+URL form, and secret redaction."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from harness.endpoints.config import (
    EndpointConfigError,
    api_key,
    endpoint_redactor,
    load_endpoints,
    redact,
    require_api_key,
    resolve_endpoint,
    resolve_endpoints,
)
from harness.records import Dialect, EndpointSpec

REPO = Path(__file__).resolve().parents[2]


def write(tmp_path: Path, text: str, name: str = "endpoints.toml") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
    return path


def config_error(path: Path) -> str:
    with pytest.raises(EndpointConfigError) as info:
        load_endpoints(path)
    return str(info.value)


def test_brief_example_loads_exactly(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
        [endpoints.local-agent]
        dialect = "openai-realtime"
        url = "http://127.0.0.1:8765"
        [endpoints.openai]
        dialect = "openai-realtime"
        url = "https://api.openai.com"
        api_key_env = "OPENAI_API_KEY"
        [endpoints.openai.options]
        model = "gpt-realtime"
        turn_detection = { type = "server_vad", silence_duration_ms = 500 }
        """,
    )
    assert load_endpoints(path) == {
        "local-agent": EndpointSpec(
            name="local-agent", dialect=Dialect.OPENAI_REALTIME, url="http://127.0.0.1:8765"
        ),
        "openai": EndpointSpec(
            name="openai",
            dialect=Dialect.OPENAI_REALTIME,
            url="https://api.openai.com",
            api_key_env="OPENAI_API_KEY",
            options={
                "model": "gpt-realtime",
                "turn_detection": {"type": "server_vad", "silence_duration_ms": 500},
            },
        ),
    }


def test_shipped_example_has_every_dialect() -> None:
    specs = load_endpoints(REPO / "endpoints.toml")
    assert {s.dialect for s in specs.values()} == set(Dialect)
    assert {"local-openai", "local-pipecat", "local-whip", "openai"} <= set(specs)
    assert specs["openai"].api_key_env == "OPENAI_API_KEY"
    for spec in specs.values():
        assert spec.name and spec.url.startswith(("http://", "https://", "ws://", "wss://"))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param(
            '[endpoints.a]\ndialect = "openai"\nurl = "http://x"\n',
            "endpoints.a.dialect: Input should be 'openai-realtime', 'pipecat', 'whip', "
            "'openai-realtime-ws', 'gemini-live', 'elevenlabs-agents', 'twilio-media-streams' or 'websocket-pcm'",
            id="unknown-dialect",
        ),
        pytest.param(
            '[endpoints.a]\ndialect = "whip"\n',
            "endpoints.a.url: required key is missing",
            id="missing-url",
        ),
        pytest.param(
            '[endpoints.a]\ndialect = "whip"\nurl = "ftp://x"\n',
            "endpoints.a.url: must be an http(s):// URL (WebRTC dialects) or a ws(s):// URL",
            id="bad-scheme",
        ),
        pytest.param(
            '[endpoints.a]\ndialect = "whip"\nurl = "ws://x"\n',
            "endpoints.a: dialect whip needs a http:// or https:// URL",
            id="ws-url-for-webrtc-dialect",
        ),
        pytest.param(
            '[endpoints.a]\ndialect = "gemini-live"\nurl = "wss://x/ws?key=AIzaSyDUMMYDUMMYDUMMYDUMMYDUMMYDUMMY00"\n',
            "endpoints.a.url: must not carry a credential in its query string (parameter 'key')",
            id="key-in-query",
        ),
        pytest.param(
            '[endpoints.a]\ndialect = "whip"\nurl = "http://x"\nport = 3\n',
            "endpoints.a.port: unknown key (allowed: dialect, url, api_key_env, options)",
            id="unknown-key",
        ),
        pytest.param(
            '[endpoints.a]\ndialect = "whip"\nurl = 5\n',
            "endpoints.a.url: Input should be a valid string",
            id="wrong-type",
        ),
        pytest.param(
            "[endpoints]\na = 3\n",
            "endpoints.a: expected a table ([endpoints.a]) with dialect and url",
            id="not-a-table",
        ),
        pytest.param(
            '[endpoint.a]\ndialect = "whip"\n',
            "endpoint: unknown key (allowed: schema_version, endpoints)",
            id="misspelt-top-level",
        ),
        pytest.param(
            '[endpoints.a]\ndialect = "whip"\nurl = "http://x"\n[endpoints.a.options]\nwhen = 1979-05-27\n',
            "endpoints.a.options.when: input was not a valid JSON value",
            id="non-json-option",
        ),
        pytest.param("[endpoints\n", "TOML syntax error: ", id="syntax-error"),
        pytest.param("", "no endpoints defined", id="empty"),
    ],
)
def test_errors_name_file_and_key(tmp_path: Path, text: str, expected: str) -> None:
    path = write(tmp_path, text)
    message = config_error(path)
    assert message.startswith(f"{path}: ")
    assert expected in message


def test_syntax_error_names_the_line(tmp_path: Path) -> None:
    path = write(tmp_path, '[endpoints.a]\ndialect = "whip"\nurl = http://x\n')
    assert "line 3" in config_error(path)


def test_pasted_key_is_refused_without_being_echoed(tmp_path: Path) -> None:
    key = "sk-proj-Zq8xL0ngSecretValue123456"
    path = write(
        tmp_path,
        f"""
        [endpoints.a]
        dialect = "openai-realtime"
        url = "https://api.openai.com"
        api_key_env = "{key}"
        [endpoints.b]
        dialect = "whip"
        url = "https://user:hunter2pass@whip.example.com/x"
        api_key = "{key}"
        [endpoints.c]
        dialect = "pipecat"
        url = "http://127.0.0.1:7860"
        [endpoints.c.options]
        access_token = "{key}"
        """,
    )
    message = config_error(path)
    assert key not in message and "hunter2pass" not in message
    assert "endpoints.a.api_key_env: must be the NAME of an environment variable" in message
    assert "endpoints.b.url: must not contain credentials" in message
    assert "endpoints.b.api_key: unknown key" in message
    assert "secrets come from the environment" in message
    assert "endpoints.c.options: option 'access_token' looks like a credential" in message


# ----------------------------------------------------------------------- resolving


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "openai-realtime+http://127.0.0.1:8765",
            EndpointSpec(
                name="openai-realtime 127.0.0.1:8765", dialect=Dialect.OPENAI_REALTIME, url="http://127.0.0.1:8765"
            ),
        ),
        (
            "pipecat+http://localhost:7860",
            EndpointSpec(
                name="pipecat localhost:7860", dialect=Dialect.PIPECAT, url="http://localhost:7860"
            ),
        ),
        (
            "whip+https://media.example.com/whip/room1",
            EndpointSpec(
                name="whip media.example.com:443",
                dialect=Dialect.WHIP,
                url="https://media.example.com/whip/room1",
            ),
        ),
        (
            "whip+http://[::1]:9000/whip",
            EndpointSpec(name="whip [::1]:9000", dialect=Dialect.WHIP, url="http://[::1]:9000/whip"),
        ),
    ],
)
def test_url_form(text: str, expected: EndpointSpec) -> None:
    assert resolve_endpoint(text, None) == expected


def test_inline_names_say_the_dialect_and_never_collide_with_file_names(tmp_path: Path) -> None:
    """Two agents on one host and port under two dialects are two endpoints in a report;
    the space that separates dialect and address is refused in an endpoints.toml name."""
    rtc = resolve_endpoint("openai-realtime+http://127.0.0.1:8765/", None)
    ws = resolve_endpoint("twilio-media-streams+ws://127.0.0.1:8765/twilio", None)
    wss = resolve_endpoint("openai-realtime-ws+wss://api.example.com/v1/realtime?model=m", None)
    assert (rtc.name, ws.name, wss.name) == (
        "openai-realtime 127.0.0.1:8765", "twilio-media-streams 127.0.0.1:8765", "openai-realtime-ws api.example.com:443")
    path = write(tmp_path, '[endpoints."openai-realtime 127.0.0.1:8765"]\ndialect = "whip"\nurl = "http://h/w"\n')
    with pytest.raises(EndpointConfigError, match="invalid name"):
        load_endpoints(path)


def test_an_endpoint_name_given_twice_is_refused(tmp_path: Path) -> None:
    """Results are grouped by name: two -e with one name would mix their calls."""
    path = write(tmp_path, '[endpoints.mine]\ndialect = "whip"\nurl = "http://127.0.0.1:1/w"\n')
    both = resolve_endpoints(["mine", "whip+http://127.0.0.1:1/w"], path)
    assert [e.name for e in both] == ["mine", "whip 127.0.0.1:1"]
    with pytest.raises(EndpointConfigError) as twice:
        resolve_endpoints(["mine", "mine"], path)
    assert str(twice.value).startswith("endpoint name 'mine' is given twice (the same endpoint twice)")
    with pytest.raises(EndpointConfigError) as paths:
        resolve_endpoints(["whip+http://127.0.0.1:1/a", "whip+http://127.0.0.1:1/b"], None)
    assert ("endpoint name 'whip 127.0.0.1:1' is given twice ('whip+http://127.0.0.1:1/a' and "
            "'whip+http://127.0.0.1:1/b')") in str(paths.value)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("http://127.0.0.1:8765", "needs a dialect: write <dialect>+http://..."),
        (
            "sip+http://127.0.0.1:8765",
            "unknown dialect 'sip' (dialects: openai-realtime, pipecat, whip, openai-realtime-ws, gemini-live, "
            "elevenlabs-agents, twilio-media-streams, websocket-pcm)",
        ),
        ("whip+ftp://host/x", "must be an http(s):// URL (WebRTC dialects) or a ws(s):// URL"),
        ("twilio-media-streams+http://host/x", "dialect twilio-media-streams needs a ws:// or wss:// URL"),
        ("websocket-pcm+ws://host/x?token=abcdef123456", "must not carry a credential in its query string"),
        ("whip+http://:80/x", "has no host"),
        ("whip+http://host:99999/x", "has an invalid port"),
        ("whip+http://bob:s3cretpw@host/x", "must not contain credentials"),
    ],
)
def test_bad_url_form(text: str, expected: str) -> None:
    with pytest.raises(EndpointConfigError) as info:
        resolve_endpoint(text, None)
    assert expected in str(info.value)
    assert "s3cretpw" not in str(info.value)


def test_resolve_by_name(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = write(tmp_path, '[endpoints.mine]\ndialect = "whip"\nurl = "http://127.0.0.1:1/w"\n')
    assert resolve_endpoint("mine", path).url == "http://127.0.0.1:1/w"
    with pytest.raises(EndpointConfigError) as info:
        resolve_endpoint("theirs", path)
    assert str(info.value) == f"{path}: no endpoint named 'theirs' (defined: mine)"
    # Without a path, ./endpoints.toml is used...
    monkeypatch.chdir(tmp_path)
    assert resolve_endpoint("mine", None).name == "mine"
    # ...and its absence is explained.
    monkeypatch.chdir(tmp_path.parent)
    empty = tmp_path / "elsewhere"
    empty.mkdir()
    monkeypatch.chdir(empty)
    with pytest.raises(EndpointConfigError, match=r"no endpoints\.toml here"):
        resolve_endpoint("mine", None)


# ------------------------------------------------------------------------ secrets


def test_api_key_reads_the_named_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    spec = EndpointSpec(
        name="o", dialect=Dialect.OPENAI_REALTIME, url="https://x", api_key_env="VH_TEST_KEY"
    )
    monkeypatch.delenv("VH_TEST_KEY", raising=False)
    assert api_key(spec) is None
    with pytest.raises(EndpointConfigError, match="environment variable VH_TEST_KEY is not set"):
        require_api_key(spec)
    monkeypatch.setenv("VH_TEST_KEY", "")
    assert api_key(spec) is None
    monkeypatch.setenv("VH_TEST_KEY", "k-123456")
    assert api_key(spec) == require_api_key(spec) == "k-123456"
    no_key = EndpointSpec(name="l", dialect=Dialect.WHIP, url="http://x")
    assert api_key(no_key) is None


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("auth failed for key plainvalue42 at /x", "auth failed for key *** at /x"),
        ("Authorization: Bearer abcdefghijklmnop", "Authorization: ***"),
        ('{"Authorization": "Basic dXNlcjpwYXNz"}', '{"Authorization": "***"}'),
        ("sent Bearer eyJ0eXAiOi.eyJzdWIiOi.sig_123 to host", "sent Bearer *** to host"),
        ("bad key sk-proj-AbC123_def-456xyz!", "bad key ***!"),
        ("client_secret ek_68af12345abcdef0 expired", "client_secret *** expired"),
        ("GET /v1/x?key=AIzaSyA1234567890abcdefghijklmnopqrstuv", "GET /v1/x?key=***"),
        ('{"api_key": "whatever-it-is"}', '{"api_key": "***"}'),
        ("token=abc123&x=1", "token=***&x=1"),
        ("wss://bob:pa55word@host/x", "wss://***@host/x"),
        ("livekit eyJhbGciOiJIUzI1NiJ9.eyJ2aWRlbyI6e30.c2ln joined", "livekit *** joined"),
        ("url%20plainvalue42", "url%20***"),
    ],
)
def test_redaction(text: str, expected: str) -> None:
    assert redact(text, ["plainvalue42"]) == expected


@pytest.mark.parametrize(
    "text",
    [
        "unexpected token < in JSON at position 0",
        "max_tokens=100 api_key_env=OPENAI_API_KEY",
        "the bearer token was rejected",
        "task-manager disk-1234567890 monkey: banana",
        "turn latency 412.5 ms",
    ],
)
def test_redaction_leaves_ordinary_text_alone(text: str) -> None:
    assert redact(text) == text


def test_redactor_knows_endpoint_keys_in_all_their_forms(monkeypatch: pytest.MonkeyPatch) -> None:
    secret = "a/b+c=d e"
    monkeypatch.setenv("VH_TEST_KEY", secret)
    specs = [
        EndpointSpec(name="o", dialect=Dialect.WHIP, url="https://x", api_key_env="VH_TEST_KEY"),
        EndpointSpec(name="l", dialect=Dialect.WHIP, url="http://x"),
    ]
    redactor = endpoint_redactor(specs)
    assert redactor(f"raw {secret} end") == "raw *** end"
    assert redactor("quoted a%2Fb%2Bc%3Dd%20e end") == "quoted *** end"
    assert redactor.redact_obj({"why": [f"x{secret}x", 3, None], secret: True}) == {
        "why": ["x***x", 3, None],
        "***": True,
    }


def test_short_values_are_not_treated_as_secrets() -> None:
    assert redact("a 1 b 12 c 123", ["1", "12", "123", "  "]) == "a 1 b 12 c 123"

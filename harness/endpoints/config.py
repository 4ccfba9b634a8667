"""endpoints.toml -> ``EndpointSpec``, and the rules that keep secrets out of everything.

Endpoints are named in a TOML file so CI, the CLI and reports can say ``openai`` instead
of a URL and a bag of settings; a one-off endpoint can be given inline as
``<dialect>+<url>`` and is named ``<dialect> <host>:<port>`` (``inline_name``): the
dialect says what answered, so two agents on one host stay apart in every report. Secrets never live in the file: an endpoint names the environment
variable holding its key (``api_key_env``), and ``SecretRedactor`` scrubs key values
and anything shaped like a credential from every string the harness writes.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import parse_qsl, urlsplit

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    JsonValue,
    StrictInt,
    StrictStr,
    ValidationError,
    model_validator,
)

from harness.endpoints.transport import url_schemes
from harness.records import Dialect, EndpointSpec, JSONValue
from harness.redact import SecretRedactor, redact, register_secret_env
from harness.safe_io import TomlInputError, parse_toml, read_regular_text

DEFAULT_CONFIG = Path("endpoints.toml")
"""Looked up in the working directory when no config file is given."""

ENDPOINTS_FORMAT_VERSION = 1
MAX_ENDPOINTS_BYTES = 1_000_000

NAME_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:\-]{0,119}")
"""Endpoint names appear in reports and result rows; ``:`` is allowed for ``host:port``."""

INLINE_SEPARATOR = " "
"""Between the dialect and ``host:port`` in an inline endpoint's name. A space cannot
occur in an ``endpoints.toml`` name (``NAME_PATTERN``), so the two kinds never collide.
Endpoint names never become file names (call ids carry only a digest of them)."""

ENV_NAME_PATTERN = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")

SECRET_OPTION = re.compile(r"(?i)(^|_)(api_?key|token|secret|password|authorization)$")
"""Option names that would put a credential in the file; they must come from the environment."""


class EndpointConfigError(Exception):
    """An endpoint file or reference that cannot be used; the message names file and key."""


# ------------------------------------------------------------------------ validation


def _check_url(url: str) -> str:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https", "ws", "wss"):
        raise ValueError("must be an http(s):// URL (WebRTC dialects) or a ws(s):// URL (WebSocket dialects)")
    if not parts.hostname:
        raise ValueError("has no host")
    if parts.username is not None or parts.password is not None:
        raise ValueError(
            "must not contain credentials; name an environment variable in api_key_env"
        )
    try:
        _ = parts.port
    except ValueError:
        raise ValueError("has an invalid port") from None
    for name, _value in parse_qsl(parts.query, keep_blank_values=True):
        if SECRET_OPTION.search(name) or name.lower() in ("key", "access_token", "signature"):
            raise ValueError(
                f"must not carry a credential in its query string (parameter {name!r}); "
                "name an environment variable in api_key_env"
            )
    return url


def _check_scheme(dialect: Dialect, url: str) -> None:
    schemes = url_schemes(dialect)
    if urlsplit(url).scheme not in schemes:
        raise ValueError(f"dialect {dialect} needs a {' or '.join(s + '://' for s in schemes)} URL")


def _check_env_name(name: str) -> str:
    if not ENV_NAME_PATTERN.fullmatch(name):
        # Most likely the key itself was pasted here: never echo the value.
        raise ValueError(
            "must be the NAME of an environment variable (letters, digits, '_'), not the key itself"
        )
    return name


def _check_options(options: dict[str, JsonValue]) -> dict[str, JsonValue]:
    for key in options:
        if SECRET_OPTION.search(key):
            raise ValueError(
                f"option {key!r} looks like a credential; secrets come from the environment"
                " (api_key_env), never from endpoints.toml"
            )
    return options


class _EndpointEntry(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    dialect: Dialect
    url: Annotated[StrictStr, AfterValidator(_check_url)]
    api_key_env: Annotated[StrictStr, AfterValidator(_check_env_name)] | None = None
    options: Annotated[dict[str, JsonValue], AfterValidator(_check_options)] = Field(
        default_factory=dict
    )

    @model_validator(mode="after")
    def _scheme_fits_dialect(self) -> _EndpointEntry:
        _check_scheme(self.dialect, self.url)
        return self


class _EndpointsFile(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    schema_version: (
        Annotated[StrictInt, Field(ge=ENDPOINTS_FORMAT_VERSION, le=ENDPOINTS_FORMAT_VERSION)] | None
    ) = None
    endpoints: dict[str, Any] = Field(default_factory=dict)


# --------------------------------------------------------------------------- loading


def load_endpoints(path: Path) -> dict[str, EndpointSpec]:
    """Every endpoint in a TOML file, by name; ``EndpointConfigError`` lists all problems."""
    try:
        text = read_regular_text(path, max_bytes=MAX_ENDPOINTS_BYTES)
    except FileNotFoundError:
        raise EndpointConfigError(f"{path}: no such file") from None
    except OSError as exc:
        raise EndpointConfigError(f"{path}: cannot read file: {exc.strerror or exc}") from None
    except UnicodeDecodeError as exc:
        raise EndpointConfigError(f"{path}: cannot read file: not UTF-8 text ({exc.reason})") from None
    return parse_endpoints(text, path)


def parse_endpoints(text: str, path: Path) -> dict[str, EndpointSpec]:
    """``load_endpoints`` of text already read (``path`` names it in messages)."""
    try:
        raw = parse_toml(text)
    except TomlInputError as exc:
        raise EndpointConfigError(f"{path}: {exc}") from None

    try:
        top = _EndpointsFile.model_validate(raw)
    except ValidationError as exc:
        raise EndpointConfigError(_describe(path, (), exc)) from None

    problems: list[str] = []
    specs: dict[str, EndpointSpec] = {}
    for name, entry in top.endpoints.items():
        if not NAME_PATTERN.fullmatch(name):
            problems.append(
                f"{path}: endpoints.{name}: invalid name; use letters, digits, '_', '.', '-', ':'"
            )
            continue
        if not isinstance(entry, dict):
            problems.append(
                f"{path}: endpoints.{name}: expected a table ([endpoints.{name}]) with dialect and url"
            )
            continue
        try:
            parsed = _EndpointEntry.model_validate(entry)
        except ValidationError as exc:
            problems.append(_describe(path, ("endpoints", name), exc))
            continue
        register_secret_env(parsed.api_key_env)
        specs[name] = EndpointSpec(
            name=name,
            dialect=parsed.dialect,
            url=parsed.url,
            api_key_env=parsed.api_key_env,
            options=_json_options(parsed.options),
        )
    if problems:
        raise EndpointConfigError("\n".join(problems))
    if not specs:
        raise EndpointConfigError(f"{path}: no endpoints defined (add an [endpoints.<name>] table)")
    return specs


def resolve_endpoint(name_or_url: str, config_path: Path | None = None) -> EndpointSpec:
    """An endpoint by name (from ``config_path``, else ./endpoints.toml) or ``<dialect>+<url>``.

    The inline form (``openai-realtime+http://127.0.0.1:8765``, ``whip+https://host/whip``)
    needs no file; its name is ``dialect host:port`` (``openai-realtime 127.0.0.1:8765``).
    """
    if "://" in name_or_url:
        return _from_url_form(name_or_url)
    path = config_path if config_path is not None else DEFAULT_CONFIG
    if config_path is None and not path.is_file():
        raise EndpointConfigError(
            f"unknown endpoint {name_or_url!r}: it is not <dialect>+<url> "
            f"(e.g. openai-realtime+http://127.0.0.1:8765) and there is no {DEFAULT_CONFIG} here"
        )
    specs = load_endpoints(path)
    try:
        return specs[name_or_url]
    except KeyError:
        raise EndpointConfigError(
            f"{path}: no endpoint named {name_or_url!r} (defined: {', '.join(sorted(specs))})"
        ) from None


def _from_url_form(text: str) -> EndpointSpec:
    scheme_part, _, rest = text.partition("://")
    dialects = ", ".join(d.value for d in Dialect)
    if "+" not in scheme_part:
        raise EndpointConfigError(
            f"endpoint URL {redact(text)!r} needs a dialect: write <dialect>+{scheme_part}://... "
            f"(dialects: {dialects})"
        )
    dialect_name, _, scheme = scheme_part.partition("+")
    try:
        dialect = Dialect(dialect_name)
    except ValueError:
        raise EndpointConfigError(
            f"endpoint URL {redact(text)!r}: unknown dialect {dialect_name!r} (dialects: {dialects})"
        ) from None
    url = f"{scheme}://{rest}"
    try:
        _check_url(url)
        _check_scheme(dialect, url)
    except ValueError as exc:
        raise EndpointConfigError(f"endpoint URL {redact(text)!r}: {exc}") from None
    return EndpointSpec(name=inline_name(dialect, url), dialect=dialect, url=url)


def inline_name(dialect: Dialect, url: str) -> str:
    """An inline endpoint's display name: ``openai-realtime 127.0.0.1:8765``,
    ``whip media.example.com:443``, ``pipecat [::1]:7860`` (the port made explicit)."""
    parts = urlsplit(url)
    port = parts.port or (443 if parts.scheme in ("https", "wss") else 80)
    host = f"[{parts.hostname}]" if ":" in (parts.hostname or "") else parts.hostname
    return f"{dialect.value}{INLINE_SEPARATOR}{host}:{port}"


def resolve_endpoints(given: Sequence[str], config_path: Path | None = None) -> list[EndpointSpec]:
    """``resolve_endpoint`` of each ``-e``, refusing two that share a name.

    Results are grouped by endpoint name, and a call id is derived from it: two
    endpoints with one name (the same ``-e`` twice, or two inline URLs differing only in
    their path) would mix their calls, so the message names both and says how to
    tell them apart.
    """
    specs = [resolve_endpoint(text, config_path) for text in given]
    seen: dict[str, str] = {}
    for text, spec in zip(given, specs, strict=True):
        if spec.name in seen:
            first = seen[spec.name]
            same = "the same endpoint twice" if first == text else f"{redact(first)!r} and {redact(text)!r}"
            raise EndpointConfigError(
                f"endpoint name {spec.name!r} is given twice ({same}): results are grouped by name; "
                f"give each endpoint once, or name them apart in {DEFAULT_CONFIG}")
        seen[spec.name] = text
    return specs


def _json_options(options: Mapping[str, JsonValue]) -> dict[str, JSONValue]:
    # pydantic's JsonValue and records.JSONValue describe the same values.
    return dict(options)


def _describe(path: Path, base: tuple[str, ...], exc: ValidationError) -> str:
    """One line per problem: file, dotted TOML key, message; never the offending value.

    Values are left out because a misplaced key is the likeliest thing to be in them
    (pydantic's messages describe the expected type, not the input).
    """
    lines = []
    for err in exc.errors(include_url=False):
        key = ".".join(str(p) for p in (*base, *err["loc"]))
        message = str(err["msg"]).removeprefix("Value error, ")
        if err["type"] == "extra_forbidden":
            allowed = ", ".join(
                _EndpointEntry.model_fields if base else _EndpointsFile.model_fields
            )
            message = f"unknown key (allowed: {allowed})"
            if SECRET_OPTION.search(str(err["loc"][-1])):
                message += '; secrets come from the environment: set api_key_env = "VAR_NAME"'
        elif err["type"] == "missing":
            message = "required key is missing"
        lines.append(f"{path}: {key or '(top level)'}: {message}")
    return "\n".join(lines)


# ---------------------------------------------------------------------------- secrets


def api_key(spec: EndpointSpec) -> str | None:
    """The endpoint's key from its environment variable; ``None`` if it has none or it is unset."""
    if spec.api_key_env is None:
        return None
    return os.environ.get(spec.api_key_env) or None


def require_api_key(spec: EndpointSpec) -> str:
    """Like ``api_key`` for endpoints that cannot work without one: a clear error if unset."""
    key = api_key(spec)
    if key is None:
        if spec.api_key_env is None:
            raise EndpointConfigError(
                f"endpoint {spec.name!r} needs an API key: set api_key_env in endpoints.toml"
            )
        raise EndpointConfigError(
            f"endpoint {spec.name!r}: environment variable {spec.api_key_env} is not set"
        )
    return key



def endpoint_redactor(specs: Iterable[EndpointSpec]) -> SecretRedactor:
    """A redactor knowing the current keys of these endpoints (and the environment's)."""
    specs = list(specs)
    for spec in specs:
        register_secret_env(spec.api_key_env)
    return SecretRedactor(
        key for spec in specs if (key := api_key(spec)) is not None
    ).add_environment()

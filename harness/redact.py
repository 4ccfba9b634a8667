"""The one redactor: known secret values and credential-shaped text become ``***``.

It lives apart from the endpoint configuration because every sink the harness writes
to (run folder, reports, console, logs) passes through it, not only endpoint code.

Which values are secret: every key named by an endpoint's ``api_key_env`` (endpoint
loading registers the variable's *name* here, :func:`register_secret_env`), and the
value of any environment variable whose name says it holds a credential
(``*_API_KEY``, ``*_TOKEN``, ``*_SECRET``, ``*PASSWORD*``), read when a sink asks
(:meth:`SecretRedactor.add_environment`), so a key set after start-up is known too.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Iterable
from typing import Any
from urllib.parse import quote

from harness.records import JSONValue

MIN_SECRET_LENGTH = 4
"""Shorter values are not real credentials, and scrubbing them would mangle every text."""

MIN_GUESSED_SECRET_LENGTH = 8
"""For variables that are secret by their name only: short values (``1``, ``true``) are
settings, and replacing them everywhere would garble every report."""

SECRET_ENV_NAME = re.compile(
    r"(?i)(api[_-]?key|token|secret|passw(or)?d|credential|private[_-]?key)"
)
"""Environment variable names that hold credentials (``OPENAI_API_KEY``, ``HF_TOKEN``)."""

_SECRET_ENV_NAMES: set[str] = set()
"""Names of the variables endpoints read their keys from (``api_key_env``), process-wide."""


def register_secret_env(name: str | None) -> None:
    """Remember that the variable ``name`` holds a key, so every sink redacts its value."""
    if name:
        _SECRET_ENV_NAMES.add(name)

_CREDENTIAL_SHAPES: tuple[tuple[re.Pattern[str], str], ...] = (
    # Authorization header values.
    (
        re.compile(
            r"(?i)(authorization[\"']?\s*[:=]\s*[\"']?)(?:(?:bearer|basic|token|digest)\s+)?"
            r"[^\s\"',;]+"
        ),
        r"\1***",
    ),
    (re.compile(r"(?i)\b(bearer)\s+[A-Za-z0-9._~+/=\-]{8,}"), r"\1 ***"),
    # OpenAI API keys (sk-..., sk-proj-...) and ephemeral client secrets (ek_...).
    (re.compile(r"(?<![A-Za-z0-9])sk-[A-Za-z0-9_\-]{8,}"), "***"),
    (re.compile(r"(?<![A-Za-z0-9])ek_[A-Za-z0-9_\-]{8,}"), "***"),
    # Google API keys (Gemini Live).
    (re.compile(r"(?<![A-Za-z0-9])AIza[0-9A-Za-z_\-]{30,}"), "***"),
    # JWTs (LiveKit access tokens and most bearer tokens).
    (re.compile(r"\beyJ[A-Za-z0-9_\-]{4,}\.[A-Za-z0-9_\-]{4,}\.[A-Za-z0-9_\-]*"), "***"),
    # user:password@ in URLs.
    (re.compile(r"(://)[^/\s:@]+:[^/\s@]+@"), r"\1***@"),
    # Cookies echoed back in a header dump.
    (re.compile(r"(?i)(\b(?:set-)?cookie[\"']?\s*+[:=]\s*+)(?!\*\*\*)[^\r\n\"']+"), r"\1***"),
    # key=value / "key": "value" for credential-like key names (query strings, JSON, logs).
    (
        re.compile(
            r"(?i)((?<![A-Za-z0-9])(?:[a-z]+[_\-])?"
            r"(?:api[_\-]?key|key|token|secret|password|passwd|pwd|auth|sig|signature|credentials?)"
            r"[\"']?\s*[:=]\s*[\"']?)(?!\*\*\*)[^\s\"'&,;}]+"
        ),
        r"\1***",
    ),
)

_TRIGGERS = ("auth", "bearer", "sk-", "ek_", "aiza", "eyj", "://", "cookie", "key", "token", "secret",
             "passw", "pwd", "sig", "credential")
"""Every credential shape above contains one of these (lower-cased): text without any
skips the shapes, as most strings a run writes (transcripts, metric names) do. Plain
substring tests, because a case-insensitive regex alternation is many times slower."""


def _may_hold_a_credential(text: str) -> bool:
    lower = text.lower()
    return any(word in lower for word in _TRIGGERS)


class SecretRedactor:
    """Replaces known secret values and credential-shaped text with ``***``.

    Known values come from the endpoints' environment variables; the shapes catch keys
    the harness never saw (an ephemeral key echoed in a vendor error, a token in a URL).
    Use it on every exception text, log line and report string that may hold
    endpoint-provided text.
    """

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        self._secrets: set[str] = set()
        self._longest_first: list[str] = []
        for secret in secrets:
            self.add(secret)

    def add(self, secret: str | None) -> None:
        if secret is None or len(secret.strip()) < MIN_SECRET_LENGTH:
            return
        for form in (
            secret,
            secret.strip(),
            quote(secret, safe=""),
            secret.encode("unicode_escape").decode(),
        ):
            if len(form) >= MIN_SECRET_LENGTH and form not in self._secrets:
                self._secrets.add(form)
                # Longest first, so a secret that contains another is replaced whole.
                self._longest_first = sorted(self._secrets, key=len, reverse=True)

    def add_environment(self, names: Iterable[str] = ()) -> SecretRedactor:
        """Learn the current values of the registered key variables, of ``names``, and of
        every variable whose name says it holds a credential; returns ``self``."""
        named = {*_SECRET_ENV_NAMES, *names}
        for name, value in os.environ.items():
            guessed = SECRET_ENV_NAME.search(name) and len(value.strip()) >= MIN_GUESSED_SECRET_LENGTH
            if name in named or guessed:
                self.add(value)
        return self

    @classmethod
    def from_environment(cls, names: Iterable[str] = ()) -> SecretRedactor:
        """A redactor knowing every secret the environment holds (see :meth:`add_environment`)."""
        return cls().add_environment(names)

    def __call__(self, text: str) -> str:
        return self.redact(text)

    def redact(self, text: str) -> str:
        for secret in self._longest_first:
            if secret in text:
                text = text.replace(secret, "***")
        if _may_hold_a_credential(text):
            for pattern, replacement in _CREDENTIAL_SHAPES:
                text = pattern.sub(replacement, text)
        return text

    def redact_obj(self, obj: JSONValue) -> JSONValue:
        """Every string (keys included) of a JSON-like value, redacted."""
        if isinstance(obj, str):
            return self.redact(obj)
        if isinstance(obj, list):
            return [self.redact_obj(v) for v in obj]
        if isinstance(obj, dict):
            return {self.redact(k): self.redact_obj(v) for k, v in obj.items()}
        return obj


def redact(text: str, secrets: Iterable[str] = ()) -> str:
    """``text`` with these secret values and anything credential-shaped replaced by ``***``."""
    return SecretRedactor(secrets).redact(text)


def _redact_record(record: logging.LogRecord, redactor: SecretRedactor) -> logging.LogRecord:
    try:
        message = record.getMessage()
    except (TypeError, ValueError):  # a bad %-format in a library's call: keep the raw text
        message = str(record.msg)
    record.msg, record.args = redactor.redact(message), None
    if record.exc_info and not record.exc_text:
        record.exc_text = logging.Formatter().formatException(record.exc_info)
    if record.exc_text:
        record.exc_text = redactor.redact(record.exc_text)
    return record


class RedactingFilter(logging.Filter):
    """A logging filter that formats each record once and redacts the result (for a
    handler of one's own; :func:`install_log_redaction` covers every handler)."""

    def __init__(self, redactor: SecretRedactor | None = None) -> None:
        super().__init__()
        self._redactor = redactor

    def filter(self, record: logging.LogRecord) -> bool:
        _redact_record(record, self._redactor or SecretRedactor.from_environment())
        return True


_installed: list[bool] = []


def install_log_redaction() -> None:
    """Redact every log record as it is created, whatever handler later writes it.

    A record factory (not a handler filter) so that handlers added afterwards (the
    agent's ``basicConfig``, pytest's capture) are covered too; records are only made
    for enabled levels, so disabled debug logging costs nothing. Idempotent.
    """
    if _installed:
        return
    _installed.append(True)
    previous = logging.getLogRecordFactory()

    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        return _redact_record(previous(*args, **kwargs), SecretRedactor.from_environment())

    logging.setLogRecordFactory(factory)

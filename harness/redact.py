"""The one redactor: known secret values and credential-shaped text become ``***``.

It lives apart from the endpoint configuration because every sink the harness writes
to (run folder, reports, console, logs) passes through it, not only endpoint code.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from urllib.parse import quote

from harness.records import JSONValue

MIN_SECRET_LENGTH = 4
"""Shorter values are not real credentials, and scrubbing them would mangle every text."""

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
    # key=value / "key": "value" for credential-like key names (query strings, JSON, logs).
    (
        re.compile(
            r"(?i)((?<![A-Za-z0-9])(?:[a-z]+_)?(?:api[_\-]?key|key|token|secret|password)"
            r"[\"']?\s*[:=]\s*[\"']?)(?!\*\*\*)[^\s\"'&,;}]+"
        ),
        r"\1***",
    ),
)


class SecretRedactor:
    """Replaces known secret values and credential-shaped text with ``***``.

    Known values come from the endpoints' environment variables; the shapes catch keys
    the harness never saw (an ephemeral key echoed in a vendor error, a token in a URL).
    Use it on every exception text, log line and report string that may hold
    endpoint-provided text.
    """

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        self._secrets: set[str] = set()
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
            if len(form) >= MIN_SECRET_LENGTH:
                self._secrets.add(form)

    def __call__(self, text: str) -> str:
        return self.redact(text)

    def redact(self, text: str) -> str:
        # Longest first, so a secret that contains another is replaced whole.
        for secret in sorted(self._secrets, key=len, reverse=True):
            text = text.replace(secret, "***")
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

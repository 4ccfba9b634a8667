"""One HTTP request of SDP signalling, with every way it can fail turned into a reason.

All dialects post an offer somewhere and read an answer back; what differs is the body
and the success shape. Keeping the failure handling here means a refused offer, an
unreachable host, a hung endpoint or a vendor error message read the same in every
dialect's recorded failure, and always pass through the redactor first.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import aiohttp

from harness.endpoints.base import EndpointError, http_error_text
from harness.endpoints.config import api_key
from harness.records import EndpointSpec, FailureKind
from harness.redact import SecretRedactor, register_secret_env


@dataclass(frozen=True, slots=True, kw_only=True)
class HttpReply:
    status: int
    text: str
    content_type: str
    headers: dict[str, str] = field(default_factory=dict)


async def request(
    method: str,
    url: str,
    *,
    what: str,
    timeout_s: float,
    redactor: SecretRedactor,
    headers: dict[str, str] | None = None,
    data: str | None = None,
    json_body: object = None,
    refused: FailureKind = FailureKind.OFFER_REFUSED,
) -> HttpReply:
    """Do one request; any HTTP status >= 400 raises ``EndpointError`` with the vendor's message.

    ``what`` names the step for the reason ("offer", "client secret", "hang-up"), so a
    user reading a report knows which request failed without a traceback.
    """
    timeout = aiohttp.ClientTimeout(total=timeout_s)
    try:
        async with (
            aiohttp.ClientSession(timeout=timeout) as http,
            http.request(method, url, headers=headers, data=data, json=json_body) as resp,
        ):
            if resp.status >= 400:
                message = redactor(await http_error_text(resp))
                hint = _hint(resp.status)
                raise EndpointError(
                    refused,
                    f"{what} refused: HTTP {resp.status} {resp.reason or ''}".rstrip()
                    + f"{hint}: {message or '(no message)'}",
                )
            text = await resp.text()
            return HttpReply(
                status=resp.status,
                text=text,
                content_type=resp.content_type,
                headers=dict(resp.headers.items()),
            )
    except TimeoutError as exc:
        raise EndpointError(
            FailureKind.ENDPOINT_HUNG, f"no reply to the {what} within {timeout_s:g} s ({redactor(url)})"
        ) from exc
    except aiohttp.ClientError as exc:
        raise EndpointError(
            FailureKind.CONNECT_ERROR, redactor(f"cannot reach {url} for the {what}: {exc}")
        ) from exc
    except UnicodeDecodeError as exc:
        raise EndpointError(FailureKind.SIGNALLING_ERROR, f"{what} reply is not text: {exc}") from exc


def _hint(status: int) -> str:
    """A word on what the status usually means, so the reason is actionable."""
    if status == 401:
        return " (bad or expired API key)"
    if status == 403:
        return " (key not allowed here)"
    if status == 404:
        return " (wrong URL or path?)"
    if status == 429:
        return " (rate limited or out of quota)"
    if status >= 500:
        return " (server error)"
    return ""


def snippet(text: str, redactor: SecretRedactor, limit: int = 60) -> str:
    """The start of an endpoint's text for a reason: redacted whole *before* it is cut, so
    a key cut in half by the limit is still recognised and replaced."""
    return redactor(" ".join(text.split()))[:limit]


def require_sdp(text: str, what: str, redactor: SecretRedactor) -> str:
    """The answer if it is SDP; a clear SIGNALLING_ERROR naming what came instead."""
    if not text.lstrip().startswith("v=0"):
        raise EndpointError(
            FailureKind.SIGNALLING_ERROR, f"{what} is not SDP (starts with {snippet(text, redactor)!r})"
        )
    return text


def require_key(spec: EndpointSpec) -> str | None:
    """The endpoint's key, or ``None`` if it needs none; a recorded failure if it is unset.

    Checked at signalling time, not when the adapter is built, so a missing variable is
    a failed call in the results rather than an exception in the runner.
    """
    register_secret_env(spec.api_key_env)  # every log line of this process now hides it too
    key = api_key(spec)
    if spec.api_key_env and key is None:
        raise EndpointError(
            FailureKind.SIGNALLING_ERROR,
            f"environment variable {spec.api_key_env} (api_key_env of endpoint "
            f"{spec.name!r}) is not set",
        )
    return key

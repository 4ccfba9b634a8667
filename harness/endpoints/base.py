"""What every WebRTC endpoint dialect provides to a caller.

A dialect owns signalling (how an SDP offer becomes an answer), the data channel it
needs and the translation of its vendor events into the harness's ``EventKind``;
vendor names never leave the adapter. Failures are raised as ``EndpointError`` with a
``FailureKind`` so the caller can record them as results.
"""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from collections.abc import Mapping

import aiohttp

from harness.records import EndpointEvent, EndpointSpec, EventKind, FailureKind, JSONValue


class EndpointError(Exception):
    """A failure of the endpoint, already phrased for a report (no secrets)."""

    def __init__(self, kind: FailureKind, reason: str) -> None:
        super().__init__(reason)
        self.kind = kind
        self.reason = reason


class WebRTCEndpoint(ABC):
    """One call's signalling session with an endpoint."""

    datachannel_label: str | None = None
    """Label of the data channel the caller must open before the offer, if any."""

    def __init__(self, spec: EndpointSpec, *, timeout_s: float = 10.0) -> None:
        self.spec = spec
        self.timeout_s = timeout_s
        self.info: dict[str, JSONValue] = {}
        """Non-secret facts from signalling, kept in the recording."""

    @abstractmethod
    async def exchange(self, offer_sdp: str) -> str:
        """Send the offer, return the answer SDP; raise ``EndpointError`` on failure."""

    def opening_messages(self) -> list[str]:
        """Messages to send when the data channel opens (session configuration)."""
        return []

    def map_message(self, message: str | bytes, t_ns: int) -> list[EndpointEvent]:
        """Translate one data-channel message; malformed input becomes an ERROR event."""
        return []

    async def close(self) -> None:  # noqa: B027 - an optional hook, not abstract
        """Hang up at the signalling level (DELETE for WHIP, nothing for others)."""


def parse_json_event(message: str | bytes, t_ns: int) -> dict[str, JSONValue] | EndpointEvent:
    """A JSON object, or an ERROR event saying why the message is not one."""
    try:
        obj = json.loads(message)
    except (ValueError, UnicodeDecodeError) as exc:
        return malformed(t_ns, f"not JSON: {exc}")
    except RecursionError:  # "[[[[..." from a hostile endpoint must not stop the call
        return malformed(t_ns, "not JSON: nested too deeply")
    if not isinstance(obj, dict):
        return malformed(t_ns, "not a JSON object")
    return obj


def malformed(t_ns: int, why: str) -> EndpointEvent:
    return EndpointEvent(
        t_ns=t_ns, kind=EventKind.ERROR, vendor_type="malformed", data={"malformed": True, "message": why}
    )


def pick(obj: Mapping[str, JSONValue], *keys: str) -> dict[str, JSONValue]:
    """The listed keys that are present and scalar: the small, known subset we keep."""
    return {k: obj[k] for k in keys if k in obj and not isinstance(obj[k], (dict, list))}


async def http_error_text(response: aiohttp.ClientResponse, limit: int = 300) -> str:
    """The endpoint's own error message, shortened, for a failure reason."""
    try:
        text = await response.text()
    except (aiohttp.ClientError, UnicodeDecodeError):
        text = ""
    try:
        obj = json.loads(text)
        if isinstance(obj, dict) and isinstance(obj.get("error"), dict):
            text = str(obj["error"].get("message", text))
        elif isinstance(obj, dict) and "error" in obj:
            text = str(obj["error"])
    except ValueError:
        pass
    return " ".join(text.split())[:limit]

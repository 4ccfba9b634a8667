"""The openai-realtime WebRTC dialect: SDP over HTTP, events on the ``oai-events`` channel.

Signalling follows OpenAI's documented WebRTC flow: with an API key, an ephemeral
client secret is minted first (``POST /v1/realtime/client_secrets``) so the long-lived
key never rides along with media set-up; the SDP offer is then posted to
``/v1/realtime/calls`` as ``application/sdp`` and answered with 201 + Location. The
reference agent speaks the same dialect without a key.
"""

from __future__ import annotations

import os

import aiohttp

from harness.endpoints.base import (
    EndpointError,
    WebRTCEndpoint,
    http_error_text,
    parse_json_event,
    pick,
)
from harness.records import EndpointEvent, EventKind, FailureKind, JSONValue

EVENT_KINDS: dict[str, EventKind] = {
    "session.created": EventKind.SESSION_CREATED,
    "session.updated": EventKind.OTHER,
    "input_audio_buffer.speech_started": EventKind.SPEECH_STARTED,
    "input_audio_buffer.speech_stopped": EventKind.SPEECH_STOPPED,
    "input_audio_buffer.committed": EventKind.INPUT_COMMITTED,
    "response.created": EventKind.RESPONSE_CREATED,
    "response.done": EventKind.RESPONSE_DONE,
    "output_audio_buffer.started": EventKind.AUDIO_STARTED,
    "output_audio_buffer.stopped": EventKind.AUDIO_STOPPED,
    "output_audio_buffer.cleared": EventKind.AUDIO_CLEARED,
    "conversation.item.input_audio_transcription.completed": EventKind.INPUT_TRANSCRIPT,
    "response.output_audio_transcript.done": EventKind.OUTPUT_TRANSCRIPT,
    "response.audio_transcript.done": EventKind.OUTPUT_TRANSCRIPT,
    "error": EventKind.ERROR,
}
"""Vendor event type -> harness event kind; unknown types become OTHER."""

_KEPT_FIELDS = ("audio_start_ms", "audio_end_ms", "item_id", "response_id", "transcript", "event_id")


def map_event(obj: dict[str, JSONValue], t_ns: int) -> EndpointEvent | None:
    """One server event as a harness event; streaming deltas are dropped (too many)."""
    vendor_type = obj.get("type")
    if not isinstance(vendor_type, str):
        return EndpointEvent(
            t_ns=t_ns, kind=EventKind.ERROR, vendor_type="malformed",
            data={"malformed": True, "message": "event without a string 'type'"},
        )
    if vendor_type.endswith(".delta"):
        return None
    data = pick(obj, *_KEPT_FIELDS)
    response = obj.get("response")
    if isinstance(response, dict):
        data.update({f"response_{k}": v for k, v in pick(response, "id", "status").items()})
    error = obj.get("error")
    if isinstance(error, dict):
        data.update({f"error_{k}": v for k, v in pick(error, "type", "code", "message").items()})
    return EndpointEvent(
        t_ns=t_ns, kind=EVENT_KINDS.get(vendor_type, EventKind.OTHER), vendor_type=vendor_type, data=data
    )


class OpenAIRealtimeEndpoint(WebRTCEndpoint):
    datachannel_label = "oai-events"

    def _api_key(self) -> str | None:
        if not self.spec.api_key_env:
            return None
        key = os.environ.get(self.spec.api_key_env)
        if not key:
            raise EndpointError(
                FailureKind.SIGNALLING_ERROR,
                f"environment variable {self.spec.api_key_env} (api_key_env of endpoint "
                f"{self.spec.name!r}) is not set",
            )
        return key

    def _redact(self, text: str, key: str | None) -> str:
        return text.replace(key, "***") if key else text

    async def exchange(self, offer_sdp: str) -> str:
        key = self._api_key()
        base = self.spec.url.rstrip("/")
        timeout = aiohttp.ClientTimeout(total=self.timeout_s)
        try:
            async with aiohttp.ClientSession(timeout=timeout) as http:
                token = await self._client_secret(http, base, key) if key else None
                headers = {"Content-Type": "application/sdp"}
                if token:
                    headers["Authorization"] = f"Bearer {token}"
                async with http.post(f"{base}/v1/realtime/calls", data=offer_sdp, headers=headers) as resp:
                    if resp.status >= 400:
                        message = self._redact(await http_error_text(resp), key)
                        raise EndpointError(
                            FailureKind.OFFER_REFUSED, f"offer refused: HTTP {resp.status}: {message}"
                        )
                    answer = await resp.text()
                    if resp.headers.get("Location"):
                        self.info["location"] = resp.headers["Location"]
        except TimeoutError as exc:
            raise EndpointError(
                FailureKind.ENDPOINT_HUNG, f"no answer to the offer within {self.timeout_s:g} s"
            ) from exc
        except aiohttp.ClientError as exc:
            raise EndpointError(
                FailureKind.CONNECT_ERROR, self._redact(f"cannot reach {base}: {exc}", key)
            ) from exc
        if not answer.lstrip().startswith("v=0"):
            raise EndpointError(
                FailureKind.SIGNALLING_ERROR,
                f"answer is not SDP (starts with {answer[:40]!r})",
            )
        return answer

    async def _client_secret(self, http: aiohttp.ClientSession, base: str, key: str | None) -> str:
        body = {"session": session_config(self.spec.options)}
        async with http.post(
            f"{base}/v1/realtime/client_secrets", json=body, headers={"Authorization": f"Bearer {key}"}
        ) as resp:
            if resp.status >= 400:
                message = self._redact(await http_error_text(resp), key)
                raise EndpointError(
                    FailureKind.OFFER_REFUSED, f"client secret refused: HTTP {resp.status}: {message}"
                )
            obj = await resp.json()
        value = obj.get("value") if isinstance(obj, dict) else None
        if not isinstance(value, str):
            raise EndpointError(FailureKind.SIGNALLING_ERROR, "client secret response has no 'value'")
        return value

    def map_message(self, message: str | bytes, t_ns: int) -> list[EndpointEvent]:
        obj = parse_json_event(message, t_ns)
        if isinstance(obj, EndpointEvent):
            return [obj]
        event = map_event(obj, t_ns)
        return [event] if event is not None else []


def session_config(options: dict[str, JSONValue]) -> dict[str, JSONValue]:
    """The session object sent with the client secret, from the endpoint's options."""
    session: dict[str, JSONValue] = {"type": "realtime"}
    for key in ("model", "instructions"):
        if key in options:
            session[key] = options[key]
    return session


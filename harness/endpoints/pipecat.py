"""The ``pipecat`` dialect: SmallWebRTC signalling and RTVI events on the data channel.

Signalling is what Pipecat's own JS client does (pipecat-client-web-transports,
``SmallWebRTCTransport``): ``POST /api/offer`` with JSON ``{sdp, type, pc_id,
restart_pc}``, answered with ``{sdp, type, pc_id}``. Its trickle-ICE ``PATCH`` is not
needed here because aiortc gathers every candidate before the offer is made. The client
opens a data channel labelled ``chat``; the bot speaks RTVI on it (``label: "rtvi-ai"``)
once the client has sent ``client-ready``. Message shapes follow
``pipecat.processors.frameworks.rtvi.models`` (protocol 2.x).
"""

from __future__ import annotations

import json
import uuid
from urllib.parse import urlsplit, urlunsplit

from harness.endpoints.base import EndpointError, WebRTCEndpoint, malformed, parse_json_event
from harness.endpoints.signalling import request, require_key, require_sdp, snippet
from harness.records import EndpointEvent, EndpointSpec, EventKind, FailureKind, JSONValue
from harness.redact import SecretRedactor

DATACHANNEL_LABEL = "chat"
"""What Pipecat's SmallWebRTC JS client names its channel; the bot accepts any label."""

RTVI_LABEL = "rtvi-ai"
RTVI_PROTOCOL_VERSION = "2.2.0"
OFFER_PATH = "/api/offer"

EVENT_KINDS: dict[str, EventKind] = {
    "bot-ready": EventKind.SESSION_CREATED,
    "user-started-speaking": EventKind.SPEECH_STARTED,
    "user-stopped-speaking": EventKind.SPEECH_STOPPED,
    "bot-llm-started": EventKind.RESPONSE_CREATED,
    "bot-started-speaking": EventKind.AUDIO_STARTED,
    "bot-stopped-speaking": EventKind.AUDIO_STOPPED,
    "bot-interrupted": EventKind.AUDIO_CLEARED,
    "user-transcription": EventKind.INPUT_TRANSCRIPT,
    "bot-transcription": EventKind.OUTPUT_TRANSCRIPT,
    "bot-tts-text": EventKind.OUTPUT_TRANSCRIPT,
    "bot-output": EventKind.OUTPUT_TRANSCRIPT,
    "metrics": EventKind.METRICS,
    "error": EventKind.ERROR,
    "error-response": EventKind.ERROR,
}
"""RTVI message type -> harness event kind; other RTVI types become OTHER."""

DROPPED_TYPES = frozenset(
    {"bot-tts-audio", "user-audio-level", "bot-audio-level", "bot-llm-text", "user-llm-text"}
)
"""Streams of many small messages: kept out of the recording (as OpenAI deltas are)."""


def offer_url(base: str) -> str:
    """``http://host:7860`` -> ``.../api/offer``; a URL that already has a path is kept."""
    parts = urlsplit(base)
    if parts.path in ("", "/"):
        return urlunsplit(parts._replace(path=OFFER_PATH))
    return base


def client_ready_message(message_id: str | None = None) -> dict[str, JSONValue]:
    """RTVI ``client-ready`` (``ClientReadyData``: version + about)."""
    return {
        "label": RTVI_LABEL,
        "type": "client-ready",
        "id": message_id or uuid.uuid4().hex[:8],
        "data": {
            "version": RTVI_PROTOCOL_VERSION,
            "about": {"library": "voice-harness", "platform": "python-aiortc"},
        },
    }


def map_rtvi(obj: dict[str, JSONValue], t_ns: int) -> EndpointEvent | None:
    """One data-channel JSON object as a harness event; ``None`` for dropped streams."""
    msg_type = obj.get("type")
    if not isinstance(msg_type, str):
        return malformed(t_ns, "message without a string 'type'")
    if obj.get("label") != RTVI_LABEL:
        # SmallWebRTC's own signalling (renegotiate, peerLeft) shares the channel.
        inner = obj.get("message")
        inner_type = inner.get("type") if isinstance(inner, dict) else None
        vendor = f"{msg_type}.{inner_type}" if isinstance(inner_type, str) else msg_type
        return EndpointEvent(t_ns=t_ns, kind=EventKind.OTHER, vendor_type=vendor)
    if msg_type in DROPPED_TYPES:
        return None
    data_obj = obj.get("data")
    data = data_obj if isinstance(data_obj, dict) else {}
    kept: dict[str, JSONValue] = {}
    if msg_type == "user-transcription":
        if data.get("final") is False:
            return None  # interim hypotheses, like OpenAI's deltas
        kept = _text(data, "transcript")
    elif msg_type in ("bot-transcription", "bot-tts-text", "bot-output"):
        kept = _text(data, "transcript")
        if isinstance(data.get("spoken"), bool):
            kept["spoken"] = data["spoken"]
    elif msg_type == "metrics":
        kept = flatten_metrics(data)
    elif msg_type in ("error", "error-response"):
        kept = {"error_message": str(data.get("error", data.get("message", "")))}
        if isinstance(data.get("fatal"), bool):
            kept["error_fatal"] = data["fatal"]
    elif msg_type == "bot-ready" and isinstance(data.get("version"), str):
        kept = {"version": data["version"]}
    return EndpointEvent(
        t_ns=t_ns, kind=EVENT_KINDS.get(msg_type, EventKind.OTHER), vendor_type=msg_type, data=kept
    )


def _text(data: dict[str, JSONValue], key: str) -> dict[str, JSONValue]:
    text = data.get("text")
    return {key: text} if isinstance(text, str) else {}


def flatten_metrics(data: dict[str, JSONValue]) -> dict[str, JSONValue]:
    """Pipecat metrics ``{"ttfb": [{"processor": p, "value": s}], ...}`` -> ``{"ttfb.p": s}``."""
    out: dict[str, JSONValue] = {}
    for family, entries in data.items():
        if not isinstance(entries, list):
            continue
        for entry in entries:
            if isinstance(entry, dict) and isinstance(entry.get("value"), (int, float)):
                out[f"{family}.{entry.get('processor', '?')}"] = entry["value"]
    return out


class PipecatEndpoint(WebRTCEndpoint):
    datachannel_label = DATACHANNEL_LABEL

    def __init__(self, spec: EndpointSpec, *, timeout_s: float = 10.0) -> None:
        super().__init__(spec, timeout_s=timeout_s)
        self._redactor = SecretRedactor.from_environment()

    async def exchange(self, offer_sdp: str) -> str:
        key = require_key(self.spec)
        self._redactor.add(key)
        headers = {"Content-Type": "application/json"}
        if key:
            headers["Authorization"] = f"Bearer {key}"
        body = {"sdp": offer_sdp, "type": "offer", "pc_id": None, "restart_pc": False}
        reply = await request(
            "POST", offer_url(self.spec.url), what="SmallWebRTC offer", timeout_s=self.timeout_s,
            redactor=self._redactor, json_body=body, headers=headers,
        )
        try:
            answer = json.loads(reply.text)
        except (ValueError, RecursionError):
            raise EndpointError(
                FailureKind.SIGNALLING_ERROR,
                "SmallWebRTC answer is not JSON {sdp, type, pc_id} "
                f"(starts with {snippet(reply.text, self._redactor)!r})",
            ) from None
        if not isinstance(answer, dict) or not isinstance(answer.get("sdp"), str):
            raise EndpointError(FailureKind.SIGNALLING_ERROR, "SmallWebRTC answer has no 'sdp' string")
        if answer.get("type") != "answer":
            shown = snippet(repr(answer.get("type")), self._redactor)
            raise EndpointError(
                FailureKind.SIGNALLING_ERROR,
                f"SmallWebRTC answer has type {shown}, expected 'answer'",
            )
        if isinstance(answer.get("pc_id"), str):
            self.info["pc_id"] = self._redactor(answer["pc_id"])
        return require_sdp(answer["sdp"], "SmallWebRTC answer's sdp", self._redactor)

    def opening_messages(self) -> list[str]:
        return [json.dumps(client_ready_message())]

    def map_message(self, message: str | bytes, t_ns: int) -> list[EndpointEvent]:
        if isinstance(message, str) and message.startswith("ping"):
            return []  # SmallWebRTC keep-alive
        obj = parse_json_event(message, t_ns)
        if isinstance(obj, EndpointEvent):
            return [obj]
        event = map_rtvi(obj, t_ns)
        return [event] if event is not None else []

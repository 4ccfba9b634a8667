"""The ``gemini-live`` dialect: Google's Live API (``BidiGenerateContent``) over WebSocket.

From the Live API WebSockets reference: the client's first message is ``setup`` (model,
``generationConfig.responseModalities = ["AUDIO"]``, optional voice, system instruction,
``realtimeInputConfig.automaticActivityDetection``, and empty ``inputAudioTranscription``
/ ``outputAudioTranscription`` objects to switch transcripts on); the server answers
``setupComplete``; audio goes up as ``realtimeInput.audio`` blobs of base64 PCM16 at
16 kHz (``audio/pcm;rate=16000``) and comes down in ``serverContent.modelTurn.parts[]``
``inlineData`` at 24 kHz, generated faster than real time. ``serverContent.interrupted``
means the client's speech interrupted the model: a client playing in real time stops
and empties its queue (the flush). ``turnComplete`` ends the model's turn; transcripts
arrive in pieces (``inputTranscription`` / ``outputTranscription``), which the adapter
joins into one transcript per turn. The server sends its JSON in binary frames.

The key goes in the URL's ``?key=`` as the reference shows (or ``x-goog-api-key`` with
``key_in = "header"``); the URL is only ever shown redacted. Errors (a bad key, quota)
arrive as the socket's close code and reason, which become the call's failure.
"""

from __future__ import annotations

import json
import logging
import re
from typing import Any, Literal
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from pydantic import BaseModel, ConfigDict

from harness.endpoints.ws_base import (
    AudioFormat,
    AudioOut,
    Decoded,
    Outgoing,
    WsDialect,
    WsOptions,
    error_event,
    event,
    json_object,
    parse_options,
)
from harness.records import EndpointEvent, EndpointSpec, EventKind, JSONValue
from harness.ws.codecs import Encoding, b64decode, b64encode, decode

log = logging.getLogger(__name__)

INPUT = AudioFormat(Encoding.PCM16, 16000)
OUTPUT_RATE = 24000
_RATE = re.compile(r"rate=(\d+)")
_KNOWN = frozenset({"setupComplete", "serverContent", "toolCall", "toolCallCancellation", "goAway",
                    "sessionResumptionUpdate", "usageMetadata", "error"})


class ActivityDetection(BaseModel):
    """``realtimeInputConfig.automaticActivityDetection`` (the server's VAD)."""

    model_config = ConfigDict(extra="forbid")

    disabled: bool | None = None
    start_of_speech_sensitivity: Literal["START_SENSITIVITY_HIGH", "START_SENSITIVITY_LOW"] | None = None
    end_of_speech_sensitivity: Literal["END_SENSITIVITY_HIGH", "END_SENSITIVITY_LOW"] | None = None
    prefix_padding_ms: int | None = None
    silence_duration_ms: int | None = None


DEFAULT_MODEL = "gemini-live-2.5-flash-preview"


class GeminiOptions(WsOptions):
    model: str = DEFAULT_MODEL
    """A Live API model, e.g. ``gemini-2.5-flash-native-audio-preview-09-2025`` (``models/`` is
    added if missing); the default is only a starting point: models come and go."""
    instructions: str | None = None
    voice: str | None = None
    input_transcription: bool = True
    output_transcription: bool = True
    activity_detection: ActivityDetection | None = None
    key_in: Literal["query", "header"] = "query"


class GeminiLiveEndpoint(WsDialect):
    def __init__(self, spec: EndpointSpec, *, timeout_s: float = 10.0) -> None:
        super().__init__(spec, timeout_s=timeout_s)
        self.options: GeminiOptions = GeminiOptions()
        self._heard: list[str] = []
        self._said: list[str] = []
        self._heard_at = 0
        self._said_at = 0
        self._unknown: set[str] = set()

    async def prepare(self) -> None:
        self.options = parse_options(self.spec, GeminiOptions)

    @property
    def input_format(self) -> AudioFormat:
        return INPUT

    def url(self) -> str:
        if not self.key or self.options.key_in != "query":
            return self.spec.url
        parts = urlsplit(self.spec.url)
        query = [*parse_qsl(parts.query), ("key", self.key)]
        return urlunsplit(parts._replace(query=urlencode(query)))

    def headers(self) -> dict[str, str]:
        return {"x-goog-api-key": self.key} if self.key and self.options.key_in == "header" else {}

    def opening_messages(self) -> list[Outgoing]:
        return [json.dumps({"setup": self.setup()})]

    def setup(self) -> dict[str, JSONValue]:
        opts = self.options
        model = opts.model if opts.model.startswith("models/") else f"models/{opts.model}"
        generation: dict[str, JSONValue] = {"responseModalities": ["AUDIO"]}
        if opts.voice:
            generation["speechConfig"] = {"voiceConfig": {"prebuiltVoiceConfig": {"voiceName": opts.voice}}}
        setup: dict[str, JSONValue] = {"model": model, "generationConfig": generation}
        if opts.instructions:
            setup["systemInstruction"] = {"parts": [{"text": opts.instructions}]}
        if opts.activity_detection is not None:
            names = {"disabled": "disabled", "start_of_speech_sensitivity": "startOfSpeechSensitivity",
                     "end_of_speech_sensitivity": "endOfSpeechSensitivity",
                     "prefix_padding_ms": "prefixPaddingMs", "silence_duration_ms": "silenceDurationMs"}
            detection = {names[k]: v for k, v in opts.activity_detection.model_dump(exclude_none=True).items()}
            setup["realtimeInputConfig"] = {"automaticActivityDetection": detection}
        if opts.input_transcription:
            setup["inputAudioTranscription"] = {}
        if opts.output_transcription:
            setup["outputAudioTranscription"] = {}
        return setup

    def audio_messages(self, wire: bytes, chunk_index: int, position_ms: int) -> list[Outgoing]:
        return [json.dumps({"realtimeInput": {"audio": {"data": b64encode(wire), "mimeType": "audio/pcm;rate=16000"}}})]

    def decode(self, message: Outgoing, t_ns: int) -> Decoded:
        obj = json_object(message, t_ns)
        if isinstance(obj, EndpointEvent):
            return Decoded(events=[obj])
        out = Decoded()
        if "setupComplete" in obj:
            out.events.append(event(t_ns, EventKind.SESSION_CREATED, "setupComplete"))
            out.ready = True
        content = obj.get("serverContent")
        if isinstance(content, dict):
            self._content(content, t_ns, out)
        if isinstance(obj.get("usageMetadata"), dict):
            usage = obj["usageMetadata"]
            out.events.append(event(t_ns, EventKind.METRICS, "usageMetadata",
                                    {k: v for k, v in usage.items() if isinstance(v, int)}))
        for name in ("toolCall", "toolCallCancellation", "sessionResumptionUpdate"):
            if name in obj:
                out.events.append(event(t_ns, EventKind.OTHER, name))
        if isinstance(obj.get("goAway"), dict):
            out.events.append(event(t_ns, EventKind.OTHER, "goAway", {"time_left": str(obj["goAway"].get("timeLeft"))}))
        if "error" in obj:
            error = obj["error"]
            message_text = error.get("message", error) if isinstance(error, dict) else error
            out.events.append(error_event(t_ns, "error", str(message_text), self.redactor))
        unknown = set(obj) - _KNOWN
        if unknown and not out.events and not out.audio:
            name = sorted(unknown)[0]
            if name not in self._unknown:
                self._unknown.add(name)
                log.info("gemini-live: unknown server message %r kept as 'other'", name)
            out.events.append(event(t_ns, EventKind.OTHER, name[:60]))
        return out

    def _content(self, content: dict[str, Any], t_ns: int, out: Decoded) -> None:
        turn = content.get("modelTurn")
        parts = turn.get("parts") if isinstance(turn, dict) else None
        for part in parts if isinstance(parts, list) else ():
            inline = part.get("inlineData") if isinstance(part, dict) else None
            if isinstance(inline, dict):
                self._flush_heard(out)
                self._audio(inline, t_ns, out)
        text = _text(content.get("inputTranscription"))
        if text:
            self._heard.append(text)
            self._heard_at = t_ns
        text = _text(content.get("outputTranscription"))
        if text:
            self._said.append(text)
            self._said_at = t_ns
        if content.get("interrupted") is True:
            self._flush_heard(out)
            self._flush_said(out)
            out.events.append(event(t_ns, EventKind.AUDIO_CLEARED, "interrupted"))
            out.flush = True
        if content.get("generationComplete") is True:
            self._flush_said(out)
            out.events.append(event(t_ns, EventKind.OTHER, "generationComplete"))
        if content.get("turnComplete") is True:
            self._flush_heard(out)
            self._flush_said(out)
            out.events.append(event(t_ns, EventKind.RESPONSE_DONE, "turnComplete"))

    def _audio(self, inline: dict[str, Any], t_ns: int, out: Decoded) -> None:
        mime = str(inline.get("mimeType", ""))
        match = _RATE.search(mime)
        try:
            if not mime.startswith("audio/pcm"):
                raise ValueError(f"unsupported audio {mime!r}")
            samples = decode(b64decode(str(inline.get("data", ""))), Encoding.PCM16)
        except ValueError as exc:
            out.events.append(EndpointEvent(t_ns=t_ns, kind=EventKind.ERROR, vendor_type="modelTurn",
                                            data={"malformed": True, "message": str(exc)[:200]}))
            return
        out.audio.append(AudioOut(samples, int(match.group(1)) if match else OUTPUT_RATE))

    def _flush_heard(self, out: Decoded) -> None:
        """The caller's turn transcript, joined from its pieces, once the model answers."""
        if self._heard:
            out.events.append(event(self._heard_at, EventKind.INPUT_TRANSCRIPT, "inputTranscription",
                                    {"transcript": "".join(self._heard).strip()}))
            self._heard = []

    def _flush_said(self, out: Decoded) -> None:
        if self._said:
            out.events.append(event(self._said_at, EventKind.OUTPUT_TRANSCRIPT, "outputTranscription",
                                    {"transcript": "".join(self._said).strip()}))
            self._said = []


def _text(value: object) -> str:
    return str(value.get("text", "")) if isinstance(value, dict) else ""

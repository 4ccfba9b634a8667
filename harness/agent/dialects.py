"""How the reference agent's events look in each dialect it speaks.

The agent's call logic emits OpenAI-Realtime-style events (its native dialect). A
pipecat-dialect caller expects RTVI on the data channel instead, so those events are
translated here, in one place, from the same moments in the call; a WHIP caller opens no
channel and sees none. The translation keeps the event *times* identical, which is what
lets the same ground truth check every dialect.
"""

from __future__ import annotations

import contextlib
import json
import time
from typing import Any

from harness.agent.call import AgentCall

RTVI_LABEL = "rtvi-ai"
RTVI_PROTOCOL_VERSION = "2.2.0"


def _rtvi(msg_type: str, data: dict[str, Any] | None = None) -> dict[str, Any]:
    msg: dict[str, Any] = {"label": RTVI_LABEL, "type": msg_type}
    if data is not None:
        msg["data"] = data
    return msg


def openai_to_rtvi(event_type: str, fields: dict[str, Any]) -> list[dict[str, Any]]:
    """The RTVI messages a Pipecat bot would send at the moment of this OpenAI event.

    Shapes follow ``pipecat.processors.frameworks.rtvi.models``; events with no RTVI
    counterpart (committed, response.done, session.created) produce nothing.
    """
    if event_type == "input_audio_buffer.speech_started":
        return [_rtvi("vad-user-started-speaking"), _rtvi("user-started-speaking")]
    if event_type == "input_audio_buffer.speech_stopped":
        return [_rtvi("vad-user-stopped-speaking"), _rtvi("user-stopped-speaking")]
    if event_type == "response.created":
        return [_rtvi("bot-llm-started")]
    if event_type == "output_audio_buffer.started":
        return [_rtvi("bot-started-speaking")]
    if event_type == "output_audio_buffer.stopped":
        return [_rtvi("bot-stopped-speaking")]
    if event_type == "output_audio_buffer.cleared":
        return [_rtvi("bot-interrupted"), _rtvi("bot-stopped-speaking")]
    if event_type == "conversation.item.input_audio_transcription.completed":
        return [_rtvi("user-transcription", {
            "text": str(fields.get("transcript", "")), "user_id": "caller",
            "timestamp": time.strftime("%Y-%m-%dT%H:%M:%S"), "final": True,
        })]
    if event_type in ("response.output_audio_transcript.done", "response.audio_transcript.done"):
        return [_rtvi("bot-transcription", {"text": str(fields.get("transcript", ""))})]
    if event_type == "error":
        error = fields.get("error")
        message = error.get("message", "") if isinstance(error, dict) else str(error)
        return [_rtvi("error", {"error": message, "fatal": False})]
    return []


def bot_ready(client_message_id: str) -> dict[str, Any]:
    return {
        "label": RTVI_LABEL, "type": "bot-ready", "id": client_message_id,
        "data": {"version": RTVI_PROTOCOL_VERSION, "about": {"library": "voice-harness-agent"}},
    }


class PipecatAgentCall(AgentCall):
    """An agent call that speaks RTVI on the data channel (the pipecat dialect).

    Overrides only the event sink; the call logic and its ground truth are unchanged.
    """

    async def answer(self, offer_sdp: str) -> str:
        self.pc.on("datachannel", self._on_rtvi_channel)
        return await super().answer(offer_sdp)

    def _on_rtvi_channel(self, channel: Any) -> None:
        channel.on("message", self._on_client_message)

    def _on_client_message(self, message: str | bytes) -> None:
        if isinstance(message, str) and message.startswith("ping"):
            return  # SmallWebRTC keep-alive
        with contextlib.suppress(ValueError, TypeError, AttributeError):
            obj = json.loads(message)
            if obj.get("label") == RTVI_LABEL and obj.get("type") == "client-ready":
                self._send_raw(json.dumps(bot_ready(str(obj.get("id", "")))))

    def send_event(self, event_type: str, **fields: Any) -> None:
        for msg in openai_to_rtvi(event_type, fields):
            self._send_raw(json.dumps(msg))

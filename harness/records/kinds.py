"""The enumerations records are made of (callers, dialects, steps, failures, events)."""

from __future__ import annotations

from enum import StrEnum

__all__ = ["CallerKind", "Dialect", "EventKind", "FailureKind", "StepKind", "StepOutcome"]


class CallerKind(StrEnum):
    AIORTC = "aiortc"
    BROWSER = "browser"
    WEBSOCKET = "websocket"
    """Paced PCM over a WebSocket with a playout model; picked for WebSocket dialects."""


class Dialect(StrEnum):
    OPENAI_REALTIME = "openai-realtime"
    PIPECAT = "pipecat"
    WHIP = "whip"
    OPENAI_REALTIME_WS = "openai-realtime-ws"
    GEMINI_LIVE = "gemini-live"
    ELEVENLABS_AGENTS = "elevenlabs-agents"
    TWILIO_MEDIA_STREAMS = "twilio-media-streams"
    WEBSOCKET_PCM = "websocket-pcm"


class StepKind(StrEnum):
    SAY = "say"
    """Speak an utterance, then (unless ``await_reply`` is off) wait for the agent's reply."""
    LISTEN = "listen"
    """Say nothing and wait for the agent to speak (a greeting)."""
    SILENCE = "silence"
    """Stay silent for a fixed time."""
    BARGE_IN = "barge_in"
    """Speak over the agent a set time after its speech onset; the agent should stop."""
    BACKCHANNEL = "backchannel"
    """Speak over the agent briefly; the agent should keep talking."""


class StepOutcome(StrEnum):
    """Why a step ended in the live call (both callers' step players produce these)."""

    DONE = "done"
    """The step ran to its end: a silence, a clip that awaits no reply, a backchannel."""
    REPLY_ENDED = "reply_ended"
    """The agent replied and then stayed quiet for ``reply_quiet_ms``."""
    REPLY_TOO_LONG = "reply_too_long"
    """The agent replied but had not gone quiet after ``max_reply_s``."""
    TIMEOUT = "timeout"
    """The agent did not start speaking (a reply, or the onset a live trigger waits for)
    within the step's ``timeout_ms``."""
    FAILED = "failed"
    """The call was stopped mid-step (browser caller: a failure elsewhere ended it)."""


class FailureKind(StrEnum):
    OFFER_REFUSED = "offer_refused"
    SIGNALLING_ERROR = "signalling_error"
    CONNECT_ERROR = "connect_error"
    ICE_FAILED = "ice_failed"
    NO_AUDIO = "no_audio"
    ENDPOINT_HUNG = "endpoint_hung"
    DROPPED = "dropped"
    MALFORMED_EVENT = "malformed_event"
    BAD_SCENARIO = "bad_scenario"
    MISSING_CORPUS_ITEM = "missing_corpus_item"
    BROWSER_UNAVAILABLE = "browser_unavailable"
    CALLER_ERROR = "caller_error"
    WORKER_LOST = "worker_lost"
    """The process or node running the call went away mid-call (a Ray node died): what
    the endpoint saw is unknown, so the call is a failure, never silently re-run."""
    SCORING_ERROR = "scoring_error"
    """The call ended, but its recording could not be scored (the reason says why)."""


class EventKind(StrEnum):
    """The harness's own names for endpoint events; vendor names stay inside adapters."""

    SESSION_CREATED = "session_created"
    SPEECH_STARTED = "speech_started"
    SPEECH_STOPPED = "speech_stopped"
    INPUT_COMMITTED = "input_committed"
    RESPONSE_CREATED = "response_created"
    RESPONSE_DONE = "response_done"
    AUDIO_STARTED = "audio_started"
    AUDIO_STOPPED = "audio_stopped"
    AUDIO_CLEARED = "audio_cleared"
    INPUT_TRANSCRIPT = "input_transcript"
    OUTPUT_TRANSCRIPT = "output_transcript"
    METRICS = "metrics"
    ERROR = "error"
    OTHER = "other"

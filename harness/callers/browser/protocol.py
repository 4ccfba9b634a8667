"""Every message between Python and the browser caller's page, as typed records.

The page and Python talk over one WebSocket per call. Text frames are JSON objects
whose ``type`` names the message; each type is one frozen record here and one builder
in ``page/protocol.js`` (which the page uses for every message it sends), so the two
ends are changed together. Parsing is strict: an unknown type, a missing or extra
field or a value of the wrong kind is a ``ProtocolError`` naming the type and the
field, never a half-read dict, so a page that drifts from this module shows up as a
counted protocol error in ``caller_info`` instead of a number silently gone.

Binary frames carry the bulk evidence (encoded frames, heard audio): an 8-byte header
whose first byte is a ``BinaryKind``; their bodies are parsed in ``session``.

Page times are ``performance.now()`` ms; context frames are AudioContext sample frames.
"""

from __future__ import annotations

from dataclasses import field
from enum import IntEnum, StrEnum
from typing import Annotated, Literal

from pydantic import Field, JsonValue, TypeAdapter, ValidationError

from harness.callers.browser.page_config import (
    DetectorConfig,
    GumPagePlan,
    PageStep,
    PlayerConfig,
    protocol_record,
)
from harness.records import StepKind, StepOutcome

BINARY_HEADER_BYTES = 8
"""A binary frame's header: byte 0 is the ``BinaryKind``, the rest is padding."""


class BinaryKind(IntEnum):
    SENT = 1
    """A batch of encoded frames the page sent (see ``session.parse_frames``)."""
    RECEIVED = 2
    """A batch of encoded frames the page received, tapped at packet arrival."""
    HEARD = 3
    """A block of what the page's audio graph heard (``session.parse_heard``)."""


class MessageType(StrEnum):
    # page -> Python
    PONG = "pong"
    OFFER = "offer"
    CONNECTED = "connected"
    STATE = "state"
    CAPTURE = "capture"
    STATS = "stats"
    PLAYOUT = "playout"
    DATACHANNEL = "dc"
    SPEECH = "speech"
    PLAYED = "played"
    STEP = "step"
    WARNING = "warning"
    ERROR = "error"
    DONE = "done"
    # Python -> page
    PING = "ping"
    CONFIG = "config"
    ANSWER = "answer"
    PLAY = "play"
    STOP = "stop"


class TransportLayer(StrEnum):
    """Which of the page's transport states a ``state`` message reports."""

    CONNECTION = "connection"
    ICE = "ice"
    DTLS = "dtls"


class SpeechEdge(StrEnum):
    ONSET = "onset"
    OFFSET = "offset"


class PageOutcome(StrEnum):
    """How the page's part of the call ended (``done``)."""

    DONE = "done"
    """Every step ran and the post-roll was heard."""
    STOPPED = "stopped"
    """Python said ``stop`` (a failure elsewhere, or the call's time bound)."""
    FAILED = "failed"
    """The step player threw; an ``error`` message says why."""


# ------------------------------------------------------------------ page -> Python


@protocol_record
class PongMessage:
    """The answer to a clock ping: the page's ``performance.now()`` when it answered."""

    type: Literal[MessageType.PONG] = MessageType.PONG
    id: int
    perf: float


@protocol_record
class OfferMessage:
    """The page's SDP offer, for the endpoint's dialect adapter."""

    type: Literal[MessageType.OFFER] = MessageType.OFFER
    sdp: str


@protocol_record
class CandidatePair:
    """The ICE candidate pair the call uses (``address:port`` and candidate type)."""

    local: str | None = None
    local_type: str | None = None
    remote: str | None = None
    remote_type: str | None = None


@protocol_record
class ConnectedMessage:
    """Media is up (ICE + DTLS); the page waits for ``play``."""

    type: Literal[MessageType.CONNECTED] = MessageType.CONNECTED
    perf: float
    time_origin: float
    """``performance.timeOrigin`` (epoch ms), for the record."""
    pair: CandidatePair | None = None
    user_agent: str = ""
    output_latency: float | None = None
    """AudioContext ``outputLatency`` (s)."""
    base_latency: float | None = None


@protocol_record
class StateMessage:
    """A change of the connection's, ICE's or the DTLS transport's state."""

    type: Literal[MessageType.STATE] = MessageType.STATE
    what: TransportLayer
    value: str
    """The W3C state name (``connected``, ``failed``, ``closed``, ...)."""
    perf: float


@protocol_record
class CaptureMessage:
    """getUserMedia mode: when capture started and the track's settings."""

    type: Literal[MessageType.CAPTURE] = MessageType.CAPTURE
    perf: float
    settings: dict[str, JsonValue] = field(default_factory=dict)
    label: str = ""


@protocol_record
class InboundAudioStats:
    """The audio ``inbound-rtp`` getStats entry; names and units (s) are the W3C
    webrtc-stats ones, so each can be looked up there."""

    packetsReceived: int | None = None
    packetsLost: int | None = None
    packetsDiscarded: int | None = None
    jitter: float | None = None
    jitterBufferDelay: float | None = None
    jitterBufferEmittedCount: int | None = None
    jitterBufferTargetDelay: float | None = None
    jitterBufferMinimumDelay: float | None = None
    concealedSamples: int | None = None
    silentConcealedSamples: int | None = None
    concealmentEvents: int | None = None
    totalSamplesReceived: int | None = None
    insertedSamplesForDeceleration: int | None = None
    removedSamplesForAcceleration: int | None = None
    audioLevel: float | None = None
    totalAudioEnergy: float | None = None
    totalSamplesDuration: float | None = None


@protocol_record
class StatsMessage:
    """One getStats reading with the AudioContext's clock at the same moment."""

    type: Literal[MessageType.STATS] = MessageType.STATS
    perf: float
    ots_ctx: float | None = None
    """``getOutputTimestamp().contextTime`` (s)."""
    ots_perf: float | None = None
    """``getOutputTimestamp().performanceTime`` (page ms)."""
    ctx_time: float | None = None
    output_latency: float | None = None
    base_latency: float | None = None
    inbound: InboundAudioStats | None = None
    """``None`` until the first audio packet arrived."""
    remote_rtt: float | None = None
    """``remote-inbound-rtp`` roundTripTime (s)."""
    pair_rtt: float | None = None
    """The nominated candidate pair's currentRoundTripTime (s)."""
    packets_sent: int | None = None


@protocol_record
class PlayoutMessage:
    """(RTP timestamp, page ms) when Chromium first played each received packet out."""

    type: Literal[MessageType.PLAYOUT] = MessageType.PLAYOUT
    rows: tuple[tuple[int, float], ...]


@protocol_record
class DataChannelMessage:
    """One data-channel message as received: ``text``, or binary as base64 ``b64``."""

    type: Literal[MessageType.DATACHANNEL] = MessageType.DATACHANNEL
    perf: float
    text: str | None = None
    b64: str | None = None


@protocol_record
class SpeechMessage:
    """The page's live detector saw the agent start or stop speaking."""

    type: Literal[MessageType.SPEECH] = MessageType.SPEECH
    kind: SpeechEdge
    frame: int
    """Context frame of the onset / of the end of the last voiced frame."""
    detected: int
    """Context frame at which the detector decided."""


@protocol_record
class PlayedMessage:
    """A clip the page scheduled: at a context frame, or (getUserMedia) at a page time."""

    type: Literal[MessageType.PLAYED] = MessageType.PLAYED
    step: int
    kind: StepKind
    utterance: str
    called_perf: float
    """When the page scheduled it (page ms)."""
    start_frame: int | None = None
    """WebAudio mode: the context frame of the clip's first sample."""
    called_frame: float | None = None
    """WebAudio mode: the context's render position when it was scheduled."""
    trigger_frame: float | None = None
    """Live-triggered steps: the context frame the trigger fired at."""
    onset_frame: float | None = None
    """Live-triggered steps: the agent onset the trigger counted from."""
    start_perf: float | None = None
    """getUserMedia mode: the page time its first sample was due from the capture device."""


@protocol_record
class StepMessage:
    """A step ended, and why."""

    type: Literal[MessageType.STEP] = MessageType.STEP
    step: int
    kind: StepKind
    started: float
    ended: float
    outcome: StepOutcome


@protocol_record
class WarningMessage:
    """Something the page worked around (a flush that timed out, a getStats that failed);
    kept in ``caller_info.page_warnings``, the call goes on."""

    type: Literal[MessageType.WARNING] = MessageType.WARNING
    where: str
    message: str


@protocol_record
class ErrorMessage:
    """Something the call cannot survive; Python ends the call with it as the reason."""

    type: Literal[MessageType.ERROR] = MessageType.ERROR
    where: str
    message: str


@protocol_record
class DoneMessage:
    """The page's part of the call is over and its evidence is flushed."""

    type: Literal[MessageType.DONE] = MessageType.DONE
    outcome: PageOutcome
    perf: float


PageMessage = (
    PongMessage | OfferMessage | ConnectedMessage | StateMessage | CaptureMessage | StatsMessage
    | PlayoutMessage | DataChannelMessage | SpeechMessage | PlayedMessage | StepMessage
    | WarningMessage | ErrorMessage | DoneMessage
)
"""Any message the page sends."""

ControlMessage = OfferMessage | ConnectedMessage | StateMessage | ErrorMessage | DoneMessage
"""The messages the call's state machine acts on (the rest is evidence only)."""


# ------------------------------------------------------------------ Python -> page


@protocol_record
class PingMessage:
    type: Literal[MessageType.PING] = MessageType.PING
    id: int


@protocol_record
class AnswerMessage:
    type: Literal[MessageType.ANSWER] = MessageType.ANSWER
    sdp: str


@protocol_record
class PlayMessage:
    """Start the steps (sent once media is connected and the ICE pair is checked)."""

    type: Literal[MessageType.PLAY] = MessageType.PLAY


@protocol_record
class StopMessage:
    """End the call now: stop playing, flush the evidence, send ``done``."""

    type: Literal[MessageType.STOP] = MessageType.STOP


@protocol_record
class ConfigMessage:
    """Everything the page needs for one call; sent once, after the clock pings."""

    type: Literal[MessageType.CONFIG] = MessageType.CONFIG
    sample_rate: int
    clip_ids: tuple[str, ...]
    steps: tuple[PageStep, ...]
    player: PlayerConfig
    detector: DetectorConfig
    heard_block_samples: int
    record_heard: bool
    stats_interval_ms: float
    playout_poll_ms: float
    connect_timeout_ms: float
    ice_gathering_timeout_ms: float
    datachannel_label: str | None
    opening_messages: tuple[str, ...]
    loopback_only: bool
    """Offer only loopback ICE candidates (the endpoint is on this host)."""
    use_get_user_media: bool
    gum_plan: GumPagePlan | None


PageCommand = PingMessage | ConfigMessage | AnswerMessage | PlayMessage | StopMessage
"""Any message Python sends to the page."""


# ------------------------------------------------------------------ the edge


class ProtocolError(ValueError):
    """A text frame that is not a message of this protocol; says which part is wrong."""


_INCOMING: TypeAdapter[PageMessage] = TypeAdapter(Annotated[PageMessage, Field(discriminator="type")])
_OUTGOING: TypeAdapter[PageCommand] = TypeAdapter(Annotated[PageCommand, Field(discriminator="type")])


def parse_message(text: str | bytes) -> PageMessage:
    """The message a text frame from the page holds; ``ProtocolError`` if it holds none."""
    try:
        msg = _INCOMING.validate_json(text)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or '(message)'}: {err['msg']}"
            for err in exc.errors(include_url=False)[:5]
        )
        raise ProtocolError(f"bad page message: {problems}") from None
    return msg


def encode_command(msg: PageCommand) -> str:
    """The JSON text frame of a command to the page."""
    return _OUTGOING.dump_json(msg).decode()

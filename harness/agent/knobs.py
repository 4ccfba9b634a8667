"""The reference agent's knobs: each one turns it into a known-good or known-faulty agent.

The harness's own tests set these and assert that every metric recovers them, so the
knobs are plain data that can be written into the ground-truth log verbatim.
"""

from __future__ import annotations

import random
from dataclasses import asdict, dataclass, field
from enum import StrEnum

from harness.records import JSONValue
from harness.webrtc.taps import Impairment


class AgentMode(StrEnum):
    ECHO = "echo"
    """Repeat the caller's turn: an exact reference for PESQ and WER."""
    TTS = "tts"
    """A genuine cascade: local ASR of the turn -> simple rules -> Piper TTS."""
    PLAYBACK = "playback"
    """For caller benchmarks: ignore the caller and send a fixed loop of pre-encoded
    speech-like audio (no decode, VAD or encode per call); answers nothing."""


@dataclass(frozen=True, slots=True, kw_only=True)
class DelaySpec:
    """Response delay after end-of-turn is decided: fixed, uniform or normal, seeded."""

    kind: str = "fixed"
    a: float = 0.0
    b: float = 0.0

    @classmethod
    def parse(cls, text: str) -> DelaySpec:
        """``500``, ``uniform:200,800`` or ``normal:500,50`` (ms)."""
        try:
            if ":" not in text:
                return cls(kind="fixed", a=float(text))
            kind, _, args = text.partition(":")
            a, b = (float(x) for x in args.split(","))
        except ValueError:
            raise ValueError(
                f"bad delay {text!r}: use MS, uniform:LO,HI or normal:MEAN,SD"
            ) from None
        if kind not in ("uniform", "normal"):
            raise ValueError(f"bad delay kind {kind!r}: use uniform or normal")
        return cls(kind=kind, a=a, b=b)

    def draw(self, rng: random.Random) -> float:
        if self.kind == "uniform":
            return rng.uniform(self.a, self.b)
        if self.kind == "normal":
            return max(0.0, rng.gauss(self.a, self.b))
        return self.a


@dataclass(frozen=True, slots=True, kw_only=True)
class AgentKnobs:
    mode: AgentMode = AgentMode.ECHO
    delay: DelaySpec = field(default_factory=DelaySpec)
    endpointing_ms: float = 500.0
    """Silence after the caller's speech before the agent decides the turn is over."""
    vad_threshold: float = 0.5
    min_speech_ms: float = 90.0
    """Speech shorter than this never opens a caller turn."""
    seed: int = 0
    loss: float = 0.0
    jitter_ms: float = 0.0
    duplicate: float = 0.0
    refuse_offer: bool = False
    never_answer: bool = False
    drop_after_s: float | None = None
    malformed_events: bool = False
    """Send a non-JSON message and a typeless event after the channel opens."""
    barge_in: bool = True
    """Stop speaking when the caller interrupts; off makes a talk-over agent."""
    stop_delay_ms: float = 150.0
    """From deciding the caller interrupts to silencing the output."""
    interrupt_min_speech_ms: float = 500.0
    """Caller speech during a reply must last this long to count as an interruption;
    shorter speech (a backchannel) is ignored and not answered."""
    wrong_answers: bool = False
    """tts mode: answer some corpus questions wrongly, to prove content checks catch it."""
    stop_on_any_sound: bool = False
    """Fault: stop at the first loud 20 ms of caller audio (backchannels, coughs, noise)."""
    send_ahead_ms: float = 0.0
    """WebSocket dialects: send reply audio up to this far ahead of real time, as servers
    burst (0: paced like RTP). WebRTC is always paced."""
    delay_drift_ms_per_min: float = 0.0
    """Soak truth: the response delay grows by this much per minute since ``origin_ns``
    (the first offer)."""
    fail_after_s: float | None = None
    """Soak truth: from this many seconds after ``origin_ns`` (the first offer) on, refuse
    every offer (503)."""
    fail_rate: float = 0.0
    """Soak truth: refuse each offer with this probability (seeded by ``seed``)."""
    leak_kb_per_call: float = 0.0
    """Soak truth: keep this much memory for good on every call answered (a leak)."""
    ice_interfaces: bool = False
    """WebRTC: gather ICE candidates as a plain aiortc server does, offering this machine's
    interface addresses and no 127.0.0.1 (aioice never offers it), instead of exactly
    127.0.0.1. A caller on loopback then reaches the agent at an interface address: the
    case a caller must record (``caller_info.network_path``) and not fail. On a machine
    with no interface but loopback, 127.0.0.1 is still offered (there is nothing else)."""
    origin_ns: int | None = None
    """CLOCK_MONOTONIC of the first offer the agent received: the time base of the drift
    and ``fail_after_s`` knobs, so an agent started well before a soak drifts and fails
    on the soak's time (set by the server, logged as ``knob_origin``)."""

    def drift_ms(self, now_ns: int) -> float:
        """The delay added by ``delay_drift_ms_per_min`` at ``now_ns``."""
        if not self.delay_drift_ms_per_min or self.origin_ns is None:
            return 0.0
        return self.delay_drift_ms_per_min * max(0, now_ns - self.origin_ns) / 60e9

    def refusal_rng(self) -> random.Random:
        """The seeded draws of ``fail_rate``: offer i is refused iff draw i < fail_rate."""
        return random.Random(self.seed * 104_729 + 1)

    def failing(self, now_ns: int) -> bool:
        """Whether ``fail_after_s`` has passed at ``now_ns``."""
        return (self.fail_after_s is not None and self.origin_ns is not None
                and now_ns - self.origin_ns >= self.fail_after_s * 1e9)

    def impairment(self, call_index: int) -> Impairment:
        return Impairment(
            loss=self.loss, jitter_ms=self.jitter_ms, duplicate=self.duplicate,
            seed=self.seed * 1_000_003 + call_index,
        )

    def as_json(self) -> dict[str, JSONValue]:
        data: dict[str, JSONValue] = {}
        for key, value in asdict(self).items():
            data[key] = value if not isinstance(value, dict) else dict(value.items())
        return data

"""One call of the reference agent: hear turns, answer them, log the truth.

The agent answers each caller turn after its endpointing silence and response delay,
and logs, on CLOCK_MONOTONIC: when the caller's last voiced sample reached it, when it
decided to answer, and when the packet carrying the first sample of the answer left
its (emulated) network. Those three times are what the harness's latency must recover.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import math
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
from aiortc import RTCPeerConnection, RTCSessionDescription
from aiortc.mediastreams import MediaStreamError

from harness.agent.knobs import AgentKnobs
from harness.agent.truth import TruthLog
from harness.agent.turns import TurnBounds, TurnDetector
from harness.webrtc.arrivals import KernelArrivals
from harness.webrtc.audio import OPUS_DELAY_SAMPLES, SAMPLE_RATE, Float32Audio
from harness.webrtc.ice import loopback_only, rtc_configuration
from harness.webrtc.playout import PacedAudioTrack, Playout
from harness.webrtc.received import ReceivedStream, time_of_sample
from harness.webrtc.taps import ArrivedPacket, ReceiveTap, SendTap, SentPacket, carried_at

log = logging.getLogger(__name__)

_REPLY_TAG = "reply"
CUT_FADE_SAMPLES = 240
"""A 5 ms fade-out when a reply is interrupted; the logged stop is the end of the fade."""
ANY_SOUND_DBFS = -45.0
"""Level of a 20 ms chunk that a ``stop_on_any_sound`` agent treats as an interruption."""


@dataclass(slots=True)
class _PendingReply:
    turn: int
    response_id: str
    onset_sample: int
    end_sample: int
    started: bool = False
    cut_sample: int | None = None
    """Where an interruption silenced it (the first sample not sent)."""


@dataclass(slots=True)
class _Interruption:
    reply: _PendingReply
    caller_onset_ns: int
    decided_ns: int


class Responder(Protocol):
    """The tts mode's brain: (heard text, answer text, answer audio at 48 kHz)."""

    def respond(self, turn_audio_48k: Float32Audio) -> tuple[str, str, Float32Audio]: ...


class AgentCall:
    """State of one WebRTC call; created per offer by the server."""

    def __init__(self, call_id: str, index: int, knobs: AgentKnobs, truth: TruthLog,
                 brain: Responder | None = None) -> None:
        self.brain = brain
        self.call_id = call_id
        self.knobs = knobs
        self.truth = truth
        self._index = index
        self._rng = random.Random(knobs.seed * 7919 + index)
        self.pc = RTCPeerConnection(rtc_configuration())
        self.playout = Playout(record=False)
        self.track = PacedAudioTrack(self.playout)
        self.stream = ReceivedStream(on_audio=self._on_audio)
        self.arrivals = KernelArrivals()
        self.turns = TurnDetector(
            endpointing_ms=knobs.endpointing_ms,
            threshold=knobs.vad_threshold,
            min_speech_ms=knobs.min_speech_ms,
        )
        self._send_tap: SendTap | None = None
        self._channel: Any = None
        self._outbox: list[str] = []
        self._turn_count = 0
        self._replies: list[_PendingReply] = []
        self._interruptions: list[_Interruption] = []
        self._turn_over_reply = False
        """The caller's current turn started while the agent was talking."""
        self._turn_interrupted = False
        self._tasks: set[asyncio.Task[None]] = set()
        self.closed = asyncio.Event()
        self.closed_callback: Callable[[], object] | None = None

    async def answer(self, offer_sdp: str) -> str:
        pc = self.pc
        pc.on("datachannel", self._on_datachannel)
        pc.on("connectionstatechange", self._on_state)
        with loopback_only():
            await pc.setRemoteDescription(RTCSessionDescription(sdp=offer_sdp, type="offer"))
            transceiver = next(t for t in pc.getTransceivers() if t.kind == "audio")
            ReceiveTap(transceiver.receiver, self._on_packet, arrivals=self.arrivals)
            pc.addTrack(self.track)
            await pc.setLocalDescription(await pc.createAnswer())
        self.arrivals.install(transceiver.receiver.transport.transport)
        sender = transceiver.sender
        self._send_tap = SendTap(
            sender.transport, sender._ssrc, self.knobs.impairment(self._index), self._on_sent
        )
        self._spawn(self._drain(transceiver.receiver.track))
        if self.knobs.drop_after_s is not None:
            self._spawn(self._drop_later(self.knobs.drop_after_s))
        self.truth.write(
            "call_start", call_id=self.call_id, t_ns=time.monotonic_ns(), knobs=self.knobs.as_json()
        )
        return str(pc.localDescription.sdp)

    async def close(self, reason: str = "hangup") -> None:
        if self.closed.is_set():
            return
        self.closed.set()
        if self._send_tap is not None:
            self._send_tap.close()
        current = asyncio.current_task()
        for task in list(self._tasks):
            if task is not current:
                task.cancel()
        await self.pc.close()
        if self.closed_callback is not None:
            self.closed_callback()
        self.truth.write("call_end", call_id=self.call_id, t_ns=time.monotonic_ns(), reason=reason)

    # ------------------------------------------------------------------ media in

    async def _drain(self, track: Any) -> None:
        """Keep aiortc's own decoded frames from piling up; the harness decodes itself."""
        with contextlib.suppress(MediaStreamError):
            while True:
                await track.recv()

    def _on_packet(self, packet: ArrivedPacket) -> None:
        self.stream.add(packet)

    def _on_audio(self, samples: Float32Audio, index: int, arrival_ns: int) -> None:
        started, ended = self.turns.push(samples)
        if started:
            self._turn_over_reply = self.playout.is_sounding(_REPLY_TAG)
            self._turn_interrupted = False
            item = f"item_{self.call_id}_{self._turn_count}"
            self._send_event(
                "input_audio_buffer.speech_started",
                audio_start_ms=self._stream_ms(self.turns.turn_start_sample),
                item_id=item,
            )
        if self.knobs.barge_in and self.playout.is_sounding(_REPLY_TAG):
            self._check_interruption(samples)
        if ended is not None:
            if self._turn_over_reply and not self._turn_interrupted and self.knobs.barge_in:
                self.truth.write("backchannel_ignored", call_id=self.call_id,
                                 speech_end_ns=time_of_sample(self.stream.anchors, ended.speech_end))
            else:
                self._end_of_turn(ended)

    def _check_interruption(self, samples: Float32Audio) -> None:
        """Decide whether caller audio during a reply interrupts it, and schedule the stop."""
        position = self.turns.position
        if self.knobs.stop_on_any_sound:
            level = 10 * np.log10(float(np.mean(samples.astype(np.float64) ** 2)) + 1e-12)
            if level < ANY_SOUND_DBFS:
                return
            onset = self.turns.refine(max(0, position - samples.size))[0]
        else:
            if not self.turns.in_turn or self._turn_interrupted:
                return
            # Voiced time only: a backchannel's trailing silence must not count as speech.
            speech = self.turns.voiced_in_turn
            if speech * 1000 < self.knobs.interrupt_min_speech_ms * SAMPLE_RATE:
                return
            onset = self.turns.refine(self.turns.turn_start_sample)[0]
        self._turn_interrupted = True
        decided_ns = time.monotonic_ns()
        cut_at = self._sample_at(decided_ns + int(self.knobs.stop_delay_ms * 1e6))
        for reply in self._replies:
            if reply.cut_sample is None and reply.onset_sample <= cut_at < reply.end_sample:
                reply.cut_sample = self.playout.cut(cut_at, tag=_REPLY_TAG, fade=CUT_FADE_SAMPLES)
                reply.end_sample = reply.cut_sample
                self._interruptions.append(_Interruption(
                    reply=reply, caller_onset_ns=time_of_sample(self.stream.anchors, onset),
                    decided_ns=decided_ns,
                ))
                self._send_event("output_audio_buffer.cleared", response_id=reply.response_id)

    def _stream_ms(self, sample: int) -> int:
        return sample * 1000 // SAMPLE_RATE

    def _end_of_turn(self, bounds: TurnBounds) -> None:
        turn = self._turn_count
        self._turn_count += 1
        anchors = self.stream.anchors
        decided_ns = time.monotonic_ns()
        speech_end_ns = time_of_sample(anchors, bounds.speech_end)
        speech_start_ns = time_of_sample(anchors, bounds.speech_start)
        item = f"item_{self.call_id}_{turn}"
        self._send_event(
            "input_audio_buffer.speech_stopped", audio_end_ms=self._stream_ms(bounds.speech_end), item_id=item
        )
        self._send_event("input_audio_buffer.committed", item_id=item)
        delay_ms = self.knobs.delay.draw(self._rng)
        turn_audio = self.turns.audio[bounds.speech_start : bounds.speech_end].copy()
        response_id = f"resp_{self.call_id}_{turn}"
        self._send_event("response.created", response={"id": response_id, "status": "in_progress"})
        truth: dict[str, Any] = {
            "call_id": self.call_id, "turn": turn, "speech_start_ns": speech_start_ns,
            "speech_end_ns": speech_end_ns, "decided_ns": decided_ns,
            "endpointing_ms": self.knobs.endpointing_ms, "delay_ms": delay_ms,
        }
        target_ns = decided_ns + int(delay_ms * 1e6)
        if self.brain is None:
            self._answer(turn, response_id, turn_audio, target_ns, truth)
        else:
            self._spawn(self._think(turn, response_id, turn_audio, target_ns, truth))

    async def _think(self, turn: int, response_id: str, turn_audio: Float32Audio, target_ns: int,
                     truth: dict[str, Any]) -> None:
        """tts mode: ASR and TTS off the event loop, then answer (no earlier than the delay)."""
        assert self.brain is not None
        heard, answer, audio = await asyncio.to_thread(self.brain.respond, turn_audio)
        item = f"item_{self.call_id}_{turn}"
        self._send_event("conversation.item.input_audio_transcription.completed", item_id=item,
                         transcript=heard)
        self._send_event("response.output_audio_transcript.done", response_id=response_id,
                         transcript=answer)
        self._answer(turn, response_id, audio, target_ns,
                     {**truth, "heard": heard, "answer": answer, "ready_ns": time.monotonic_ns()})

    def _answer(self, turn: int, response_id: str, reply: Float32Audio, target_ns: int,
                truth: dict[str, Any]) -> None:
        onset = self._schedule(reply, target_ns)
        self._replies.append(
            _PendingReply(turn=turn, response_id=response_id, onset_sample=onset, end_sample=onset + reply.size)
        )
        self.truth.write("turn", **truth, reply_samples=int(reply.size), onset_sample=onset)

    def _sample_at(self, target_ns: int) -> int:
        """The outgoing sample that leaves at ``target_ns`` (never one already sent)."""
        origin = self.track.origin_ns
        if origin is None:
            return self.playout.rendered
        return max(math.ceil((target_ns - origin) * SAMPLE_RATE / 1e9), self.playout.rendered)

    def _schedule(self, reply: Float32Audio, target_ns: int) -> int:
        start = max(self._sample_at(target_ns), self.playout.busy_until)
        return self.playout.schedule(reply, start, tag=_REPLY_TAG)

    # ----------------------------------------------------------------- media out

    def _on_sent(self, packet: SentPacket) -> None:
        frame_end = packet.timestamp + 960
        for reply in self._replies:
            onset_ns = carried_at(packet, reply.onset_sample)
            if not reply.started and onset_ns is not None:
                reply.started = True
                self.truth.write(
                    "answer_onset",
                    call_id=self.call_id,
                    turn=reply.turn,
                    onset_ns=onset_ns,
                    lost=packet.lost,
                )
                self._send_event("output_audio_buffer.started", response_id=reply.response_id)
            end_ns = carried_at(packet, reply.end_sample)
            if reply.started and end_ns is not None:
                status = "completed" if reply.cut_sample is None else "cancelled"
                if reply.cut_sample is not None:
                    self._log_stop(reply, end_ns)
                self._send_event("output_audio_buffer.stopped", response_id=reply.response_id)
                self._send_event("response.done", response={"id": reply.response_id, "status": status})
        self._replies = [r for r in self._replies if r.end_sample + OPUS_DELAY_SAMPLES >= frame_end]

    def _log_stop(self, reply: _PendingReply, stop_ns: int) -> None:
        for cut in self._interruptions:
            if cut.reply is reply:
                self.truth.write(
                    "interruption", call_id=self.call_id, turn=reply.turn,
                    caller_onset_ns=cut.caller_onset_ns, decided_ns=cut.decided_ns,
                    stop_delay_ms=self.knobs.stop_delay_ms, stop_ns=stop_ns,
                )

    # -------------------------------------------------------------------- events

    def _on_datachannel(self, channel: Any) -> None:
        self._channel = channel
        channel.on("open", self._flush_outbox)
        if channel.readyState == "open":
            self._flush_outbox()
        self._send_event("session.created", session={"id": f"sess_{self.call_id}", "object": "realtime.session"})
        if self.knobs.malformed_events:
            self._send_raw("this is not json {")
            self._send_raw(json.dumps({"no_type": True}))

    def _send_event(self, event_type: str, **fields: Any) -> None:
        self._send_raw(json.dumps({"type": event_type, "event_id": f"evt_{time.monotonic_ns()}", **fields}))

    def _send_raw(self, message: str) -> None:
        channel = self._channel
        if channel is not None and channel.readyState == "open":
            with contextlib.suppress(Exception):
                channel.send(message)
        else:
            self._outbox.append(message)

    def _flush_outbox(self) -> None:
        outbox, self._outbox = self._outbox, []
        for message in outbox:
            self._send_raw(message)

    # ------------------------------------------------------------------ lifecycle

    def _on_state(self) -> None:
        if self.pc.connectionState in ("failed", "closed"):
            self._spawn(self.close(reason=self.pc.connectionState))

    async def _drop_later(self, seconds: float) -> None:
        await asyncio.sleep(seconds)
        self.truth.write("drop", call_id=self.call_id, t_ns=time.monotonic_ns())
        await self.close(reason="dropped by knob")

    def _spawn(self, coro: Any) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

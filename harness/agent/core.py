"""The reference agent's conversation logic, whatever carries its audio.

Hears caller turns (Silero VAD + endpointing), answers them after its response delay,
stops when interrupted, and logs the ground truth on CLOCK_MONOTONIC: when the
caller's last voiced sample reached it, when it decided, when the first sample of its
answer left (and, on a barge-in, when its audio stopped being playable). The
transports (``call.AgentCall`` for WebRTC, ``ws_call.WsAgentCall`` for WebSocket)
feed it received audio with arrival anchors, render its ``playout`` and tell it when
the samples they sent will play; the knobs and the truth are the same over both.
"""

from __future__ import annotations

import asyncio
import math
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from harness.agent.knobs import AgentKnobs
from harness.agent.truth import TruthLog
from harness.agent.turns import TurnBounds, TurnDetector
from harness.analysis.segmentation import segment_speech
from harness.records import SegmentationParams
from harness.webrtc.audio import SAMPLE_RATE, Float32Audio
from harness.webrtc.playout import Playout
from harness.webrtc.received import time_of_sample

REPLY_TAG = "reply"
CUT_FADE_SAMPLES = 240
"""A 5 ms fade-out when a reply is interrupted; the logged stop is the end of the fade."""
ANY_SOUND_DBFS = -45.0
"""Level of a 20 ms chunk that a ``stop_on_any_sound`` agent treats as an interruption."""

Carried = Callable[[int], int | None]

_ONSET_LOOKBACK = 2 * 960
"""Samples before a packet's frame end that it may carry (its frame, and libopus's
312-sample delay reaching into the one before)."""
"""Maps an outgoing sample to when it plays at the far end, if the piece just sent carries it."""
VOICED_SEARCH_SAMPLES = SAMPLE_RATE
"""How much of an answer's start is searched for its first voiced sample (1 s, about 1 ms
of the segmenter's time, once a turn)."""
_VOICED_PAD = SAMPLE_RATE // 10


def first_voiced(reply: Float32Audio) -> int:
    """The answer's first voiced sample, as an offset into ``reply``: the harness's
    segmenter (default parameters) on the answer as sent, as the caller's speech
    boundaries are the segmenter's on the clip it sends (the corpus manifest). The
    answer is met after ``_VOICED_PAD`` of silence, as a caller's detector meets it (at
    sample 0 the detector's floor starts at its absolute level, which put the onset up
    to 4 ms later on the built-in corpus). 0 when it finds no speech in the first
    ``VOICED_SEARCH_SAMPLES``."""
    padded = np.concatenate([np.zeros(_VOICED_PAD, dtype=np.float32), reply[:VOICED_SEARCH_SAMPLES]])
    segments = segment_speech(padded, SAMPLE_RATE, SegmentationParams())
    return max(segments[0].start - _VOICED_PAD, 0) if segments else 0


@dataclass(slots=True)
class PendingReply:
    turn: int
    response_id: str
    onset_sample: int
    end_sample: int
    voiced_sample: int | None = None
    """Its first voiced sample (``first_voiced``); None: its first sample."""
    started: bool = False
    """Its first sample was sent (lost or not): the agent is talking."""
    heard: bool = False
    """A packet carrying some of it reached the network edge: its onset is logged."""
    voiced_heard: bool = False
    """Its voiced onset is logged."""
    cut_sample: int | None = None
    """Where an interruption silenced it (the first sample not sent)."""
    stopped: bool = False
    stop_by_flush: bool = False
    """Its stop is the far end's flush (WebSocket stop signal), not the end of what was sent."""


@dataclass(slots=True)
class Interruption:
    reply: PendingReply
    caller_onset_ns: int
    decided_ns: int


class Responder(Protocol):
    """The tts mode's brain: (heard text, answer text, answer audio at 48 kHz)."""

    def respond(self, turn_audio_48k: Float32Audio) -> tuple[str, str, Float32Audio]: ...


def new_turn_detector(knobs: AgentKnobs) -> TurnDetector:
    """The agent's ear for one call (loads Silero: 0.1-0.3 s, so build it off the loop when calls run)."""
    return TurnDetector(endpointing_ms=knobs.endpointing_ms, threshold=knobs.vad_threshold,
                        min_speech_ms=knobs.min_speech_ms)


class AgentCallCore:
    """One call's conversation; a transport subclass provides audio in/out and events."""

    def __init__(self, call_id: str, index: int, knobs: AgentKnobs, truth: TruthLog, playout: Playout,
                 brain: Responder | None = None, turns: TurnDetector | None = None) -> None:
        self.brain = brain
        self.call_id = call_id
        self.knobs = knobs
        self.truth = truth
        self.playout = playout
        self._index = index
        self._rng = random.Random(knobs.seed * 7919 + index)
        self.turns = turns or new_turn_detector(knobs)
        self._turn_count = 0
        self._replies: list[PendingReply] = []
        self._interruptions: list[Interruption] = []
        self._turn_over_reply = False
        """The caller's current turn started while the agent was talking."""
        self._turn_interrupted = False
        self._tasks: set[asyncio.Task[None]] = set()
        self.closed = asyncio.Event()
        self.closed_callback: Callable[[], object] | None = None

    # ------------------------------------------------------------ transport hooks

    def anchors(self) -> list[tuple[int, int]]:
        """(received sample, arrival ns) of the caller's audio so far."""
        raise NotImplementedError

    def origin_ns(self) -> int | None:
        """When outgoing sample 0 plays (``None`` before the first frame)."""
        raise NotImplementedError

    def send_event(self, event_type: str, **fields: Any) -> None:
        """An OpenAI-Realtime-style event, translated by the transport into its dialect."""
        raise NotImplementedError

    def reply_sounding(self) -> bool:
        """A reply is playing at the far end now."""
        return self.playout.is_sounding(REPLY_TAG)

    def cut_position(self, target_ns: int) -> int:
        """The outgoing sample an interruption silences when it takes effect at ``target_ns``."""
        return self.sample_at(target_ns)

    def keep_reply(self, reply: PendingReply, frame_end: int) -> bool:
        """Whether to keep tracking ``reply`` once the samples before ``frame_end`` were sent."""
        return not reply.stopped or reply.end_sample >= frame_end

    def cut_reply(self, cut_at: int) -> int:
        """Silence the reply from ``cut_at`` (never before what was sent); the first silent sample."""
        return self.playout.cut(cut_at, tag=REPLY_TAG, fade=CUT_FADE_SAMPLES)

    def on_cut(self, reply: PendingReply, cut_at: int) -> None:
        """An interruption silenced ``reply`` from sample ``cut_at`` on."""
        self.send_event("output_audio_buffer.cleared", response_id=reply.response_id)

    # ------------------------------------------------------------------ media in

    def on_audio(self, samples: Float32Audio, index: int, arrival_ns: int) -> None:
        started, ended = self.turns.push(samples)
        if started:
            self._turn_over_reply = self.reply_sounding()
            self._turn_interrupted = False
            item = f"item_{self.call_id}_{self._turn_count}"
            self.send_event(
                "input_audio_buffer.speech_started",
                audio_start_ms=self._stream_ms(self.turns.turn_start_sample),
                item_id=item,
            )
        if self.knobs.barge_in and self.reply_sounding():
            self._check_interruption(samples)
        if ended is not None:
            if self._turn_over_reply and not self._turn_interrupted and self.knobs.barge_in:
                self.truth.write("backchannel_ignored", call_id=self.call_id,
                                 speech_end_ns=time_of_sample(self.anchors(), ended.speech_end))
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
        cut_at = self.cut_position(decided_ns + int(self.knobs.stop_delay_ms * 1e6))
        for reply in self._replies:
            if reply.cut_sample is None and reply.onset_sample <= cut_at < reply.end_sample:
                reply.cut_sample = self.cut_reply(cut_at)
                reply.end_sample = min(reply.end_sample, reply.cut_sample)
                self._interruptions.append(Interruption(
                    reply=reply, caller_onset_ns=time_of_sample(self.anchors(), onset), decided_ns=decided_ns,
                ))
                self.on_cut(reply, cut_at)

    def _stream_ms(self, sample: int) -> int:
        return sample * 1000 // SAMPLE_RATE

    def _end_of_turn(self, bounds: TurnBounds) -> None:
        turn = self._turn_count
        self._turn_count += 1
        anchors = self.anchors()
        decided_ns = time.monotonic_ns()
        speech_end_ns = time_of_sample(anchors, bounds.speech_end)
        speech_start_ns = time_of_sample(anchors, bounds.speech_start)
        item = f"item_{self.call_id}_{turn}"
        self.send_event(
            "input_audio_buffer.speech_stopped", audio_end_ms=self._stream_ms(bounds.speech_end), item_id=item
        )
        self.send_event("input_audio_buffer.committed", item_id=item)
        drift_ms = self.knobs.drift_ms(decided_ns)
        delay_ms = self.knobs.delay.draw(self._rng) + drift_ms
        turn_audio = self.turns.audio[bounds.speech_start : bounds.speech_end].copy()
        response_id = f"resp_{self.call_id}_{turn}"
        self.send_event("response.created", response={"id": response_id, "status": "in_progress"})
        truth: dict[str, Any] = {
            "call_id": self.call_id, "turn": turn, "speech_start_ns": speech_start_ns,
            "speech_end_ns": speech_end_ns, "decided_ns": decided_ns,
            "endpointing_ms": self.knobs.endpointing_ms, "delay_ms": delay_ms,
        }
        if drift_ms:
            truth["drift_ms"] = drift_ms
        target_ns = decided_ns + int(delay_ms * 1e6)
        if self.brain is None:
            self._answer(turn, response_id, turn_audio, target_ns, truth)
        else:
            self.spawn(self._think(turn, response_id, turn_audio, target_ns, truth))

    async def _think(self, turn: int, response_id: str, turn_audio: Float32Audio, target_ns: int,
                     truth: dict[str, Any]) -> None:
        """tts mode: ASR and TTS off the event loop, then answer (no earlier than the delay)."""
        assert self.brain is not None
        heard, answer, audio = await asyncio.to_thread(self.brain.respond, turn_audio)
        item = f"item_{self.call_id}_{turn}"
        self.send_event("conversation.item.input_audio_transcription.completed", item_id=item,
                        transcript=heard)
        self.send_event("response.output_audio_transcript.done", response_id=response_id,
                        transcript=answer)
        self._answer(turn, response_id, audio, target_ns,
                     {**truth, "heard": heard, "answer": answer, "ready_ns": time.monotonic_ns()})

    def _answer(self, turn: int, response_id: str, reply: Float32Audio, target_ns: int,
                truth: dict[str, Any]) -> None:
        onset = self._schedule(reply, target_ns)
        voiced = onset + first_voiced(reply)
        self._replies.append(PendingReply(turn=turn, response_id=response_id, onset_sample=onset,
                                          end_sample=onset + reply.size, voiced_sample=voiced))
        self.truth.write("turn", **truth, reply_samples=int(reply.size), onset_sample=onset,
                         voiced_sample=voiced)

    def sample_at(self, target_ns: int) -> int:
        """The outgoing sample that plays at ``target_ns`` (never one already sent)."""
        origin = self.origin_ns()
        if origin is None:
            return self.playout.rendered
        return max(math.ceil((target_ns - origin) * SAMPLE_RATE / 1e9), self.playout.rendered)

    def _schedule(self, reply: Float32Audio, target_ns: int) -> int:
        start = max(self.sample_at(target_ns), self.playout.busy_until)
        return self.playout.schedule(reply, start, tag=REPLY_TAG)

    # ----------------------------------------------------------------- media out

    def on_carried(self, carried: Carried, frame_end: int, *, lost: bool = False) -> None:
        """A piece of outgoing audio was sent; ``carried`` says when its samples play."""
        for reply in self._replies:
            onset_ns = carried(reply.onset_sample)
            if not reply.started and onset_ns is not None:
                reply.started = True
                self.send_event("output_audio_buffer.started", response_id=reply.response_id)
            if reply.started and not reply.heard and not lost:
                self._log_onset(reply, carried, frame_end)
            if reply.started and not reply.voiced_heard and not lost:
                self._log_voiced(reply, carried, frame_end)
            end_ns = carried(reply.end_sample)
            if reply.started and not reply.stopped and not reply.stop_by_flush and end_ns is not None:
                self.reply_ended(reply, end_ns)
        self._replies = [r for r in self._replies if self.keep_reply(r, frame_end)]

    def _log_onset(self, reply: PendingReply, carried: Carried, frame_end: int) -> None:
        """The answer's onset in the send tap's convention (``carried_at``): the wire time
        of its first sample in the first packet that was not lost. When the emulated network
        drops the packet that carries the onset, the caller's first sound of the answer is
        in a later packet, and that is what it waits for (``onset_lost_ms`` says how much
        was lost). A WebRTC caller hears it libopus's 312 samples later, once the packet
        has arrived and decoded (docs/timing.md): the codec term the tests add."""
        first = next((s for s in range(max(reply.onset_sample, frame_end - _ONSET_LOOKBACK), frame_end)
                      if s < reply.end_sample and carried(s) is not None), None)
        if first is None:
            return
        reply.heard = True
        onset_ns = carried(first)
        self.truth.write("answer_onset", call_id=self.call_id, turn=reply.turn, onset_ns=onset_ns,
                         onset_lost_ms=round((first - reply.onset_sample) * 1000 / SAMPLE_RATE, 3))

    def _log_voiced(self, reply: PendingReply, carried: Carried, frame_end: int) -> None:
        """The same for the answer's first *voiced* sample (``answer_voiced``): the truth of
        turn latency, which runs to the onset of the agent's speech as the caller's end is
        its last voiced sample. The first sample of an answer is often a few ms of lead-in
        below any detector's level; a caller finds the sound where it becomes speech, and
        under jitter the two can sit in packets that left up to the jitter apart, which a
        truth at the first sample put on the error (docs/timing.md)."""
        voiced = reply.onset_sample if reply.voiced_sample is None else reply.voiced_sample
        first = next((s for s in range(max(voiced, frame_end - _ONSET_LOOKBACK), frame_end)
                      if s < reply.end_sample and carried(s) is not None), None)
        if first is None:
            return
        reply.voiced_heard = True
        self.truth.write("answer_voiced", call_id=self.call_id, turn=reply.turn, voiced_ns=carried(first),
                         voiced_offset_ms=round((voiced - reply.onset_sample) * 1000 / SAMPLE_RATE, 3),
                         voiced_lost_ms=round((first - voiced) * 1000 / SAMPLE_RATE, 3))

    def reply_ended(self, reply: PendingReply, stop_ns: int) -> None:
        """The reply's audio stops being playable at ``stop_ns`` (its end, or its cut)."""
        reply.stopped = True
        status = "completed" if reply.cut_sample is None else "cancelled"
        if reply.cut_sample is not None:
            self.log_stop(reply, stop_ns)
        self.send_event("output_audio_buffer.stopped", response_id=reply.response_id)
        self.send_event("response.done", response={"id": reply.response_id, "status": status})

    def log_stop(self, reply: PendingReply, stop_ns: int) -> None:
        for cut in self._interruptions:
            if cut.reply is reply:
                self.truth.write(
                    "interruption", call_id=self.call_id, turn=reply.turn,
                    caller_onset_ns=cut.caller_onset_ns, decided_ns=cut.decided_ns,
                    stop_delay_ms=self.knobs.stop_delay_ms, stop_ns=stop_ns,
                )

    # ------------------------------------------------------------------ lifecycle

    def write_call_start(self) -> None:
        self.truth.write("call_start", call_id=self.call_id, t_ns=time.monotonic_ns(), knobs=self.knobs.as_json())

    def write_call_end(self, reason: str) -> None:
        self.truth.write("call_end", call_id=self.call_id, t_ns=time.monotonic_ns(), reason=reason)

    def cancel_tasks(self) -> None:
        current = asyncio.current_task()
        for task in list(self._tasks):
            if task is not current:
                task.cancel()

    async def drop_later(self, seconds: float) -> None:
        await asyncio.sleep(seconds)
        self.truth.write("drop", call_id=self.call_id, t_ns=time.monotonic_ns())
        await self.close(reason="dropped by knob")

    async def close(self, reason: str = "hangup") -> None:
        raise NotImplementedError

    def spawn(self, coro: Any) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

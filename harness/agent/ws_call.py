"""One WebSocket call of the reference agent: the same conversation over a vendor's socket.

Received audio is timed by the kernel arrival of the message that carried it (the
agent's truth is held to the same standard as the caller's measurements). Replies are
rendered in 20 ms frames; silence between replies is not sent (as vendors do), and with
the ``send_ahead_ms`` knob reply audio is sent up to that far ahead of real time, as
servers burst. Every sent frame gets the time a real-time client with no buffer plays
it (its send time, or the end of the frame before it when that plays later): the
truth of an answer's onset, and of where a cut reply stops being playable, uses that
time. How a client learns of a cut depends on the dialect (``FlushRule``): a stop
message sent when the cut plays, the caller's own speech start (OpenAI), or nothing
(raw PCM: what was sent plays out).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import math
import time
from collections.abc import Mapping
from typing import Any

from harness.agent.core import AgentCallCore, Interruption, PendingReply, Responder
from harness.agent.knobs import AgentKnobs
from harness.agent.truth import TruthLog
from harness.agent.turns import TurnDetector
from harness.agent.ws_dialects.base import FlushRule, Outgoing, ReplyRef, ServerDialect
from harness.webrtc.audio import FRAME_NS, FRAME_SAMPLES, SAMPLE_RATE
from harness.webrtc.received import time_of_sample
from harness.ws.codecs import LiveUpsampler, decode, encode, wire_to_timeline
from harness.ws.connection import WsClosed, WsConnection
from harness.ws.wire_playout import WirePlayout


class WsAgentCall(AgentCallCore):
    def __init__(self, call_id: str, index: int, knobs: AgentKnobs, truth: TruthLog, conn: WsConnection,
                 dialect: ServerDialect, brain: Responder | None = None, turns: TurnDetector | None = None) -> None:
        self.wire = WirePlayout(dialect.output_format.rate, record=False)
        super().__init__(call_id, index, knobs, truth, self.wire, brain=brain, turns=turns)
        self.conn = conn
        self.dialect = dialect
        self._anchors: list[tuple[int, int]] = []
        self._wire_in = 0
        self._upsampler = LiveUpsampler(dialect.input_format.rate)
        self._origin: int | None = None
        self._frames: dict[int, int] = {}
        """Frame index -> when a real-time client with no buffer plays it."""
        self._frame_sent = asyncio.Event()
        self._queue_end = 0
        """When the audio sent so far will have played at a no-buffer client (its flushes included)."""
        self._ready = asyncio.Event()
        self._numbers: dict[str, int] = {}
        self._dropped = False
        self._gaps: list[float] = []
        """Playback gaps (ms) the agent caused inside a reply by sending a frame late."""

    # ------------------------------------------------------------ the session

    async def serve(self) -> None:
        """Run the call until the client hangs up or the connection ends."""
        self.write_call_start()
        reason = "hangup"
        try:
            await self._send(self.dialect.hello())
            if self.dialect.ready_on_connect:
                self._start_session()
            if self.knobs.malformed_events:
                await self._send(self.dialect.malformed_messages())
            self.spawn(self._send_loop())
            if self.dialect.keepalive_s:
                self.spawn(self._keepalive(self.dialect.keepalive_s))
            if self.knobs.drop_after_s is not None:
                self.spawn(self.drop_later(self.knobs.drop_after_s))
            reason = await self._read_loop()
        except WsClosed:
            reason = "connection closed"
        finally:
            await self.close(reason)

    async def _read_loop(self) -> str:
        try:
            while True:
                message = await self.conn.recv()
                heard = self.dialect.on_message(message.data)
                for kind, fields in heard.truth:
                    self.truth.write(kind, call_id=self.call_id, t_ns=message.arrival_ns, **fields)
                if heard.replies:
                    await self._send(heard.replies)
                if heard.ready or (heard.audio and not self._ready.is_set()):
                    self._start_session()
                if heard.audio:
                    self._on_wire_audio(heard.audio, message.arrival_ns)
                if heard.closing:
                    return "caller stopped the stream"
        except WsClosed as closed:
            return f"closed by the caller ({closed.code})"

    def _start_session(self) -> None:
        """Formats are final once the client's set-up is in (OpenAI may switch to mu-law)."""
        if self._ready.is_set():
            return
        self._upsampler = LiveUpsampler(self.dialect.input_format.rate)
        self.wire = WirePlayout(self.dialect.output_format.rate, record=False)
        self.playout = self.wire
        self._ready.set()

    def _on_wire_audio(self, data: bytes, arrival_ns: int) -> None:
        fmt = self.dialect.input_format
        samples = decode(data, fmt.encoding)
        self._anchors.append((wire_to_timeline(self._wire_in, fmt.rate), arrival_ns))
        self._wire_in += samples.size
        upsampled = self._upsampler.push(samples)
        if upsampled.size:
            self.on_audio(upsampled, 0, arrival_ns)

    async def close(self, reason: str = "hangup") -> None:
        if self.closed.is_set():
            return
        self.closed.set()
        self.cancel_tasks()
        if self._dropped:
            self.conn.stream.close()
        else:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self.conn.close(), 3.0)
        if self.closed_callback is not None:
            self.closed_callback()
        self.truth.write("ws_reads", call_id=self.call_id, reads=self.conn.reads, shared=self.conn.shared_reads,
                         arrival_source=self.conn.arrival_source, reply_gaps=len(self._gaps),
                         max_reply_gap_ms=round(max(self._gaps, default=0.0), 1))
        self.write_call_end(reason)

    async def drop_later(self, seconds: float) -> None:
        """The drop knob over WebSocket: the socket goes away mid-call, without a close frame."""
        await asyncio.sleep(seconds)
        self._dropped = True
        self.truth.write("drop", call_id=self.call_id, t_ns=time.monotonic_ns())
        await self.close(reason="dropped by knob")

    async def _keepalive(self, every_s: float) -> None:
        while True:
            await asyncio.sleep(every_s)
            await self._send(self.dialect.keepalive())

    # ------------------------------------------------------------ audio out

    async def _send_loop(self) -> None:
        await self._ready.wait()
        self._origin = time.monotonic_ns()
        ahead_ns = int(self.knobs.send_ahead_ms * 1e6)
        fmt = self.dialect.output_format
        frame = 0
        while not self.closed.is_set():
            slot = self._origin + frame * FRAME_NS - (ahead_ns if self._within_started_reply(frame) else 0)
            delay = (slot - time.monotonic_ns()) / 1e9
            if delay > 0:
                await asyncio.sleep(delay)
            self.wire.render()
            reply = self._reply_in(frame)
            if reply is not None:
                sent = await self._send(self.dialect.audio(encode(self.wire.last_wire, fmt.encoding), self._ref(reply)))
                previous = self._frames.get(frame - 1)
                if previous is not None and self._queue_end == previous + FRAME_NS and sent > self._queue_end + 5_000_000:
                    self._gaps.append((sent - self._queue_end) / 1e6)  # inside a reply: the agent was late
                self._frames[frame] = max(sent, self._queue_end)
                self._queue_end = self._frames[frame] + FRAME_NS
                self._frame_sent.set()
                self.on_carried(functools.partial(self._carried, frame), (frame + 1) * FRAME_SAMPLES)
                if reply.end_sample <= (frame + 1) * FRAME_SAMPLES:
                    ref = self._ref(reply)
                    # The frame's silent remainder plays too: a client's mark fires after it.
                    self.truth.write("reply_sent", call_id=self.call_id, t_ns=time.monotonic_ns(), number=ref.number,
                                     play_end_ns=self._frames[frame] + FRAME_NS, cut=reply.cut_sample is not None)
                    await self._send(self.dialect.reply_sent(ref))
            frame += 1

    def _reply_in(self, frame: int) -> PendingReply | None:
        lo, hi = frame * FRAME_SAMPLES, (frame + 1) * FRAME_SAMPLES
        return next((r for r in self._replies if r.onset_sample < hi and r.end_sample > lo), None)

    def _within_started_reply(self, frame: int) -> bool:
        lo = frame * FRAME_SAMPLES
        return any(r.started and r.onset_sample < lo < r.end_sample for r in self._replies)

    def _carried(self, frame: int, sample: int) -> int | None:
        offset = sample - frame * FRAME_SAMPLES
        if not 0 <= offset <= FRAME_SAMPLES:
            return None
        return self._frames[frame] + offset * 1_000_000_000 // SAMPLE_RATE

    def play_time(self, sample: int) -> int | None:
        """When a no-buffer client plays outgoing ``sample`` (``None`` until it was sent)."""
        frame = sample // FRAME_SAMPLES
        if frame in self._frames:
            return self._carried(frame, sample)
        if sample % FRAME_SAMPLES == 0 and frame - 1 in self._frames:
            return self._carried(frame - 1, sample)
        return None

    # ------------------------------------------------------- conversation hooks

    def anchors(self) -> list[tuple[int, int]]:
        return self._anchors

    def origin_ns(self) -> int | None:
        return self._origin

    def reply_sounding(self) -> bool:
        return self._sounding_reply() is not None

    def _sounding_reply(self) -> PendingReply | None:
        now = time.monotonic_ns()
        for reply in self._replies:
            onset = self.play_time(reply.onset_sample) if reply.started else None
            if onset is None or onset > now:
                continue
            end = self.play_time(reply.end_sample)
            if end is None or now < end:
                return reply
        return None

    def keep_reply(self, reply: PendingReply, frame_end: int) -> bool:
        end = self.play_time(reply.end_sample)
        return not (reply.stopped and end is not None and end < time.monotonic_ns())

    def cut_position(self, target_ns: int) -> int:
        """The sample playing at ``target_ns``: the client's position, not the (ahead) sender's."""
        reply = self._sounding_reply()
        onset = self.play_time(reply.onset_sample) if reply is not None else None
        if reply is None or onset is None:
            return self.sample_at(target_ns)
        return reply.onset_sample + math.ceil((target_ns - onset) * SAMPLE_RATE / 1e9)

    def on_cut(self, reply: PendingReply, cut_at: int) -> None:
        if self.dialect.flush_rule is FlushRule.STOP_SIGNAL:
            reply.stop_by_flush = True
            self.spawn(self._signal_stop(reply, cut_at))
            return
        # No stop message reaches the client: it plays what was sent, to the cut or the end.
        end = self.play_time(reply.end_sample)
        if reply.stopped and end is not None:
            self.log_stop(reply, end)

    async def _signal_stop(self, reply: PendingReply, cut_at: int) -> None:
        """Send the stop message when the cut plays: the client flushes everything after it."""
        while (at := self.play_time(cut_at)) is None:
            self._frame_sent.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._frame_sent.wait(), 0.1)
        delay = (at - time.monotonic_ns()) / 1e9
        if delay > 0:
            await asyncio.sleep(delay)
        sent = await self._send(self.dialect.stop_signal(self._ref(reply)))
        self._stopped_by_client(reply, sent)

    def _stopped_by_client(self, reply: PendingReply, signal_ns: int) -> None:
        """The client flushed at ``signal_ns``, unless the audio sent had already run out."""
        self._queue_end = min(self._queue_end, signal_ns)  # what it had queued is gone
        end = self.play_time(reply.end_sample)
        stop_ns = signal_ns if end is None else min(signal_ns, end)
        self.truth.write("client_stop", call_id=self.call_id, turn=reply.turn, signal_ns=signal_ns,
                         flushed=stop_ns == signal_ns)
        if reply.stopped:
            self.log_stop(reply, stop_ns)
        else:
            self.reply_ended(reply, stop_ns)

    def send_event(self, event_type: str, **fields: Any) -> None:
        if (event_type == "input_audio_buffer.speech_started" and self.knobs.barge_in
                and self.dialect.flush_rule is FlushRule.SPEECH_STARTED):
            reply = self._sounding_reply()

            if reply is not None and reply.cut_sample is None:
                self._interrupted_at_speech_start(reply, fields)
                return
        messages = self.dialect.event(event_type, fields, self._ref_of(fields))
        if messages:
            self.spawn(self._send(messages))

    def _interrupted_at_speech_start(self, reply: PendingReply, fields: Mapping[str, Any]) -> None:
        """OpenAI over WebSocket: the client stops playback at ``speech_started``, so that is the stop."""
        self._turn_interrupted = True
        decided = time.monotonic_ns()
        reply.cut_sample = self.cut_reply(self.cut_position(decided))
        reply.end_sample = min(reply.end_sample, reply.cut_sample)
        reply.stop_by_flush = True
        onset = self.turns.refine(self.turns.turn_start_sample)[0]
        self._interruptions.append(Interruption(
            reply=reply, caller_onset_ns=time_of_sample(self._anchors, onset), decided_ns=decided))
        messages = self.dialect.event("input_audio_buffer.speech_started", fields, self._ref(reply))

        async def send_then_stop() -> None:
            self._stopped_by_client(reply, await self._send(messages))

        self.spawn(send_then_stop())

    # ------------------------------------------------------------------ sending

    def _ref(self, reply: PendingReply) -> ReplyRef:
        number = self._numbers.setdefault(reply.response_id, len(self._numbers) + 1)
        return ReplyRef(reply.response_id, number)

    def _ref_of(self, fields: Mapping[str, Any]) -> ReplyRef | None:
        response = fields.get("response")
        response_id = fields.get("response_id") or (response.get("id") if isinstance(response, dict) else None)
        if not isinstance(response_id, str):
            return None
        return ReplyRef(response_id, self._numbers.setdefault(response_id, len(self._numbers) + 1))

    async def _send(self, messages: list[Outgoing]) -> int:
        """Send in order; the time the first was handed to the kernel."""
        first = 0
        for message in messages:
            try:
                sent = await (self.conn.send_text(message) if isinstance(message, str)
                              else self.conn.send_bytes(message))
            except WsClosed:
                break
            first = first or sent
        return first or time.monotonic_ns()

"""The WebSocket caller: a scenario over a vendor's WebSocket, timed like the WebRTC callers.

Uploads like a microphone: the scenario's audio is cut into ``chunk_ms`` chunks (20 ms
unless the endpoint says otherwise) and each is sent at its slot on the call clock,
never ahead of it; the send time of every chunk is kept, so a sample's "mouth time" is
its chunk's send time plus its offset, as for RTP. Received messages keep their kernel
arrival times (``harness.ws.stamped``) and their audio is placed on the call clock by
the playout model (``harness.ws.playout_model``, docs/websocket.md): the network edge
is a client that plays in real time from the first chunk's arrival, the as-heard view
the same client with the endpoint's ``playout_buffer_ms``, and the vendor's stop
signal flushes what was buffered. Every failure is a recorded ``Failure`` with a
redacted reason; nothing here raises to the runner.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import time
from datetime import UTC, datetime
from typing import Any

import numpy as np

from harness.callers.activity import AgentActivity
from harness.callers.base import (
    CallArtifacts,
    CallerSettings,
    failed_artifacts,
    network_of,
    resolve_steps,
)
from harness.callers.live_feed import LiveFeed
from harness.callers.script import PlayedClip, ResolvedStep, ScenarioPlayer, sent_utterance
from harness.clock import SystemClock
from harness.corpus.errors import CorpusError
from harness.corpus.model import Corpus
from harness.endpoints.base import EndpointError
from harness.endpoints.registry import open_ws_endpoint
from harness.endpoints.ws_base import Decoded, Outgoing, WsDialect, status_hint, vendor_message
from harness.records import (
    CallerKind,
    CallRecording,
    CallSpec,
    EndpointEvent,
    EventKind,
    Failure,
    FailureKind,
    SentUtterance,
    TransportSample,
)
from harness.validity import send_timing
from harness.webrtc.audio import FRAME_NS, SAMPLE_RATE, samples_to_ns
from harness.ws.codecs import encode, timeline_to_wire
from harness.ws.connection import WsClosed, WsConnection, WsHandshakeError, ws_connect
from harness.ws.playout_model import Flush, Mark, PlayoutModel
from harness.ws.wire_playout import WirePlayout

log = logging.getLogger(__name__)

KEPT_HEADERS = ("x-call-id", "x-request-id")
"""Upgrade response headers kept in the recording: the server's id of the call (the
reference agent's ``X-Call-Id``, OpenAI's ``x-request-id``)."""


class WebSocketCaller:
    kind = CallerKind.WEBSOCKET

    def __init__(self, corpus: Corpus, settings: CallerSettings | None = None) -> None:
        self.corpus = corpus
        self.settings = settings or CallerSettings()

    async def run(self, spec: CallSpec) -> CallArtifacts:
        started_at = datetime.now(UTC).isoformat(timespec="milliseconds")
        network = network_of(spec, self.settings.network)
        if network is not None:  # never run unimpaired while the user asked for a network
            return failed_artifacts(spec, CallerKind.WEBSOCKET, started_at, Failure(
                kind=FailureKind.CALLER_ERROR,
                reason=f"network profile {network.name!r}: the emulated network is on the WebRTC media path "
                       f"(UDP); {spec.endpoint.dialect} runs over WebSocket (TCP), which it does not carry"))
        try:
            steps = await asyncio.to_thread(resolve_steps, spec, self.corpus)  # reads audio files: off the loop
        except (CorpusError, OSError) as exc:
            return failed_artifacts(spec, CallerKind.WEBSOCKET, started_at,
                                   Failure(kind=FailureKind.MISSING_CORPUS_ITEM, reason=str(exc)))
        try:
            dialect = open_ws_endpoint(spec.endpoint, timeout_s=self.settings.signalling_timeout_s)
        except NotImplementedError as exc:
            return failed_artifacts(spec, CallerKind.WEBSOCKET, started_at,
                                   Failure(kind=FailureKind.CALLER_ERROR, reason=str(exc)))
        return await _WsCall(spec, steps, self.settings, dialect).run(started_at)


class _CallBroken(Exception):
    def __init__(self, kind: FailureKind, reason: str) -> None:
        super().__init__(reason)
        self.kind, self.reason = kind, reason


class _WsCall:
    """The state of one call while it runs."""

    def __init__(self, spec: CallSpec, steps: list[ResolvedStep], settings: CallerSettings,
                 dialect: WsDialect) -> None:
        self.spec, self.steps, self.settings, self.dialect = spec, steps, settings, dialect
        self.redact = dialect.redactor
        self.clock = SystemClock()
        self.activity = AgentActivity()
        self.model = PlayoutModel()
        self.playout: WirePlayout | None = None
        self.player: ScenarioPlayer | None = None
        self.conn: WsConnection | None = None
        self.events: list[EndpointEvent] = []
        self.origin: int | None = None
        self.connected_abs: int | None = None
        self.chunk_sends: list[int] = []
        self.handoff_errors: list[int] = []
        self.messages = 0
        self.ready = asyncio.Event()
        self.broken = asyncio.Event()
        self.broken_failure: Failure | None = None
        self.hanging_up = False
        self._replies: list[Outgoing] = []
        self.live = LiveFeed(self.model, self.activity, self._send_marks)
        self._tasks: set[asyncio.Task[None]] = set()

    async def run(self, started_at: str) -> CallArtifacts:
        failure: Failure | None = None
        try:
            await self._connect()
            await self._play()
        except EndpointError as exc:
            failure = Failure(kind=exc.kind, reason=self.redact(exc.reason), step_index=self._step())
        except _CallBroken as exc:
            failure = Failure(kind=exc.kind, reason=self.redact(exc.reason), step_index=self._step())
        except Exception as exc:  # a caller bug must still leave a result behind
            log.exception("caller error in %s", self.spec.call_id)
            failure = Failure(kind=FailureKind.CALLER_ERROR, reason=self.redact(f"{type(exc).__name__}: {exc}"),
                              step_index=self._step())
        finally:
            await self._hang_up()
        if failure is None and not self.model.chunks:
            failure = Failure(kind=FailureKind.NO_AUDIO, reason="the endpoint never sent audio")
        # Placing and resampling the received chunks is CPU work: off the loop that paces
        # the worker's other calls.
        return await asyncio.to_thread(self._artifacts, started_at, failure)

    def _step(self) -> int | None:
        return self.player.current_step if self.player else None

    # ----------------------------------------------------------------- set-up

    async def _connect(self) -> None:
        dialect = self.dialect
        await dialect.prepare()
        self.model = PlayoutModel(dialect.options.playout_buffer_ms)
        self.live = LiveFeed(self.model, self.activity, self._send_marks)
        url = dialect.url()
        timeout = self.settings.connect_timeout_s
        try:
            self.conn = await asyncio.wait_for(ws_connect(url, dialect.headers()), timeout)
        except WsHandshakeError as exc:
            message = " ".join(vendor_message(exc.body).split())[:300]
            raise EndpointError(FailureKind.OFFER_REFUSED, self.redact(
                f"WebSocket upgrade refused: HTTP {exc.status}{status_hint(exc.status)}: "
                f"{message or '(no message)'}")) from None
        except TimeoutError:
            raise EndpointError(FailureKind.ENDPOINT_HUNG, self.redact(
                f"no WebSocket handshake within {timeout:g} s ({url})")) from None
        except (OSError, ConnectionError, ValueError) as exc:
            raise EndpointError(FailureKind.CONNECT_ERROR, self.redact(f"cannot open {url}: {exc}")) from None
        self.connected_abs = time.monotonic_ns()
        for name in KEPT_HEADERS:
            if name in self.conn.response_headers:
                self.dialect.info[name] = self.conn.response_headers[name][:100]
        self._spawn(self._read(self.conn))
        await self._send_all(dialect.opening_messages())
        if dialect.needs_ready:
            ready = asyncio.ensure_future(self.ready.wait())
            broken = asyncio.ensure_future(self.broken.wait())
            await asyncio.wait({ready, broken}, timeout=self.settings.signalling_timeout_s,
                               return_when=asyncio.FIRST_COMPLETED)
            ready.cancel()
            broken.cancel()
            if self.broken_failure is not None:
                raise _CallBroken(FailureKind.SIGNALLING_ERROR,
                                  f"before the session was ready: {self.broken_failure.reason}")
            if not self.ready.is_set():
                raise _CallBroken(FailureKind.ENDPOINT_HUNG, "the endpoint did not set up the session within "
                                  f"{self.settings.signalling_timeout_s:g} s (no set-up reply)")
        self.playout = WirePlayout(dialect.input_format.rate)
        self.origin = time.monotonic_ns()
        self.player = ScenarioPlayer(self.steps, self.playout, self.activity, self.clock, self.origin,
                                     self.settings.player)

    # ----------------------------------------------------------------- the call

    async def _play(self) -> None:
        assert self.player is not None
        self._spawn(self._pace())
        self._spawn(self.live.run())
        play = asyncio.ensure_future(self.player.run())
        broken = asyncio.ensure_future(self.broken.wait())
        try:
            await asyncio.wait({play, broken}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            broken.cancel()
        if not play.done():
            play.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await play
            failure = self.broken_failure
            raise _CallBroken(failure.kind if failure else FailureKind.DROPPED,
                              failure.reason if failure else "connection lost")
        play.result()

    async def _pace(self) -> None:
        """Send each chunk at its slot on the call clock: like a microphone, never early."""
        assert self.playout is not None and self.origin is not None
        fmt = self.dialect.input_format
        frames = self.dialect.options.chunk_ms * 1_000_000 // FRAME_NS
        frame = 0
        with contextlib.suppress(WsClosed):
            while True:
                slot = self.origin + frame * FRAME_NS
                await self.clock.sleep_until(slot)
                wire = []
                for _ in range(frames):
                    self.playout.render()
                    wire.append(self.playout.last_wire)
                payload = encode(np.concatenate(wire), fmt.encoding)
                index = len(self.chunk_sends)
                sent = await self._send_all(self.dialect.audio_messages(payload, index, frame * 20))
                self.chunk_sends.append(sent)
                self.handoff_errors.append(sent - slot)
                frame += frames

    async def _read(self, conn: WsConnection) -> None:
        try:
            while True:
                message = await conn.recv()
                self.messages += 1
                try:
                    decoded = self.dialect.decode(message.data, message.arrival_ns)
                except Exception as exc:  # a message the adapter cannot read is evidence, not a crash
                    log.exception("%s: cannot decode a message", self.spec.endpoint.dialect)
                    decoded = Decoded(events=[EndpointEvent(
                        t_ns=message.arrival_ns, kind=EventKind.ERROR, vendor_type="malformed",
                        data={"malformed": True, "message": self.redact(f"{type(exc).__name__}: {exc}")[:200]})])
                self._on_decoded(decoded, message.arrival_ns)
                if self._replies:
                    replies, self._replies = self._replies, []
                    await self._send_all(replies)
        except WsClosed as closed:
            if not self.hanging_up:
                kind = FailureKind.DROPPED if self.ready.is_set() or not self.dialect.needs_ready \
                    else FailureKind.SIGNALLING_ERROR
                self.broken_failure = Failure(kind=kind, reason=self.dialect.close_reason(closed.code, closed.reason))
                self.broken.set()

    def _on_decoded(self, decoded: Decoded, arrival_ns: int) -> None:
        self.events.extend(decoded.events)
        for audio in decoded.audio:
            self.model.add(audio.samples, audio.rate, arrival_ns, audio.item)
        for name in decoded.marks:
            self.model.add_mark(name, arrival_ns)
        if decoded.flush:
            self._flush(arrival_ns)
        self._replies = [*self._replies, *decoded.replies]
        if decoded.ready:
            self.ready.set()
        self.live.wake()

    def _flush(self, at_ns: int) -> None:
        """The vendor's stop signal: the client drops what it had not played yet."""
        flush: Flush = self.model.flush(at_ns)
        if flush.dropped_ns > 0:
            self.events.append(EndpointEvent(
                t_ns=at_ns, kind=EventKind.AUDIO_CLEARED, vendor_type="playout_flush",
                data={"dropped_ms": round(flush.dropped_ns / 1e6, 1)}))
        self.events += [EndpointEvent(t_ns=at_ns, kind=EventKind.OTHER, vendor_type="mark_played",
                                      data={"name": name[:100]}) for name in flush.marks]
        self._replies = [*self._replies, *self.dialect.flush_messages(flush),
                         *self.dialect.mark_messages(flush.marks)]

    async def _send_marks(self, marks: list[Mark]) -> None:
        """Echo marks whose audio has played (kept as events at the moment they were due)."""
        self.events += [EndpointEvent(t_ns=m.at_ns, kind=EventKind.OTHER, vendor_type="mark_played",
                                      data={"name": m.name[:100]}) for m in marks]
        with contextlib.suppress(WsClosed):
            await self._send_all(self.dialect.mark_messages([m.name for m in marks]))

    async def _send_all(self, messages: list[Outgoing]) -> int:
        """Send in order; returns when the first was handed to the kernel (0 if none)."""
        first = 0
        assert self.conn is not None
        for message in messages:
            sent = await (self.conn.send_text(message) if isinstance(message, str)
                          else self.conn.send_bytes(message))
            first = first or sent
        return first or time.monotonic_ns()

    async def _hang_up(self) -> None:
        self.hanging_up = True
        for task in list(self._tasks):
            task.cancel()
        if self.conn is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._send_all(self.dialect.closing_messages()), 2.0)
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self.conn.close(), 5.0)

    def _spawn(self, coro: Any) -> None:
        task = asyncio.get_running_loop().create_task(self._guarded(coro))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _guarded(self, coro: Any) -> None:
        """A bug in a background task ends the call with a recorded failure, never silently."""
        try:
            await coro
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.exception("caller task failed in %s", self.spec.call_id)
            if self.broken_failure is None:
                self.broken_failure = Failure(kind=FailureKind.CALLER_ERROR,
                                              reason=self.redact(f"{type(exc).__name__}: {exc}"))
            self.broken.set()

    # ----------------------------------------------------------------- record

    def _artifacts(self, started_at: str, failure: Failure | None) -> CallArtifacts:
        if self.origin is None or self.playout is None:
            art = failed_artifacts(self.spec, CallerKind.WEBSOCKET, started_at, failure or Failure(
                kind=FailureKind.CALLER_ERROR, reason="the call never started"))
            rec = dataclasses.replace(art.recording, events=tuple(self.events),
                                      dialect_info=self._info())
            return dataclasses.replace(art, recording=rec)
        origin = self.origin
        caller_audio = self.playout.sent_audio()
        placed = self.model.assemble(origin)
        sent = tuple(self._sent(clip, origin) for clip in (self.player.played if self.player else []))
        fmt = self.dialect.input_format
        flushed_ms = sum(f.dropped_ns for f in self.model.flushes) / 1e6
        caller_info: dict[str, Any] = {
            "transport": "websocket", "input_encoding": str(fmt.encoding), "input_rate": fmt.rate,
            "chunk_ms": self.dialect.options.chunk_ms,
            "playout_buffer_ms": self.dialect.options.playout_buffer_ms,
            "max_ahead_ms": round(self.model.max_ahead_ns / 1e6, 1), "underruns": self.model.underruns,
            "flushes": len([f for f in self.model.flushes if f.dropped_ns]), "flushed_ms": round(flushed_ms, 1),
            "messages": self.messages,
            "reads": self.conn.reads if self.conn else 0,
            "shared_reads": self.conn.shared_reads if self.conn else 0,
            "chunk_arrivals": [list(a) for a in placed.arrivals],
        }
        recording = CallRecording(
            call_id=self.spec.call_id, scenario_id=self.spec.scenario.id, endpoint=self.spec.endpoint.name,
            caller=CallerKind.WEBSOCKET, repeat=self.spec.repeat, started_at=started_at,
            origin_monotonic_ns=origin,
            connected_ns=None if self.connected_abs is None else self.connected_abs - origin,
            duration_ns=max(caller_audio.size, placed.audio.size) * 1_000_000_000 // SAMPLE_RATE,
            received_anchors=placed.anchors, heard_anchors=placed.heard_anchors,
            arrival_source=self.conn.arrival_source if self.conn else "",
            sent=sent, steps=tuple(self.player.logs) if self.player else (),
            events=tuple(dataclasses.replace(e, t_ns=e.t_ns - origin) for e in self.events),
            transport=(TransportSample(t_ns=time.monotonic_ns() - origin, packets_received=len(self.model.chunks),
                                       packets_lost=0),),
            send_timing=send_timing(self.handoff_errors), failure=failure, dialect_info=self._info(),
            caller_info=caller_info,
        )
        return CallArtifacts(recording=recording, caller_audio=caller_audio, received_audio=placed.audio)

    def _info(self) -> dict[str, Any]:
        return {k: self.redact(v) if isinstance(v, str) else v for k, v in self.dialect.info.items()}

    def _sent(self, clip: PlayedClip, origin: int) -> SentUtterance:
        rate = self.dialect.input_format.rate
        chunk = rate * self.dialect.options.chunk_ms // 1000

        def at(sample: int) -> int:
            wire = timeline_to_wire(clip.start_sample + sample, rate)
            index = wire // chunk
            if index < len(self.chunk_sends):
                return self.chunk_sends[index] + (wire - index * chunk) * 1_000_000_000 // rate - origin
            return samples_to_ns(clip.start_sample + sample)

        return sent_utterance(
            step_index=clip.step_index, kind=clip.kind, utterance=clip.utterance, start_sample=clip.start_sample,
            at=at, trigger_ns=None if clip.trigger_ns is None else clip.trigger_ns - origin,
            agent_onset_ns=None if clip.agent_onset_ns is None else clip.agent_onset_ns - origin,
        )

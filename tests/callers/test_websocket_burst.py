"""Timing over WebSocket when the server bursts: the playout model and Twilio's ``clear``.

A fake phone agent (Twilio Media Streams, from Twilio's documented messages) sends a
3 s reply in about 100 ms, as servers do. What a caller hears is laid out by the
playout model: the reply plays for 3 s from the arrival of its first chunk (the
network-edge onset), marks come back when their audio has played, and a barge-in
1 s into the playback is measured against the playback, with ``clear`` stopping it at
once; a client with an 80 ms buffer hears all of it 80 ms later. Tolerances: 2 ms for anything timed by one loopback hop in one event loop,
5 ms for speech onsets and ends found in the audio, 50 ms for the 3 s reply's length
(its last voiced sample, not its last sample).
"""

from __future__ import annotations

import asyncio
import json

import pytest
from websockets.asyncio.server import ServerConnection
from ws_fakes import LoudnessGate, fake_server, mulaw_chunks, now_ns, spec, speech_like

from harness.analysis.timeline import build_timeline
from harness.callers.websocket import WebSocketCaller
from harness.corpus.model import Corpus
from harness.metrics.heard import heard_timeline
from harness.records import Dialect, EventKind, Scenario, Step, StepKind
from harness.scoring import score_call

pytestmark = [pytest.mark.network]

MS = 1_000_000
REPLY_S = 3.0
BURST_MS = 100
EDGE_TOLERANCE_MS = 2.0
SPEECH_TOLERANCE_MS = 5.0
ECHO_DELAY_MS = 250.0


class BurstingAgent:
    """Bursts one 3 s reply 300 ms after ``start`` and a mark after it; ``clear``s on caller speech."""

    def __init__(self, corpus: Corpus, *, clear_on_speech: bool) -> None:
        self.chunks = mulaw_chunks(speech_like(corpus, "rep_journey", REPLY_S))
        self.clear_on_speech = clear_on_speech
        self.sent: list[tuple[int, int]] = []
        """Per chunk, just before and just after it was handed to the socket (the fake shares
        the caller's event loop, so the send itself is only known to lie in between)."""
        self.last_sent = 0
        self.cleared: tuple[int, int] | None = None
        self.mark_back: int | None = None

    async def __call__(self, ws: ServerConnection) -> None:
        gate = LoudnessGate()
        cleared = False
        burst: asyncio.Task[None] | None = None
        async for message in ws:
            assert isinstance(message, str)
            obj = json.loads(message)
            sid = obj.get("streamSid")
            if obj["event"] == "start":
                burst = asyncio.ensure_future(self._burst(ws, sid))
            elif obj["event"] == "mark":
                self.mark_back = now_ns()
            elif self.clear_on_speech and not cleared and self.last_sent and gate.push_twilio_media(message):
                cleared = True
                before = now_ns()
                await ws.send(json.dumps({"event": "clear", "streamSid": sid}))
                self.cleared = (before, now_ns())
        if burst is not None:
            burst.cancel()

    async def _burst(self, ws: ServerConnection, sid: str) -> None:
        """Two halves, 50 ms apart: the whole 3 s arrives within 100 ms."""
        await asyncio.sleep(0.3)
        half = len(self.chunks) // 2
        for i, payload in enumerate(self.chunks):
            if i == half:
                await asyncio.sleep(0.05)
            before = now_ns()
            await ws.send(json.dumps({"event": "media", "streamSid": sid, "media": {"payload": payload}}))
            self.last_sent = now_ns()
            self.sent.append((before, self.last_sent))
        await ws.send(json.dumps({"event": "mark", "streamSid": sid, "mark": {"name": "reply-end"}}))


BUFFER_MS = 80


def _run(corpus: Corpus, agent: BurstingAgent, scenario: Scenario):  # type: ignore[no-untyped-def]
    async def main():  # type: ignore[no-untyped-def]
        async with fake_server(agent) as server:
            call = spec(server.url, Dialect.TWILIO_MEDIA_STREAMS, scenario, options={"playout_buffer_ms": BUFFER_MS})
            return await WebSocketCaller(corpus).run(call)

    return asyncio.run(main())


def test_a_burst_is_heard_over_its_real_length_from_the_first_chunks_arrival(corpus: Corpus) -> None:
    agent = BurstingAgent(corpus, clear_on_speech=False)
    scenario = Scenario(id="burst", steps=(Step(index=0, kind=StepKind.LISTEN, timeout_ms=3000),))
    art = _run(corpus, agent, scenario)
    rec = art.recording
    assert rec.failure is None, rec.failure
    assert rec.arrival_source == "kernel"
    origin = rec.origin_monotonic_ns
    assert origin is not None
    arrivals = [t for _, t in rec.caller_info["chunk_arrivals"]]  # type: ignore[union-attr]
    assert len(arrivals) == len(agent.chunks)
    assert arrivals[-1] - arrivals[0] < BURST_MS * MS, "the server did burst"
    assert arrivals[-1] - arrivals[0] > 40 * MS, "arrival times are the chunks' own"
    # Chunks one read returned share its kernel stamp (the last segment's; the fake bursts
    # from the caller's own loop, so the reader may first run after several sends): the
    # first chunk arrived after its send began, and by the time the last chunk of its
    # read was handed over (a CI run read 2.01 ms past the first chunk's own send).
    last_of_read = max(i for i, t in enumerate(arrivals) if t == arrivals[0])
    assert agent.sent[0][0] - origin <= arrivals[0] <= agent.sent[last_of_read][1] - origin + EDGE_TOLERANCE_MS * MS
    # Network edge: the reply starts at its first chunk's arrival and plays for 3 s.
    assert rec.received_anchors[0][1] == arrivals[0]
    timeline = build_timeline(rec, art.received_audio)
    onset, end = timeline.agent_turns[0].start_ns, timeline.agent_turns[-1].end_ns
    assert abs(onset - arrivals[0]) < SPEECH_TOLERANCE_MS * MS, (onset, arrivals[0])
    assert abs((end - onset) / MS - REPLY_S * 1000) < 50, (end - onset) / MS
    # As heard through the client's 80 ms buffer: the same 3 s, starting 80 ms later.
    heard = heard_timeline(rec, art.received_audio)
    assert heard is not None
    assert heard.agent_turns[0].start_ns - onset == BUFFER_MS * MS
    assert heard.agent_turns[-1].end_ns - heard.agent_turns[0].start_ns == end - onset
    assert rec.caller_info["max_ahead_ms"] > 2800  # type: ignore[operator]
    # Twilio returns a mark once the audio queued before it has played (the echo leaves from
    # the caller's event loop, with its scheduling delay).
    (due,) = [e.t_ns for e in rec.events if e.vendor_type == "mark_played"]
    assert abs((due - arrivals[0]) / MS - REPLY_S * 1000) < EDGE_TOLERANCE_MS
    assert agent.mark_back is not None and 0 <= agent.mark_back - (origin + due) < ECHO_DELAY_MS * MS


def test_a_barge_in_into_a_burst_is_timed_by_playback_and_clear_stops_it_at_once(corpus: Corpus) -> None:
    agent = BurstingAgent(corpus, clear_on_speech=True)
    scenario = Scenario(id="burst-barge", steps=(  # the barge-in waits for the greeting's onset
        Step(index=0, kind=StepKind.BARGE_IN, utterance="int_hold_on", after_onset_ms=1000, timeout_ms=3000,
             await_reply=False),
        Step(index=1, kind=StepKind.SILENCE, duration_ms=1000),
    ))
    art = _run(corpus, agent, scenario)
    rec = art.recording
    assert rec.failure is None, rec.failure
    origin = rec.origin_monotonic_ns
    assert origin is not None and agent.cleared is not None
    (interruption,) = [s for s in rec.sent if s.kind is StepKind.BARGE_IN]
    first_arrival = rec.caller_info["chunk_arrivals"][0][1]  # type: ignore[index]
    # The caller came in 1 s into what it heard, not 1 s after the burst had arrived.
    assert interruption.agent_onset_ns is not None and interruption.trigger_ns is not None
    assert abs(interruption.agent_onset_ns - first_arrival) < SPEECH_TOLERANCE_MS * MS
    assert abs((interruption.trigger_ns - interruption.agent_onset_ns) / MS - 1000) < 1
    # The stop is the clear: measured from its arrival, the audio it flushed never played.
    (clear,) = [e for e in rec.events if e.vendor_type == "clear"]
    assert clear.kind is EventKind.AUDIO_CLEARED
    assert agent.cleared[0] - origin <= clear.t_ns <= agent.cleared[1] - origin + EDGE_TOLERANCE_MS * MS
    truth_ms = (clear.t_ns - interruption.speech_start_ns) / MS
    result = score_call(rec, scenario, art.received_audio)
    (stop,) = [m for m in result.measurements if m.metric == "barge_in_stop_ms"]
    assert stop.value is not None
    print(f"barge-in into a burst: stop {stop.value:.1f} ms, clear arrived at {truth_ms:.1f} ms")
    assert abs(stop.value - truth_ms) < SPEECH_TOLERANCE_MS, (stop.value, truth_ms)
    played_ms = (clear.t_ns - first_arrival) / MS
    assert rec.caller_info["flushed_ms"] == pytest.approx(REPLY_S * 1000 - played_ms, abs=1)
    (due,) = [e.t_ns for e in rec.events if e.vendor_type == "mark_played"]
    assert due == clear.t_ns  # the mark came back at the clear
    assert agent.mark_back is not None and 0 <= agent.mark_back - (origin + due) < ECHO_DELAY_MS * MS

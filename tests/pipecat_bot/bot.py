"""A small, real Pipecat bot for the harness's own tests (run as a separate process).

Pipecat's SmallWebRTCTransport and request handler, Pipecat's Silero VAD with a
configured ``stop_secs``, and a non-LLM responder that answers every user turn with the
same pre-synthesised phrase (corpus item ``ans_sure``). Barge-in is Pipecat's own
interruption path: caller speech while the bot talks broadcasts an interruption, which
clears the output transport's queue.

The bot logs about itself, as JSONL on CLOCK_MONOTONIC (shared with the harness):
  vad_start / vad_stop  when Silero's VAD frames were produced (vad_stop comes
                        ``stop_secs`` after the caller's last voiced audio);
  reply_onset           when the first *voiced* sample of the answer left the bot: the
                        RTP packet's socket hand-off (the harness's SendTap on the bot's
                        sender) plus the sample's offset in it. The answer's sample
                        position comes from Pipecat's own output track (the 10 ms chunk
                        it popped first) plus the phrase's leading silence;
  reply_pushed          when the responder handed the answer to the pipeline;
  interrupted           when the responder broadcast an interruption.

Usage: python bot.py --stop-secs 0.5 --log bot.jsonl  (prints one ready line with its URL)
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import contextlib
import json
import signal
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
from aiohttp import web
from aiortc.sdp import candidate_from_sdp
from pipecat.audio.vad.silero import SileroVADAnalyzer
from pipecat.audio.vad.vad_analyzer import VADParams
from pipecat.frames.frames import (
    Frame,
    SpeechOutputAudioRawFrame,
    UserStartedSpeakingFrame,
    UserStoppedSpeakingFrame,
    VADUserStartedSpeakingFrame,
    VADUserStoppedSpeakingFrame,
)
from pipecat.pipeline.pipeline import Pipeline
from pipecat.pipeline.runner import PipelineRunner
from pipecat.pipeline.task import PipelineParams, PipelineTask
from pipecat.processors.audio.vad_processor import VADProcessor
from pipecat.processors.frame_processor import FrameDirection, FrameProcessor
from pipecat.transports.base_transport import TransportParams
from pipecat.transports.smallwebrtc import transport as smallwebrtc_transport
from pipecat.transports.smallwebrtc.connection import SmallWebRTCConnection
from pipecat.transports.smallwebrtc.transport import SmallWebRTCTransport

from harness.corpus.defaults import default_corpus
from harness.corpus.model import load_audio
from harness.webrtc.audio import FRAME_SAMPLES, SAMPLE_RATE
from harness.webrtc.ice import loopback_only
from harness.webrtc.taps import SendTap, SentPacket

READY_PREFIX = "pipecat test bot listening on "
REPLY_ITEM = "ans_sure"
CHUNK_MS = 20
STUTTER_WINDOW = SAMPLE_RATE * 60 // 1000
"""Output gaps this soon after the onset break the 50 ms run a speech detector needs."""


class BotLog:
    def __init__(self, path: Path) -> None:
        self._file = path.open("a", encoding="utf-8")

    def write(self, kind: str, **fields: Any) -> None:
        self._file.write(json.dumps({"kind": kind, **fields}) + "\n")
        self._file.flush()


class _Onsets:
    """Joins the output track's sample position of each reply with its RTP wire time.

    The reply is recognised by content: the 10 ms chunk holding its first voiced sample
    is compared byte for byte with what Pipecat's output track pops, so silence the
    transport queued before it cannot be mistaken for the answer.
    """

    def __init__(self, log: BotLog, pc_id: str, reply: bytes, lead_samples: int) -> None:
        self.log = log
        self.pc_id = pc_id
        chunk = SAMPLE_RATE // 100
        self.key_index, self.key_offset = divmod(lead_samples, chunk)
        self.key = reply[self.key_index * chunk * 2 : (self.key_index + 1) * chunk * 2]
        self.replies = 0
        self.last_onset: int | None = None
        self.pending: list[tuple[int, int]] = []
        """(reply number, sample index of its first voiced sample) awaiting their packet."""

    def on_pop(self, pts: int, chunk: bytes) -> None:
        if chunk == self.key:
            self.pending.append((self.replies, pts + self.key_offset))
            self.last_onset = pts + self.key_offset
            self.replies += 1

    def on_silence(self, pts: int) -> None:
        """The track had nothing queued: inside a reply's first 60 ms that is a glitch
        (Pipecat's transport refills the queue one chunk at a time), logged so a test can
        tell the bot's own stutter from a measurement error."""
        if self.last_onset is not None and 0 <= pts - self.last_onset < STUTTER_WINDOW:
            self.log.write("underrun", pc_id=self.pc_id, reply=self.replies - 1, sample=pts)

    def on_packet(self, packet: SentPacket) -> None:
        for item in list(self.pending):
            reply, sample = item
            if packet.timestamp <= sample < packet.timestamp + FRAME_SAMPLES:
                onset_ns = packet.wire_ns + (sample - packet.timestamp) * 1_000_000_000 // SAMPLE_RATE
                self.log.write("reply_onset", pc_id=self.pc_id, reply=reply, t_ns=onset_ns, sample=sample)
                self.pending.remove(item)


class _TappedQueue(collections.deque):  # type: ignore[type-arg]
    """Pipecat's output chunk queue, reporting the track position of each chunk popped."""

    def __init__(self, track: Any, onsets: _Onsets) -> None:
        super().__init__()
        self._track = track
        self._onsets = onsets

    popped = False

    def popleft(self) -> Any:
        self.popped = True
        item = super().popleft()
        self._onsets.on_pop(int(self._track._timestamp), item[0])
        return item


class Responder(FrameProcessor):
    """Answers each user turn with canned audio; interrupts itself when the user barges in."""

    def __init__(self, reply: bytes, log: BotLog, onsets: _Onsets) -> None:
        super().__init__()
        self._reply = reply
        self._log = log
        self._onsets = onsets
        self._replies = 0
        self._speaking_until_ns = 0

    async def process_frame(self, frame: Frame, direction: FrameDirection) -> None:
        await super().process_frame(frame, direction)
        now = time.monotonic_ns()
        if isinstance(frame, VADUserStartedSpeakingFrame):
            self._log.write("vad_start", pc_id=self._onsets.pc_id, t_ns=now)
            await self.broadcast_frame(UserStartedSpeakingFrame)
            if now < self._speaking_until_ns:
                self._speaking_until_ns = 0
                self._log.write("interrupted", pc_id=self._onsets.pc_id, t_ns=now)
                await self.broadcast_interruption()
        elif isinstance(frame, VADUserStoppedSpeakingFrame):
            self._log.write("vad_stop", pc_id=self._onsets.pc_id, t_ns=now)
            await self.push_frame(frame, direction)
            await self.broadcast_frame(UserStoppedSpeakingFrame)
            await self._answer()
            return
        await self.push_frame(frame, direction)

    async def _answer(self) -> None:
        reply = self._replies
        self._replies += 1
        self._log.write("reply_pushed", pc_id=self._onsets.pc_id, reply=reply, t_ns=time.monotonic_ns())
        duration_ns = len(self._reply) // 2 * 1_000_000_000 // SAMPLE_RATE
        self._speaking_until_ns = time.monotonic_ns() + duration_ns + 200_000_000
        step = SAMPLE_RATE * CHUNK_MS // 1000 * 2
        for i in range(0, len(self._reply), step):
            await self.push_frame(
                SpeechOutputAudioRawFrame(audio=self._reply[i : i + step], sample_rate=SAMPLE_RATE, num_channels=1)
            )


def _reply_audio() -> tuple[bytes, int]:
    utt = default_corpus(build=True).get(REPLY_ITEM)
    audio = load_audio(utt)
    pcm = (np.clip(audio, -1.0, 1.0) * 32767).astype(np.int16)
    pad = (-pcm.size) % (SAMPLE_RATE * CHUNK_MS // 1000)
    return np.concatenate([pcm, np.zeros(pad, np.int16)]).tobytes(), utt.speech_start


class Bot:
    def __init__(self, stop_secs: float, log: BotLog) -> None:
        self.stop_secs = stop_secs
        self.log = log
        self.reply, self.lead = _reply_audio()
        self.connections: dict[str, SmallWebRTCConnection] = {}
        self.tasks: set[asyncio.Task[None]] = set()

    # What pipecat's SmallWebRTCRequestHandler does, minus its FastAPI dependency.
    async def offer(self, request: web.Request) -> web.Response:
        body = await request.json()
        connection = SmallWebRTCConnection(ice_servers=[])
        await connection.initialize(sdp=body["sdp"], type=body["type"])
        await self._start(connection)
        answer = connection.get_answer()
        self.connections[answer["pc_id"]] = connection
        return web.json_response(answer)

    async def patch(self, request: web.Request) -> web.Response:
        body = await request.json()
        connection = self.connections.get(body["pc_id"])
        if connection is None:
            return web.json_response({"error": "no such peer connection"}, status=404)
        for c in body.get("candidates", []):
            candidate = candidate_from_sdp(c["candidate"].removeprefix("candidate:"))
            candidate.sdpMid = c["sdp_mid"]
            candidate.sdpMLineIndex = c["sdp_mline_index"]
            await connection.add_ice_candidate(candidate)
        return web.Response(status=204)

    async def _start(self, connection: SmallWebRTCConnection) -> None:
        onsets = _Onsets(self.log, connection.pc_id, self.reply, self.lead)
        sender = connection.pc.getTransceivers()[0].sender
        SendTap(sender.transport, sender._ssrc, on_packet=onsets.on_packet)
        transport = SmallWebRTCTransport(
            webrtc_connection=connection,
            params=TransportParams(audio_in_enabled=True, audio_out_enabled=True),
        )
        vad = SileroVADAnalyzer(params=VADParams(stop_secs=self.stop_secs))
        pipeline = Pipeline([
            transport.input(), VADProcessor(vad_analyzer=vad),
            Responder(self.reply, self.log, onsets), transport.output(),
        ])
        task = PipelineTask(pipeline, params=PipelineParams(
            audio_in_sample_rate=16000, audio_out_sample_rate=SAMPLE_RATE,
        ))
        _ONSETS_BY_RATE[SAMPLE_RATE] = onsets

        @transport.event_handler("on_client_disconnected")
        async def _gone(_transport: Any, _client: Any) -> None:
            await task.cancel()

        self.log.write("call_start", pc_id=connection.pc_id, stop_secs=self.stop_secs, lead_samples=self.lead)
        run = asyncio.create_task(PipelineRunner(handle_sigint=False).run(task))
        self.tasks.add(run)
        run.add_done_callback(self.tasks.discard)


_ONSETS_BY_RATE: dict[int, _Onsets] = {}
"""The onset tracker of the newest call (the test bot serves one call at a time)."""

_original_track_init = smallwebrtc_transport.RawAudioTrack.__init__


def _tapped_track_init(self: Any, *args: Any, **kwargs: Any) -> None:
    _original_track_init(self, *args, **kwargs)
    onsets = _ONSETS_BY_RATE.get(self._sample_rate)
    if onsets is not None:
        self._chunk_queue = _TappedQueue(self, onsets)


_original_recv = smallwebrtc_transport.RawAudioTrack.recv


async def _watched_recv(self: Any) -> Any:
    queue = self._chunk_queue
    if isinstance(queue, _TappedQueue):
        queue.popped = False
    frame = await _original_recv(self)
    if isinstance(queue, _TappedQueue) and not queue.popped:
        queue._onsets.on_silence(int(frame.pts))
    return frame


async def main(port: int, stop_secs: float, log_path: Path) -> None:
    smallwebrtc_transport.RawAudioTrack.__init__ = _tapped_track_init  # type: ignore[method-assign]
    smallwebrtc_transport.RawAudioTrack.recv = _watched_recv  # type: ignore[method-assign]
    bot = Bot(stop_secs, BotLog(log_path))
    app = web.Application()
    app.add_routes([web.post("/api/offer", bot.offer), web.patch("/api/offer", bot.patch)])
    runner = web.AppRunner(app, handle_signals=False)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", port)
    await site.start()
    bound = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    print(f"{READY_PREFIX}http://127.0.0.1:{bound}", flush=True)
    stop = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        asyncio.get_running_loop().add_signal_handler(sig, stop.set)
    await stop.wait()
    for connection in bot.connections.values():
        with contextlib.suppress(Exception):
            await asyncio.wait_for(connection.disconnect(), 5)
    await runner.cleanup()


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--stop-secs", type=float, default=0.5)
    parser.add_argument("--log", type=Path, required=True)
    args = parser.parse_args()
    from loguru import logger

    logger.remove()
    logger.add(sys.stderr, level="WARNING")
    with loopback_only():
        asyncio.run(main(args.port, args.stop_secs, args.log))

"""Where received WebSocket audio sits on the call clock: the documented playout model.

Servers send audio over WebSocket in bursts, often far faster than real time, so a
chunk's arrival is not when anyone hears it. The harness places received audio the
way a real-time client plays it (docs/websocket.md):

- chunks queue in arrival order and play back to back at real time;
- **network edge**: a player with no buffer. A chunk starts playing at
  ``max(its arrival, the end of the audio queued before it)``: the chunk that starts a
  reply after silence plays at its arrival (the arrival of the chunk carrying the first
  voiced sample, for a reply that starts voiced), and a burst plays out over its real
  length, not over the 100 ms it took to arrive;
- **as heard**: the same player with a buffer of ``buffer_ms`` (it starts each run of
  audio that much after its first chunk arrived); every time is the edge time plus
  the buffer;
- **flush**: on the dialect's stop signal (Twilio ``clear``, Gemini ``interrupted``,
  ElevenLabs ``interruption``, OpenAI ``speech_started`` while audio plays) every
  sample not yet played is dropped: the received audio stops being playable at the
  signal's arrival. The recording keeps what the edge player played.

Pure: it takes arrival times as arguments, so tests drive it without a network.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from harness.webrtc.audio import SAMPLE_RATE, Float32Audio
from harness.ws.codecs import from_wire_rate, wire_to_timeline

JOIN_GAP_NS = 40_000_000
"""In received.wav, chunks less than this apart are laid end to end (timing is in the
anchors); a longer gap is written as silence, so the file stays close to call time."""
RELEASE_SLICE_NS = 20_000_000


@dataclass(slots=True)
class PlacedChunk:
    samples: Float32Audio
    """At the wire's rate."""
    rate: int
    arrival_ns: int
    edge_ns: int
    """When the edge player starts it (CLOCK_MONOTONIC)."""
    item: str = ""
    """The vendor's id of the audio item it belongs to (for truncation), if any."""
    kept: int = 0
    """Samples that were played (all of them, unless a flush cut it)."""
    released: int = 0
    """Samples already handed to live listeners."""

    @property
    def end_ns(self) -> int:
        return self.edge_ns + self.kept * 1_000_000_000 // self.rate


@dataclass(frozen=True, slots=True)
class Mark:
    name: str
    at_ns: int
    """When the audio queued before it has played (or the flush that dropped it)."""


@dataclass(frozen=True, slots=True)
class Flush:
    at_ns: int
    dropped_ns: int
    """How much queued audio the flush dropped."""
    played_ms: dict[str, int] = field(default_factory=dict)
    """Per vendor item with dropped audio, and for the item heard last: how many ms of it
    were played (for truncation; the dialect knows which items were still in progress)."""
    marks: tuple[str, ...] = ()
    """Marks returned by the flush (their audio was dropped)."""


@dataclass(frozen=True, slots=True)
class Released:
    samples: Float32Audio
    rate: int
    edge_ns: int


@dataclass(frozen=True, slots=True, kw_only=True)
class Assembled:
    audio: Float32Audio
    """What the edge player played, at 48 kHz, sample index ~ call time."""
    anchors: tuple[tuple[int, int], ...]
    """(sample index, edge time on the call clock) per chunk: the network-edge timeline."""
    heard_anchors: tuple[tuple[int, int], ...]
    """(sample index, as-heard time on the call clock) per chunk."""
    arrivals: tuple[tuple[int, int], ...]
    """(sample index, arrival on the call clock) per chunk, as they came off the socket."""


class PlayoutModel:
    def __init__(self, buffer_ms: float = 0.0) -> None:
        if buffer_ms < 0:
            raise ValueError("playout buffer must be >= 0 ms")
        self.buffer_ns = round(buffer_ms * 1e6)
        self.chunks: list[PlacedChunk] = []
        self.marks: list[Mark] = []
        self._pending_marks: list[Mark] = []
        self.flushes: list[Flush] = []
        self.max_ahead_ns = 0
        """How far ahead of playback the server ever was (0 for a paced server)."""
        self.underruns = 0
        """Runs of audio after the first: the queue ran dry and a chunk started afresh."""
        self.queue_end_ns = 0
        """When the audio queued so far has played (CLOCK_MONOTONIC)."""
        self._cursor = 0
        """Index of the first chunk not yet wholly handed to live listeners (they run every 20 ms:
        starting there keeps a long call's bookkeeping from growing with its length)."""

    def playing(self, now_ns: int) -> bool:
        """Audio is still queued to play after ``now_ns``."""
        return self.queue_end_ns > now_ns

    def add(self, samples: Float32Audio, rate: int, arrival_ns: int, item: str = "") -> PlacedChunk | None:
        if samples.size == 0:
            return None
        queued = self.queue_end_ns
        self.max_ahead_ns = max(self.max_ahead_ns, queued - arrival_ns)
        if self.chunks and arrival_ns > queued:
            self.underruns += 1
        chunk = PlacedChunk(samples=samples.astype(np.float32, copy=False), rate=rate, arrival_ns=arrival_ns,
                            edge_ns=max(arrival_ns, queued), item=item, kept=samples.size)
        self.chunks.append(chunk)
        self.queue_end_ns = chunk.end_ns
        return chunk

    def add_mark(self, name: str, arrival_ns: int) -> Mark:
        mark = Mark(name=name, at_ns=max(arrival_ns, self.queue_end_ns))
        self._pending_marks.append(mark)
        return mark

    def flush(self, at_ns: int) -> Flush:
        """Drop everything not played by ``at_ns``."""
        dropped = 0
        played: dict[str, int] = {}
        for chunk in self.chunks:
            if chunk.end_ns <= at_ns:
                continue
            keep = max(0, min(chunk.kept, (at_ns - chunk.edge_ns) * chunk.rate // 1_000_000_000))
            dropped += (chunk.kept - keep) * 1_000_000_000 // chunk.rate
            chunk.kept = keep
            chunk.released = min(chunk.released, keep)
            if chunk.item:
                played.setdefault(chunk.item, 0)
        last = next((c.item for c in reversed(self.chunks) if c.edge_ns <= at_ns), "")
        if last:
            played.setdefault(last, 0)
        for item in played:
            of_item = [c for c in self.chunks if c.item == item]
            played[item] = sum(c.kept for c in of_item) * 1000 // of_item[0].rate
        returned = tuple(m.name for m in self._pending_marks if m.at_ns > at_ns)
        self._pending_marks = [m for m in self._pending_marks if m.at_ns <= at_ns]
        self.marks += [Mark(name=name, at_ns=at_ns) for name in returned]
        self.queue_end_ns = min(self.queue_end_ns, at_ns)
        flush = Flush(at_ns=at_ns, dropped_ns=dropped, played_ms=played, marks=returned)
        self.flushes.append(flush)
        return flush

    # ------------------------------------------------------------------- live

    def next_due_ns(self) -> int | None:
        """When the next unreleased audio slice or mark is due."""
        times = [m.at_ns for m in self._pending_marks]
        for chunk in self.chunks[self._cursor:]:
            if chunk.released < chunk.kept:
                times.append(chunk.edge_ns + chunk.released * 1_000_000_000 // chunk.rate)
                break
        return min(times) if times else None

    def due(self, now_ns: int) -> tuple[list[Released], list[Mark]]:
        """Audio slices that have started playing by ``now_ns`` and marks whose audio has played."""
        out: list[Released] = []
        while self._cursor < len(self.chunks) and self.chunks[self._cursor].released >= self.chunks[self._cursor].kept:
            self._cursor += 1
        for chunk in self.chunks[self._cursor:]:
            while chunk.released < chunk.kept:
                start_ns = chunk.edge_ns + chunk.released * 1_000_000_000 // chunk.rate
                if start_ns > now_ns:
                    return out, self._due_marks(now_ns)
                n = min(chunk.kept - chunk.released, max(1, chunk.rate * RELEASE_SLICE_NS // 1_000_000_000))
                out.append(Released(chunk.samples[chunk.released:chunk.released + n], chunk.rate, start_ns))
                chunk.released += n
        return out, self._due_marks(now_ns)

    def _due_marks(self, now_ns: int) -> list[Mark]:
        due = [m for m in self._pending_marks if m.at_ns <= now_ns]
        self._pending_marks = [m for m in self._pending_marks if m.at_ns > now_ns]
        self.marks += due
        return due

    # --------------------------------------------------------------- recording

    def assemble(self, origin_ns: int) -> Assembled:
        """The played audio at 48 kHz on the call clock, with its three sets of anchors."""
        # Audio that played before t=0 (the first frame sent) is not on the call clock.
        kept = [c for c in self.chunks if c.kept > 0 and c.edge_ns >= origin_ns]
        runs: list[list[PlacedChunk]] = []
        for chunk in kept:
            if runs and chunk.rate == runs[-1][-1].rate and chunk.edge_ns - runs[-1][-1].end_ns < JOIN_GAP_NS:
                runs[-1].append(chunk)
            else:
                runs.append([chunk])
        pieces: list[Float32Audio] = []
        anchors: list[tuple[int, int]] = []
        heard: list[tuple[int, int]] = []
        arrivals: list[tuple[int, int]] = []
        length = 0
        for run in runs:
            start = max(length, round((run[0].edge_ns - origin_ns) * SAMPLE_RATE / 1e9))
            audio = from_wire_rate(np.concatenate([c.samples[: c.kept] for c in run]), run[0].rate)
            if start > length:
                pieces.append(np.zeros(start - length, dtype=np.float32))
            offset = 0
            for chunk in run:
                index = start + wire_to_timeline(offset, chunk.rate)
                anchors.append((index, chunk.edge_ns - origin_ns))
                heard.append((index, chunk.edge_ns + self.buffer_ns - origin_ns))
                arrivals.append((index, chunk.arrival_ns - origin_ns))
                offset += chunk.kept
            pieces.append(audio)
            length = start + audio.size
        if not pieces:
            return Assembled(audio=np.zeros(0, dtype=np.float32), anchors=(), heard_anchors=(), arrivals=())
        return Assembled(audio=np.concatenate(pieces), anchors=tuple(anchors), heard_anchors=tuple(heard),
                         arrivals=tuple(arrivals))

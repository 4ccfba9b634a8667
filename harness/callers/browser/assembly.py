"""The page's evidence -> a ``CallRecording`` laid out exactly like the aiortc caller's.

Pure: no browser, no network, no clock reads; the caller hands in what the page
reported and the clock mappings. Three audio timelines come out:

- **sent** (caller.wav): the clips placed where they were found in the Opus frames
  the page sent (``align``); sample ``n`` is RTP sample ``n`` of the outgoing
  stream and t=0 is when its first frame was sent.
- **received** (received.wav + ``received_anchors``): the Opus frames tapped at
  packet arrival, before Chromium's jitter buffer, decoded here and placed at their
  arrival times — the network edge, the same thing the aiortc caller records, so every
  metric reads it unchanged.
- **heard** (``heard_anchors``): the same received samples, anchored instead at the
  time Chromium played each packet out of its adaptive jitter buffer
  (getSynchronizationSources); the difference to the network edge is what Chromium's
  receive path (jitter buffer, decoding, playout) adds for a listener. The page's own
  recording of what it played (heard.wav) is kept for listening, not timing.
"""

from __future__ import annotations

import base64
import dataclasses
import statistics
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from harness.callers.browser.align import MIN_QUALITY, locate_clip
from harness.callers.browser.clock_sync import ClockMapping, ContextClock
from harness.callers.browser.protocol import (
    DataChannelMessage,
    PlayedMessage,
    StatsMessage,
    StepMessage,
)
from harness.callers.browser.session import EncodedFrame, HeardBlock
from harness.callers.script import ResolvedStep, sent_utterance
from harness.endpoints.base import WebRTCEndpoint
from harness.records import (
    EndpointEvent,
    JSONValue,
    SendTiming,
    SentUtterance,
    StepLog,
    TransportSample,
)
from harness.webrtc.audio import (
    FRAME_SAMPLES,
    OPUS_DELAY_NS,
    OPUS_DELAY_SAMPLES,
    SAMPLE_RATE,
    Float32Audio,
)
from harness.webrtc.received import ReceivedStream, time_of_sample
from harness.webrtc.taps import ArrivedPacket

FIRST_CLIP_WINDOW_MS = 600.0
"""Search range for the first clip, whose path delay is not yet known."""
NEXT_CLIP_WINDOW_MS = 120.0
"""Search range around the delay the earlier clips showed."""

Anchors = tuple[tuple[int, int], ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class Clocks:
    page: ClockMapping
    """performance.now() -> CLOCK_MONOTONIC."""
    context: ContextClock | None
    """AudioContext time -> performance.now() at the output; None if never sampled."""
    output_latency_ns: int = 0
    """The AudioContext's reported output latency (render -> device output)."""

    def page_ns(self, page_ms: float) -> int:
        return self.page.to_monotonic(page_ms)

    def context_ns(self, frame: float, sample_rate: int = SAMPLE_RATE) -> int | None:
        """When the page's audio graph rendered context frame ``frame`` (CLOCK_MONOTONIC).

        ``getOutputTimestamp`` says when a frame reaches the output device; the graph
        rendered it ``outputLatency`` earlier, and that is when a clip scheduled at the
        frame entered the outgoing track and when the live detector heard the frame.
        Good to one render buffer (~10 ms), as the graph renders a buffer at a time.
        """
        if self.context is None:
            return None
        output = self.page.to_monotonic(self.context.to_page_ms(frame / sample_rate))
        return output - self.output_latency_ns


def decode_frames(frames: Sequence[EncodedFrame], clocks: Clocks, *, codec_delay: bool) -> ReceivedStream:
    """Decode tapped Opus frames in the order seen, anchored at their page times.

    ``codec_delay``: anchor each packet ``OPUS_DELAY_NS`` before its time, at the
    encoder's input position (the sent frames: the caller's mouth time, as the aiortc
    caller's send tap stamps it); without it, at the time itself (the received frames:
    when the decoded sound exists here, what the caller waits for)."""
    stream = ReceivedStream(codec_delay_ns=OPUS_DELAY_NS if codec_delay else 0)
    for f in frames:
        stream.add(ArrivedPacket(seq=f.seq, timestamp=f.rtp_ts, payload=f.payload,
                                 arrival_ns=clocks.page_ns(f.t_ms)))
    return stream


def heard_anchors(
    playout: Sequence[tuple[int, float]],
    stream: ReceivedStream,
    first_rtp_ts: int,
    clocks: Clocks,
    origin_ns: int,
) -> Anchors:
    """When each received packet was played out, as anchors into received.wav.

    ``playout`` holds (RTP timestamp, page ms) pairs from getSynchronizationSources;
    a packet's first report is when Chromium's renderer took it from the jitter buffer
    for the output device. The anchor is that time for the packet's first sample in
    received.wav (the same decoded samples, so no codec delay is taken off: the
    listener hears the decoded sound when it is played). The output device's own
    latency is not included (headless Chromium has none worth the name; see
    ``caller_info.output_latency_ms`` for what the AudioContext reports).
    """
    if not stream.anchors or not playout:
        return ()
    first_index, first_arrival = stream.anchors[0]
    lead = round((first_arrival - origin_ns) * SAMPLE_RATE / 1e9) - first_index
    first: dict[int, float] = {}
    for rtp, ms in playout:
        if rtp not in first or ms < first[rtp]:
            first[rtp] = ms
    out = []
    for rtp, ms in first.items():
        rel = (rtp - first_rtp_ts) & 0xFFFFFFFF
        if rel >= 1 << 31 or rel + lead < 0 or rel >= stream.length:
            continue
        out.append((rel + lead, clocks.page_ns(ms) - origin_ns))
    out.sort()
    return tuple(out)


def heard_on_clock(
    blocks: Sequence[HeardBlock], clocks: Clocks, origin_ns: int
) -> Float32Audio:
    """The page's own recording of what it heard, laid on the call clock for listening.

    Placed at the AudioContext render time of its first frame, good to a render buffer
    (~10 ms); timing comes from ``heard_anchors``, not from this.
    """
    if not blocks or clocks.context is None:
        return np.zeros(0, dtype=np.float32)
    ordered = sorted(blocks, key=lambda b: b.start_frame)
    first = ordered[0].start_frame
    end = max(b.start_frame + b.samples.size for b in ordered)
    audio = np.zeros(end - first, dtype=np.float32)
    for b in ordered:
        audio[b.start_frame - first : b.start_frame - first + b.samples.size] = b.samples
    t = clocks.context_ns(first)
    assert t is not None
    lead = round((t - origin_ns) * SAMPLE_RATE / 1e9)
    return np.concatenate([np.zeros(lead, dtype=np.float32), audio]) if lead >= 0 else audio[-lead:]


@dataclass(frozen=True, slots=True, kw_only=True)
class PlacedClip:
    sent: SentUtterance
    position: int
    """Encoder-input sample index of the clip's first sample (= index in caller.wav)."""
    quality: float
    scheduled_ns: int | None
    """When the page scheduled its first sample to enter the outgoing track (render time)."""
    late_ms: float
    """How far the page was behind when it scheduled the clip (0 when on time)."""


def place_clips(
    played: Sequence[PlayedMessage],
    steps: Sequence[ResolvedStep],
    sent_stream: ReceivedStream,
    clocks: Clocks,
    origin_ns: int,
    first_window_ms: float = FIRST_CLIP_WINDOW_MS,
    min_quality: float = MIN_QUALITY,
) -> list[PlacedClip]:
    """Find every played clip in the sent audio and time it at the network edge.

    ``sent_stream`` is the page's outgoing frames decoded as a receiver would (anchors
    = send time less the codec delay), so a sample's time here is what the far end's
    packet-arrival clock says, minus the network. A clip was scheduled either at an
    AudioContext frame (``start_frame``) or, in getUserMedia mode, at a page time
    (``start_perf``); both are sample-rate positions on one steady clock, so once one
    clip is found the others are searched near the same offset.
    """
    by_index = {s.index: s for s in steps}
    sent_audio = sent_stream.samples()
    anchors = sent_stream.anchors
    placed: list[PlacedClip] = []
    offsets: list[int] = []
    for msg in played:
        step = by_index.get(msg.step)
        if step is None or step.utterance is None or step.audio is None or not anchors:
            continue
        if msg.start_frame is not None:
            key = msg.start_frame
            scheduled = clocks.context_ns(key)
            called = msg.called_frame if msg.called_frame is not None else key
            late_ms = max(0.0, (called - key) * 1000.0 / SAMPLE_RATE)
        elif msg.start_perf is not None:
            key = round(msg.start_perf * SAMPLE_RATE / 1000.0)
            scheduled = clocks.page_ns(msg.start_perf)
            late_ms = max(0.0, msg.called_perf - msg.start_perf)
        else:
            continue
        found = None
        if offsets:
            predicted = key - int(statistics.median(offsets))
            found = locate_clip(sent_audio, step.audio, predicted, _samples(NEXT_CLIP_WINDOW_MS))
        if (found is None or found.quality < min_quality) and scheduled is not None:
            predicted = _index_at(anchors, scheduled)
            wide = locate_clip(sent_audio, step.audio, predicted, _samples(first_window_ms))
            if wide is not None and (found is None or wide.quality > found.quality):
                found = wide
        if found is None or found.quality < min_quality:
            continue
        offsets.append(key - found.position)
        utt = step.utterance

        def at(sample: int, base: int = found.position) -> int:
            # Opus's lookahead carries input sample s in the packet whose decoded output
            # holds s + delay; the anchors are send times less that delay (as a receiver's).
            return time_of_sample(anchors, base + sample + OPUS_DELAY_SAMPLES) - origin_ns

        sent = sent_utterance(
            step_index=step.index,
            kind=step.kind,
            utterance=utt,
            start_sample=found.position,
            at=at,
            trigger_ns=_frame_ns(clocks, msg.trigger_frame, origin_ns),
            agent_onset_ns=_frame_ns(clocks, msg.onset_frame, origin_ns),
        )
        placed.append(PlacedClip(
            sent=sent, position=found.position, quality=found.quality,
            scheduled_ns=None if scheduled is None else scheduled - origin_ns, late_ms=late_ms,
        ))
    return placed


def _samples(ms: float) -> int:
    return round(ms * SAMPLE_RATE / 1000.0)


def _frame_ns(clocks: Clocks, frame: float | None, origin_ns: int) -> int | None:
    if frame is None:
        return None
    t = clocks.context_ns(frame)
    return None if t is None else t - origin_ns


def _index_at(anchors: Sequence[tuple[int, int]], t_ns: int) -> int:
    """The sent-stream sample that left at ``t_ns`` (by the nearest frame's send time)."""
    arr = np.asarray(anchors, dtype=np.int64)
    k = int(np.argmin(np.abs(arr[:, 1] - t_ns)))
    return int(arr[k, 0] + (t_ns - arr[k, 1]) * SAMPLE_RATE // 1_000_000_000)


def caller_audio(placed: Sequence[PlacedClip], steps: Sequence[ResolvedStep], length: int) -> Float32Audio:
    """What the page put into the encoder, rebuilt exactly from the clips and positions."""
    audio_of = {s.index: s.audio for s in steps if s.audio is not None}
    clips = [(p.position, audio_of[p.sent.step_index]) for p in placed if p.sent.step_index in audio_of]
    out = np.zeros(max([length, *(pos + clip.size for pos, clip in clips)]), dtype=np.float32)
    for pos, clip in clips:
        lo = max(0, pos)
        out[lo : pos + clip.size] += clip[lo - pos :]
    return out


def transport_samples(stats: Sequence[StatsMessage], clocks: Clocks, origin_ns: int) -> tuple[TransportSample, ...]:
    """getStats readings; ``jitter_buffer_ms`` is the mean over the interval since the last one."""
    out = []
    prev_delay = prev_count = 0.0
    for s in stats:
        inbound = s.inbound
        if inbound is None or inbound.packetsReceived is None:
            continue
        delay = inbound.jitterBufferDelay or 0.0
        count = float(inbound.jitterBufferEmittedCount or 0)
        jb = (delay - prev_delay) / (count - prev_count) * 1000.0 if count > prev_count else None
        prev_delay, prev_count = delay, count
        rtt = s.remote_rtt if s.remote_rtt is not None else s.pair_rtt
        out.append(TransportSample(
            t_ns=clocks.page_ns(s.perf) - origin_ns,
            packets_received=inbound.packetsReceived,
            packets_lost=max(0, inbound.packetsLost or 0),
            jitter_ms=inbound.jitter * 1000.0 if inbound.jitter is not None else None,
            rtt_ms=rtt * 1000.0 if rtt is not None else None,
            concealed_samples=inbound.concealedSamples,
            jitter_buffer_ms=jb,
        ))
    return tuple(out)


def mean_jitter_buffer_ms(stats: Sequence[StatsMessage]) -> float | None:
    """Chromium's average jitter-buffer delay over the whole call (the last cumulative reading)."""
    for s in reversed(stats):
        count = (s.inbound.jitterBufferEmittedCount or 0) if s.inbound else 0
        if count > 0:
            assert s.inbound is not None
            return (s.inbound.jitterBufferDelay or 0.0) / count * 1000.0
    return None


def send_timing(frames: Sequence[EncodedFrame], clocks: Clocks) -> SendTiming | None:
    """How evenly frames left the page's encoder: each send time against a fitted grid.

    The page's audio is clocked by its (headless, timer-driven) audio device, whose rate
    may differ from CLOCK_MONOTONIC by a few hundred ppm, so the grid is a line fitted
    to the send times, placed at their 1st percentile (frames cannot leave before their
    audio exists; the rare earlier one is clipped to 0). What remains is the bursty
    hand-over from the audio render thread to the encoder.
    """
    if not frames:
        return None
    ts0 = frames[0].rtp_ts
    slots = np.asarray([((f.rtp_ts - ts0) & 0xFFFFFFFF) / FRAME_SAMPLES for f in frames], dtype=np.float64)
    wire = np.asarray([clocks.page_ns(f.t_ms) for f in frames], dtype=np.float64) - clocks.page_ns(frames[0].t_ms)
    if len(frames) >= 10 and float(np.ptp(slots)) > 0:
        slope, intercept = np.polyfit(slots, wire, 1)
    else:
        slope, intercept = 20e6, 0.0
    err = wire - (intercept + slope * slots)
    ms = np.maximum(err - float(np.percentile(err, 1)), 0.0) / 1e6
    gaps = np.diff(wire) / 1e6  # frames leave in order; a gap is silence on the wire
    return SendTiming(
        frames=len(frames),
        late_frames=int(np.count_nonzero(ms > 5.0)),
        error_p50_ms=float(np.percentile(ms, 50)),
        error_p99_ms=float(np.percentile(ms, 99)),
        error_max_ms=float(ms.max()),
        max_gap_ms=float(gaps.max()) if gaps.size else None,
    )


def step_logs(steps: Sequence[StepMessage], clocks: Clocks, origin_ns: int) -> tuple[StepLog, ...]:
    return tuple(
        StepLog(step_index=s.step, kind=s.kind, started_ns=clocks.page_ns(s.started) - origin_ns,
                ended_ns=clocks.page_ns(s.ended) - origin_ns, outcome=s.outcome)
        for s in steps
    )


def endpoint_events(
    messages: Sequence[DataChannelMessage], endpoint: WebRTCEndpoint, clocks: Clocks, origin_ns: int
) -> tuple[EndpointEvent, ...]:
    """Data-channel messages through the dialect adapter, at the page's receive times."""
    events: list[EndpointEvent] = []
    for m in messages:
        payload: str | bytes
        if m.text is not None:
            payload = m.text
        elif m.b64 is not None:
            payload = base64.b64decode(m.b64)
        else:
            continue
        t = clocks.page_ns(m.perf)
        events.extend(dataclasses.replace(e, t_ns=e.t_ns - origin_ns) for e in endpoint.map_message(payload, t))
    return tuple(events)


def clip_report(placed: Sequence[PlacedClip]) -> list[JSONValue]:
    """Per clip: how well it was found and how its send time relates to its schedule."""
    out: list[JSONValue] = []
    for p in placed:
        path = None if p.scheduled_ns is None else (p.sent.start_ns - p.scheduled_ns) / 1e6
        out.append({
            "step": p.sent.step_index,
            "position": p.position,
            "match": round(p.quality, 4),
            "sent_minus_scheduled_ms": None if path is None else round(path, 3),
            "late_schedule_ms": round(p.late_ms, 3),
        })
    return out


__all__ = [
    "Clocks",
    "PlacedClip",
    "caller_audio",
    "clip_report",
    "decode_frames",
    "endpoint_events",
    "heard_anchors",
    "heard_on_clock",
    "mean_jitter_buffer_ms",
    "place_clips",
    "send_timing",
    "step_logs",
    "transport_samples",
]

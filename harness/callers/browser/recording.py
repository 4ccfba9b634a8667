"""One browser call's evidence -> its ``CallArtifacts``: the clocks, the three audio
timelines and the recording, laid out exactly like the aiortc caller's.

The pure pieces are in ``assembly``; this puts them together in order: calibrate the
page's clocks from the pings and getStats readings, decode what was sent and received,
find the clips, and say what went wrong if the evidence shows it (no audio from the
endpoint, a clip not found in what was sent).
"""

from __future__ import annotations

import statistics
import time
from dataclasses import dataclass

import numpy as np

from harness.callers.base import CallArtifacts
from harness.callers.browser.align import MIN_QUALITY
from harness.callers.browser.assembly import (
    FIRST_CLIP_WINDOW_MS,
    Clocks,
    caller_audio,
    clip_report,
    decode_frames,
    endpoint_events,
    heard_anchors,
    heard_on_clock,
    mean_jitter_buffer_ms,
    place_clips,
    send_timing,
    step_logs,
    transport_samples,
)
from harness.callers.browser.clock_sync import ClockMapping, calibrate, fit_context_clock
from harness.callers.browser.session import PageEvidence
from harness.callers.script import ResolvedStep
from harness.endpoints.base import WebRTCEndpoint
from harness.endpoints.impaired import network_applied
from harness.records import (
    CallerKind,
    CallRecording,
    CallSpec,
    Failure,
    FailureKind,
    JSONValue,
)
from harness.webrtc.audio import SAMPLE_RATE
from harness.webrtc.received import place_on_call_clock

__all__ = ["GUM_MIN_MATCH", "GUM_SEARCH_WINDOW_MS", "HEARD_WAV", "CallContext", "assemble"]

HEARD_WAV = "heard.wav"
GUM_SEARCH_WINDOW_MS = 1500.0
"""getUserMedia mode: how far from plan a clip is searched (capture start is not exact)."""
GUM_MIN_MATCH = 0.35
"""getUserMedia mode: noise suppression and gain control leave a clip less like itself
(0.55-0.75 seen where WebAudio clips match at 0.95); clips are seconds apart, so a
lower bar still finds the right one."""
MAX_REPORTED = 10
"""Page errors, warnings and protocol problems kept in ``caller_info`` (each counted)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class CallContext:
    """What the assembly needs to know about the call besides the page's evidence."""

    spec: CallSpec
    steps: list[ResolvedStep]
    endpoint: WebRTCEndpoint
    started_at: str
    record_heard: bool
    get_user_media: bool


def assemble(ev: PageEvidence, call: CallContext, failure: Failure | None,
             info: dict[str, JSONValue]) -> CallArtifacts:
    """The call's artifacts from its evidence; ``info`` (browser, ICE pair) is extended
    into ``caller_info``. Needs at least one answered ping (the caller checks)."""
    page = calibrate(ev.pings)
    pairs = [(s.ots_ctx, s.ots_perf) for s in ev.stats if s.ots_ctx is not None and s.ots_perf is not None]
    context = fit_context_clock(pairs) if any(p[0] > 0 for p in pairs) else None
    latencies = [s.output_latency for s in ev.stats if s.output_latency is not None]
    clocks = Clocks(page=page, context=context,
                    output_latency_ns=round(statistics.median(latencies) * 1e9) if latencies else 0)
    sent_stream = decode_frames(ev.sent, clocks, codec_delay=True)
    if ev.sent:
        origin = clocks.page_ns(ev.sent[0].t_ms)
    elif ev.connected is not None:
        origin = clocks.page_ns(ev.connected.perf)
    else:
        origin = time.monotonic_ns()
    recv_stream = decode_frames(ev.received, clocks, codec_delay=False)
    received, anchors = place_on_call_clock(recv_stream, origin)
    heard = heard_on_clock(ev.heard, clocks, origin) if call.record_heard else np.zeros(0, np.float32)
    played_out = heard_anchors(ev.playout, recv_stream, ev.received[0].rtp_ts, clocks, origin) if ev.received else ()
    placed = place_clips(ev.played, call.steps, sent_stream, clocks, origin,
                         first_window_ms=GUM_SEARCH_WINDOW_MS if call.get_user_media else FIRST_CLIP_WINDOW_MS,
                         min_quality=GUM_MIN_MATCH if call.get_user_media else MIN_QUALITY)
    sent_audio = caller_audio(placed, call.steps, sent_stream.length)
    if failure is None and not ev.received:
        failure = Failure(kind=FailureKind.NO_AUDIO, reason="the endpoint never sent audio")
    if failure is None and len(placed) < len(ev.played):
        missing = sorted({p.step for p in ev.played} - {p.sent.step_index for p in placed})
        failure = Failure(kind=FailureKind.CALLER_ERROR,
                          reason=f"clips of steps {missing} were not found in the audio sent",
                          step_index=missing[0] if missing else None)
    connected_ns = None if ev.connected is None else clocks.page_ns(ev.connected.perf) - origin
    info.update(_clock_info(page, clocks, ev))
    info["jitter_buffer_ms"] = mean_jitter_buffer_ms(ev.stats)
    info["clips"] = clip_report(placed)
    info["heard"] = {"recorded_samples": int(heard.size), "played_packets": len(played_out),
                     "received_packets": len(ev.received)}
    info["get_user_media"] = call.get_user_media
    if ev.capture is not None:
        info["capture"] = {"settings": ev.capture.settings, "label": ev.capture.label}
    if ev.connected is not None:
        info["user_agent"] = ev.connected.user_agent
    if ev.errors:
        info["page_errors"] = [f"{e.where}: {e.message}"[:300] for e in ev.errors[:MAX_REPORTED]]
    if ev.warnings:
        info["page_warnings"] = [f"{w.where}: {w.message}"[:300] for w in ev.warnings[:MAX_REPORTED]]
    if ev.malformed:
        info["page_protocol_errors"] = {"count": ev.malformed, "first": list(ev.problems)}
    spec = call.spec
    recording = CallRecording(
        call_id=spec.call_id,
        scenario_id=spec.scenario.id,
        endpoint=spec.endpoint.name,
        caller=CallerKind.BROWSER,
        repeat=spec.repeat,
        started_at=call.started_at,
        origin_monotonic_ns=origin if ev.sent else None,
        connected_ns=connected_ns,
        duration_ns=max(sent_audio.size, received.size) * 1_000_000_000 // SAMPLE_RATE,
        received_anchors=anchors,
        arrival_source="chromium",
        sent=tuple(p.sent for p in placed),
        steps=step_logs(ev.steps, clocks, origin),
        events=endpoint_events(ev.datachannel, call.endpoint, clocks, origin),
        transport=transport_samples(ev.stats, clocks, origin),
        send_timing=send_timing(ev.sent, clocks),
        failure=failure,
        dialect_info=dict(call.endpoint.info),
        heard_wav=HEARD_WAV if heard.size else "",
        heard_anchors=played_out,
        caller_info=info,
        network=network_applied(call.endpoint, origin),
    )
    return CallArtifacts(recording=recording, caller_audio=sent_audio, received_audio=received,
                         heard_audio=heard)


def _clock_info(page: ClockMapping, clocks: Clocks, ev: PageEvidence) -> dict[str, JSONValue]:
    ctx = clocks.context
    out: dict[str, JSONValue] = {
        "clock_error_us": round(page.error_ns / 1000, 1),
        "clock_rtt_us": round(page.rtt_ns / 1000, 1),
        "clock_spread_us": round(page.spread_ns / 1000, 1),
        "clock_pings": page.samples,
    }
    if ctx is not None:
        out["context_clock"] = {"slope": ctx.slope, "residual_ms": round(ctx.residual_ms, 3),
                                "samples": ctx.samples}
    with_latency = [s for s in ev.stats if s.output_latency is not None]
    if with_latency:
        last = with_latency[-1]
        assert last.output_latency is not None
        out["output_latency_ms"] = round(last.output_latency * 1000, 3)
        out["base_latency_ms"] = round((last.base_latency or 0.0) * 1000, 3)
    return out

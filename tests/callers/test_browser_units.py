"""The browser caller's pure parts, against ground truth built here (no browser needed).

Clock calibration must recover a known offset within its own error bound; clip
location must find a clip where it was put, through a real Opus encode/decode; the
page's binary batches must parse back to what was packed; playout anchors must land on
the right samples; discovery must refuse a bad explicit path instead of falling back.
"""

from __future__ import annotations

import dataclasses
import json
import random
import re
import struct
from pathlib import Path

import av
import numpy as np
import pytest

from harness.callers.browser import protocol
from harness.callers.browser.align import locate_clip
from harness.callers.browser.assembly import Clocks, heard_anchors, send_timing
from harness.callers.browser.caller import call_time_bound_s
from harness.callers.browser.clock_sync import (
    ClockMapping,
    PingSample,
    calibrate,
    fit_context_clock,
)
from harness.callers.browser.discovery import (
    CHROMIUM_ENV,
    NO_FALLBACK_ENV,
    ChromiumNotFound,
    find_chromium,
)
from harness.callers.browser.server import PAGE_DIR, PAGE_FILES
from harness.callers.browser.session import EncodedFrame, PageSession, parse_frames, parse_heard
from harness.callers.script import PlayerSettings, ResolvedStep
from harness.records import StepKind, StepOutcome
from harness.webrtc.audio import FRAME_SAMPLES, OPUS_DELAY_SAMPLES, SAMPLE_RATE
from harness.webrtc.received import ReceivedStream
from harness.webrtc.taps import ArrivedPacket

# ------------------------------------------------------------------ clock calibration


def test_calibration_recovers_offset_within_its_error_bound() -> None:
    rng = random.Random(3)
    true_offset = 987_654_321_000  # monotonic ns = page ms * 1e6 + offset
    pings = []
    t = 5_000_000_000
    for _ in range(12):
        out = rng.randint(50_000, 3_000_000)  # one-way delays, asymmetric
        back = rng.randint(50_000, 3_000_000)
        page_ns = t + out
        pings.append(PingSample(sent_ns=t, received_ns=page_ns + back, page_ms=(page_ns - true_offset) / 1e6))
        t += 20_000_000
    mapping = calibrate(pings)
    assert mapping.samples == 12
    assert mapping.error_ns == (min(p.rtt_ns for p in pings) + 1) // 2
    assert abs(mapping.offset_ns - true_offset) <= mapping.error_ns + 1  # the bound holds
    assert abs(mapping.to_monotonic(1234.5) - (1_234_500_000 + true_offset)) <= mapping.error_ns + 1


def test_calibration_refuses_no_pings() -> None:
    with pytest.raises(ValueError, match="at least one answered ping"):
        calibrate([])


def test_context_clock_fit_follows_drift_and_drops_late_readings() -> None:
    ctx = np.linspace(0.5, 30.0, 120)
    page = 1500.0 + ctx * 1000.0 * 1.0003  # device clock 300 ppm fast
    page[::17] += 8.0  # readings taken while the render thread was late
    fit = fit_context_clock(list(zip(ctx.tolist(), page.tolist(), strict=True)))
    assert fit.slope == pytest.approx(1.0003, abs=1e-6)
    assert fit.to_page_ms(10.0) == pytest.approx(1500.0 + 10_003.0, abs=0.05)
    assert fit.residual_ms < 0.05
    assert fit.samples == 120 - len(page[::17])


def test_context_clock_with_few_readings_assumes_rate_one() -> None:
    fit = fit_context_clock([(1.0, 2000.0), (1.02, 2020.5)])
    assert fit.slope == 1.0
    assert fit.to_page_ms(2.0) == pytest.approx(3000.25)


# ------------------------------------------------------------------ clip location


def _opus_round_trip(signal: np.ndarray) -> ReceivedStream:
    """Encode with libopus like a WebRTC sender (20 ms frames) and decode like a receiver."""
    enc = av.CodecContext.create("libopus", "w")
    enc.sample_rate = SAMPLE_RATE
    enc.layout = "mono"
    enc.format = "s16"
    enc.bit_rate = 32000
    stream = ReceivedStream(codec_delay_ns=0)
    pcm = np.clip(np.round(signal * 32767), -32768, 32767).astype(np.int16)
    seq = 0
    for k in range(0, pcm.size - FRAME_SAMPLES + 1, FRAME_SAMPLES):
        frame = av.AudioFrame.from_ndarray(pcm[None, k : k + FRAME_SAMPLES], format="s16", layout="mono")
        frame.sample_rate = SAMPLE_RATE
        frame.pts = k
        for packet in enc.encode(frame):
            stream.add(ArrivedPacket(seq=seq, timestamp=seq * FRAME_SAMPLES, payload=bytes(packet),
                                     arrival_ns=seq * 20_000_000))
            seq += 1
    return stream


def test_locate_clip_finds_a_clip_through_opus_to_the_sample() -> None:
    rng = np.random.default_rng(5)
    n = SAMPLE_RATE // 2
    t = np.arange(n) / SAMPLE_RATE
    # Voiced-speech-like: harmonics of a gliding pitch under a syllable-rate envelope
    # (Opus keeps the waveform of tonal sound; noise it only keeps in band energies).
    phase = 2 * np.pi * np.cumsum(140 + 30 * np.sin(2 * np.pi * 3 * t)) / SAMPLE_RATE
    voiced = sum(np.sin(h * phase) / h for h in range(1, 8))
    clip = (0.2 * voiced * (0.5 + 0.5 * np.sin(2 * np.pi * 4 * t)) ** 2).astype(np.float32)
    signal = np.zeros(SAMPLE_RATE * 2, dtype=np.float32)
    true_start = 37_123
    signal[true_start : true_start + n] = clip
    signal += (1e-4 * rng.standard_normal(signal.size)).astype(np.float32)
    decoded = _opus_round_trip(signal).samples()
    for guess in (true_start - 20_000, true_start + 9_000):  # the prediction may be far off
        found = locate_clip(decoded, clip, guess, window=24_000, codec_delay=OPUS_DELAY_SAMPLES)
        assert found is not None
        # Within 8 samples (0.17 ms): Opus's phase response moves a correlation peak by a
        # few samples; a wrong codec-delay convention would be off by 312.
        assert abs(found.position - true_start) <= 8, found
        assert found.quality > 0.8


def test_locate_clip_reports_silence_as_no_match() -> None:
    sent = np.zeros(48_000, dtype=np.float32)
    clip = np.ones(4800, dtype=np.float32) * 0.1
    found = locate_clip(sent, clip, 10_000, 2_000)
    assert found is not None and found.quality == 0.0
    assert locate_clip(sent, np.zeros(4800, dtype=np.float32), 10_000, 2_000) is None


# ------------------------------------------------------------------ page batches


def _pack(frames: list[EncodedFrame]) -> bytes:
    out = b""
    for f in frames:
        out += struct.pack("<dIHH", f.t_ms, f.rtp_ts, f.seq, len(f.payload)) + f.payload
    return out


def test_frame_batches_parse_back_and_a_torn_tail_is_dropped() -> None:
    frames = [EncodedFrame(t_ms=12.5 + i, rtp_ts=4_000_000_000 + 960 * i, seq=65530 + i & 0xFFFF,
                           payload=bytes([i]) * (3 + i)) for i in range(5)]
    data = _pack(frames)
    assert parse_frames(data) == frames
    assert parse_frames(data[:-2]) == frames[:4]


def test_heard_blocks_parse() -> None:
    samples = np.linspace(-1, 1, 480, dtype=np.float32)
    block = parse_heard(struct.pack("<d", 96000.0) + samples.tobytes())
    assert block is not None and block.start_frame == 96000
    np.testing.assert_array_equal(block.samples, samples)
    assert parse_heard(b"1234") is None


# ------------------------------------------------------------------ page protocol

PAGE_JS = Path(protocol.__file__).parent / "page" / "protocol.js"


def _js_object(name: str) -> dict[str, str]:
    """The string-valued entries of ``export const NAME = Object.freeze(... ({ ... }))``."""
    text = PAGE_JS.read_text()
    body = re.search(rf"export const {name} = Object\.freeze\(.*?\(\{{(.*?)\}}\)", text, re.S)
    assert body is not None, name
    return dict(re.findall(r"(\w+): '([^']*)'", body.group(1)))


def test_the_page_and_python_name_the_same_messages_and_fields() -> None:
    assert _js_object("MessageType") == {m.name: m.value for m in protocol.MessageType}
    text = PAGE_JS.read_text()
    fields = re.search(r"export const INBOUND_FIELDS = .*?\[(.*?)\]", text, re.S)
    assert fields is not None
    assert re.findall(r"'(\w+)'", fields.group(1)) == [
        f.name for f in dataclasses.fields(protocol.InboundAudioStats)]
    kinds = re.search(r"export const BinaryKind = .*?\(\{(.*?)\}\)", text, re.S)
    assert kinds is not None
    assert dict(re.findall(r"(\w+): (\d+)", kinds.group(1))) == {
        k.name: str(k.value) for k in protocol.BinaryKind}


def test_page_messages_parse_into_their_records() -> None:
    step = protocol.parse_message(
        '{"type": "step", "step": 2, "kind": "barge_in", "started": 1.5, "ended": 9, "outcome": "reply_ended"}')
    assert step == protocol.StepMessage(step=2, kind=StepKind.BARGE_IN, started=1.5, ended=9.0,
                                        outcome=StepOutcome.REPLY_ENDED)
    stats = protocol.parse_message(json.dumps({
        "type": "stats", "perf": 10.0, "ots_ctx": None, "ots_perf": None, "ctx_time": 0.5,
        "output_latency": 0.01, "base_latency": 0.005, "inbound": {"packetsReceived": 7, "jitter": 0.002},
        "remote_rtt": None, "pair_rtt": 0.0004, "packets_sent": 9}))
    assert isinstance(stats, protocol.StatsMessage) and stats.inbound is not None
    assert stats.inbound.packetsReceived == 7 and stats.inbound.jitterBufferDelay is None
    playout = protocol.parse_message('{"type": "playout", "rows": [[4000000000, 12.25], [4000000960, 32.5]]}')
    assert playout == protocol.PlayoutMessage(rows=((4_000_000_000, 12.25), (4_000_000_960, 32.5)))


@pytest.mark.parametrize(("text", "problem"), [
    ('{"type": "hello"}', r"does not match any of the expected tags"),
    ('{"perf": 1}', r"Unable to extract tag using discriminator 'type'"),
    ('{"type": "pong", "id": 3}', r"pong\.perf: Field required"),
    ('{"type": "pong", "id": 3, "perf": 1, "extra": true}', r"pong\.extra: Unexpected keyword argument"),
    ('{"type": "step", "step": 0, "kind": "say", "started": 0, "ended": 1, "outcome": "skipped"}',
     r"step\.outcome: Input should be"),
    ('{"type": "pong", "id": "3", "perf": 1}', r"pong\.id: Input should be a valid integer"),
    ('{"type": "dc", "perf": 1, "text": 5}', r"dc\.text: Input should be a valid string"),
    ("not json", r"Invalid JSON"),
    ("[1, 2]", r"Input should be"),
])
def test_a_message_that_is_not_in_the_protocol_is_refused_with_its_reason(text: str, problem: str) -> None:
    with pytest.raises(protocol.ProtocolError, match=r"^bad page message: .*" + problem):
        protocol.parse_message(text)


def test_the_session_counts_refused_frames_and_keeps_their_reasons() -> None:
    session = PageSession({})
    session._on_text('{"type": "hello"}', 0)
    session._on_binary(b"\x01")
    session._on_binary(bytes([9]) + bytes(7) + b"body")
    session._on_text('{"type": "warning", "where": "getStats", "message": "gone"}', 0)
    ev = session.evidence
    assert ev.malformed == 3
    assert "hello" in ev.problems[0] and "shorter than its header" in ev.problems[1]
    assert "unknown kind 9" in ev.problems[2]
    assert ev.warnings == [protocol.WarningMessage(where="getStats", message="gone")]
    assert session.control.empty()  # neither a refused frame nor a warning steers the call


def test_the_page_server_serves_every_page_file_and_nothing_else() -> None:
    assert {p.name for p in PAGE_DIR.iterdir() if p.is_file()} == PAGE_FILES


def test_commands_are_written_as_the_page_reads_them() -> None:
    assert json.loads(protocol.encode_command(protocol.PingMessage(id=4))) == {"type": "ping", "id": 4}
    assert json.loads(protocol.encode_command(protocol.StopMessage())) == {"type": "stop"}


# ------------------------------------------------------------------ assembly


def _clocks(offset_ns: int = 10_000_000_000) -> Clocks:
    return Clocks(page=ClockMapping(offset_ns=offset_ns, error_ns=0, rtt_ns=0, samples=1, spread_ns=0),
                  context=None)


def test_playout_anchors_land_on_their_packets_samples() -> None:
    clocks = _clocks()
    stream = ReceivedStream()
    ts0 = 4_294_960_000  # wraps during the stream
    payload = bytes([0xF8, 0xFF, 0xFE])  # Opus silence frame
    for k in range(6):
        stream.add(ArrivedPacket(seq=k, timestamp=(ts0 + 960 * k) & 0xFFFFFFFF, payload=payload,
                                 arrival_ns=clocks.page_ns(100.0 + 20 * k)))
    origin = clocks.page_ns(90.0)
    # Packet k played 45 ms after it arrived; packet 2's second report is later (ignored).
    playout = [[(ts0 + 960 * k) & 0xFFFFFFFF, 145.0 + 20 * k] for k in range(6)]
    playout.append([(ts0 + 960 * 2) & 0xFFFFFFFF, 195.0])
    anchors = heard_anchors(playout, stream, ts0, clocks, origin)
    first_index, first_arrival = stream.anchors[0]
    lead = round((first_arrival - origin) * SAMPLE_RATE / 1e9) - first_index
    assert anchors == tuple((960 * k + lead, 55_000_000 + 20_000_000 * k) for k in range(6))


def test_send_timing_measures_burstiness_against_a_drifting_grid() -> None:
    clocks = _clocks(0)
    rng = np.random.default_rng(1)
    late = np.where(rng.random(500) < 0.2, 7.0, 0.0)  # 20% of frames leave 7 ms late
    frames = [EncodedFrame(t_ms=k * 20.0 * 1.0005 + late[k], rtp_ts=960 * k, seq=k, payload=b"x")
              for k in range(500)]
    timing = send_timing(frames, clocks)
    assert timing is not None and timing.frames == 500
    assert timing.late_frames == int((late > 0).sum())
    assert timing.error_p50_ms < 1.5 and timing.error_max_ms == pytest.approx(7.0, abs=1.5)


def test_call_time_bound_covers_every_wait() -> None:
    audio = np.zeros(SAMPLE_RATE, dtype=np.float32)
    steps = [
        ResolvedStep(index=0, kind=StepKind.SAY, utterance=None, audio=audio, timeout_ms=5000, await_reply=True),
        ResolvedStep(index=1, kind=StepKind.SILENCE, utterance=None, audio=None, timeout_ms=5000,
                     await_reply=False, duration_ms=700),
        ResolvedStep(index=2, kind=StepKind.BACKCHANNEL, utterance=None, audio=audio, timeout_ms=3000,
                     await_reply=False),
    ]
    player = PlayerSettings(max_reply_s=30.0, post_roll_ms=800.0)
    assert call_time_bound_s(steps, player) == pytest.approx((1 + 5 + 30) + 0.7 + (3 + 1) + 0.8 + 10.0)


# ------------------------------------------------------------------ discovery


def _fake_browser(tmp_path: Path, name: str) -> Path:
    path = tmp_path / name
    path.write_text("#!/bin/sh\n")
    path.chmod(0o755)
    return path


def test_discovery_order_and_explicit_paths(tmp_path: Path) -> None:
    system = _fake_browser(tmp_path, "chromium")
    mine = _fake_browser(tmp_path, "my-chrome")
    env = {"PATH": str(tmp_path)}
    assert find_chromium(env=env).path == str(system)
    assert find_chromium(env=env).source == "system"
    assert find_chromium(env={**env, CHROMIUM_ENV: str(mine)}).source == "env"
    assert find_chromium(str(mine), env={**env, CHROMIUM_ENV: "/nonexistent"}).source == "settings"
    with pytest.raises(ChromiumNotFound, match=f"{CHROMIUM_ENV} is '/nonexistent'"):
        find_chromium(env={**env, CHROMIUM_ENV: "/nonexistent"})  # no silent fallback
    with pytest.raises(ChromiumNotFound, match=NO_FALLBACK_ENV):
        find_chromium(env={**env, NO_FALLBACK_ENV: "1"})


def test_discovery_falls_back_to_playwright_then_explains(tmp_path: Path) -> None:
    bundled = _fake_browser(tmp_path, "chrome")
    empty = {"PATH": str(tmp_path / "nothing-here")}
    found = find_chromium(env=empty, playwright_path=lambda: str(bundled))
    assert (found.path, found.source) == (str(bundled), "playwright")
    with pytest.raises(ChromiumNotFound, match="apt-get install chromium"):
        find_chromium(env=empty, playwright_path=lambda: None)
    bundled.chmod(0o644)  # not executable: not a browser
    with pytest.raises(ChromiumNotFound):
        find_chromium(env=empty, playwright_path=lambda: str(bundled))

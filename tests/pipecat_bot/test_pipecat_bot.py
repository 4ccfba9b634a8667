"""The harness against a real Pipecat bot (tests/pipecat_bot/bot.py) over the pipecat dialect.

The bot runs in its own process on 127.0.0.1 and logs, on the shared CLOCK_MONOTONIC,
when its Silero VAD declared the caller's turn over and when the first voiced sample of
its answer left its RTP sender. The harness must recover those from audio alone:

- turn latency within 30 ms of (bot's answer onset - caller's speech end);
- the bot's VAD stop comes ``stop_secs`` after the caller's speech end (+ <= 250 ms of
  Silero's 32 ms windows, its confidence decay and pipeline hops);
- a barge-in stops the bot (the bot logs its interruption; the harness measures the stop);
- pauses well above ``stop_secs`` are cutoffs, pauses well below are not.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from support import CODEC_TERM_MS, run_calls, say_scenario

from harness.callers.base import CallArtifacts
from harness.corpus.model import Corpus
from harness.records import (
    Dialect,
    EndpointSpec,
    EventKind,
    Scenario,
    Step,
    StepKind,
)
from harness.scoring import score_call

pytest.importorskip("pipecat")
pytestmark = [pytest.mark.network, pytest.mark.slow]

BOT = Path(__file__).with_name("bot.py")
READY_PREFIX = "pipecat test bot listening on "
STOP_SECS = 0.5
LATENCY_TOLERANCE_MS = 30.0
VAD_STOP_SLACK_MS = (0.0, 250.0)
CUTOFF_MARGIN_MS = 300.0
"""Pauses this far above stop_secs must be cutoffs; this far below must not."""
MATCH_WINDOW_NS = 300_000_000


class BotProcess:
    def __init__(self, log: Path, stop_secs: float) -> None:
        self.log = log
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(Path.cwd()), os.environ.get("PYTHONPATH")]))}
        self.proc = subprocess.Popen(
            [sys.executable, str(BOT), "--log", str(log), "--stop-secs", str(stop_secs)],
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env,
        )
        line: list[str] = []
        reader = threading.Thread(target=lambda: line.append(self.proc.stdout.readline()), daemon=True)  # type: ignore[union-attr]
        reader.start()
        reader.join(90)
        if not line or not line[0].startswith(READY_PREFIX):
            self.stop()
            raise RuntimeError(f"pipecat bot did not start: {line!r}")
        self.url = line[0][len(READY_PREFIX):].strip()

    def rows(self, pc_id: str) -> list[dict[str, Any]]:
        rows = [json.loads(x) for x in self.log.read_text().splitlines()]
        return [r for r in rows if r.get("pc_id") == pc_id]

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(5)


@pytest.fixture(scope="module")
def bot(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BotProcess]:
    process = BotProcess(tmp_path_factory.mktemp("pipecat") / "bot.jsonl", STOP_SECS)
    yield process
    process.stop()


def _call(corpus: Corpus, bot: BotProcess, scenario: Scenario) -> CallArtifacts:
    endpoint = EndpointSpec(name="pipecat-bot", dialect=Dialect.PIPECAT, url=bot.url)
    (art,) = run_calls(corpus, [(scenario, endpoint)])
    assert art.recording.failure is None, art.recording.failure
    return art


def _measured(art: CallArtifacts, scenario: Scenario, metric: str) -> dict[int | None, float | None]:
    result = score_call(art.recording, scenario, art.received_audio)
    return {m.turn: m.value for m in result.measurements if m.metric == metric}


def test_latency_matches_the_bots_own_log(corpus: Corpus, bot: BotProcess) -> None:
    scenario = say_scenario("pipecat_latency", ["q_time", "q_name", "cmd_play_music", "q_order_status"])
    art = _call(corpus, bot, scenario)
    rec = art.recording
    assert rec.origin_monotonic_ns is not None
    rows = bot.rows(str(rec.dialect_info["pc_id"]))
    onsets = {r["t_ns"]: r["reply"] for r in rows if r["kind"] == "reply_onset"}
    stuttered = {r["reply"] for r in rows if r["kind"] == "underrun"}
    vad_stops = [r["t_ns"] for r in rows if r["kind"] == "vad_stop"]
    measured = _measured(art, scenario, "turn_latency_ms")
    errors, vad_delays, skipped = [], [], []
    for sent in rec.sent:
        end_abs = rec.origin_monotonic_ns + sent.speech_end_ns
        stop = [t for t in vad_stops if 0 < t - end_abs < STOP_SECS * 1e9 + MATCH_WINDOW_NS]
        assert len(stop) == 1, (sent.step_index, stop)
        vad_delays.append((stop[0] - end_abs) / 1e6 - STOP_SECS * 1000)
        onset = min(t for t in onsets if t > stop[0])
        value = measured[sent.step_index]
        assert value is not None
        if onsets[onset] in stuttered:
            # The bot's own output ran dry inside its first 60 ms: onset of sustained
            # speech legitimately differs from the first voiced sample; not comparable.
            skipped.append(sent.step_index)
            continue
        # the bot logs its sample's wire time; the caller hears it decoded, 312 samples on
        errors.append(value - (onset - end_abs) / 1e6 - CODEC_TERM_MS)
    print("latency error vs bot log (ms):", [round(e, 1) for e in errors], "skipped (bot stutter):", skipped)
    assert len(errors) >= 2, skipped
    print("VAD stop after speech end minus stop_secs (ms):", [round(d, 1) for d in vad_delays])
    assert all(abs(e) <= LATENCY_TOLERANCE_MS for e in errors), errors
    assert all(VAD_STOP_SLACK_MS[0] <= d <= VAD_STOP_SLACK_MS[1] for d in vad_delays), vad_delays
    kinds = [e.kind for e in rec.events]
    assert kinds[0] == EventKind.SESSION_CREATED  # bot-ready, after our client-ready
    for kind in (EventKind.SPEECH_STARTED, EventKind.SPEECH_STOPPED, EventKind.AUDIO_STARTED):
        assert kinds.count(kind) >= len(scenario.steps), (kind, kinds)
    # bot-stopped-speaking follows 0.35 s of output silence; the last may miss the hang-up.
    assert kinds.count(EventKind.AUDIO_STOPPED) >= len(scenario.steps) - 1, kinds


def test_barge_in_stops_the_bot(corpus: Corpus, bot: BotProcess) -> None:
    # ans_sure has a 356 ms pause 315 ms after its onset; 700 ms lands the caller's
    # first voiced sample (150 ms into its clip) in the phrase's second run.
    scenario = Scenario(id="pipecat_barge_in", steps=(
        Step(index=0, kind=StepKind.SAY, utterance="q_weather", await_reply=False),
        Step(index=1, kind=StepKind.BARGE_IN, utterance="int_hold_on", after_onset_ms=700),
    ))
    art = _call(corpus, bot, scenario)
    rows = bot.rows(str(art.recording.dialect_info["pc_id"]))
    origin = art.recording.origin_monotonic_ns or 0
    print("caller voiced (ms):", [[(a // 1_000_000, b // 1_000_000) for a, b in s.voiced_ns] for s in art.recording.sent])
    print("bot log (ms):", [(r["kind"], (r["t_ns"] - origin) // 1_000_000) for r in rows if "t_ns" in r])
    assert any(r["kind"] == "interrupted" for r in rows), rows
    stop_ms = _measured(art, scenario, "barge_in_stop_ms")[1]
    handled = _measured(art, scenario, "barge_in_handled")[1]
    print("barge-in stop (ms):", stop_ms)
    # Silero needs start_secs (0.2 s) of speech before Pipecat interrupts.
    assert stop_ms is not None and 200.0 <= stop_ms <= 800.0, stop_ms
    assert handled == 1.0
    assert EventKind.AUDIO_CLEARED in {e.kind for e in art.recording.events}


def test_pauses_beyond_stop_secs_are_cutoffs(corpus: Corpus, bot: BotProcess) -> None:
    items = ["pause_300", "pause_1000", "pause_1500"]
    scenario = say_scenario("pipecat_cutoffs", items)
    art = _call(corpus, bot, scenario)
    cutoffs = _measured(art, scenario, "cutoff")
    print("cutoff per pause:", {items[k]: v for k, v in cutoffs.items() if k is not None})
    for index, item in enumerate(items):
        pause_ms = int(item.split("_")[1])
        if pause_ms >= STOP_SECS * 1000 + CUTOFF_MARGIN_MS:
            assert cutoffs[index] == 1.0, (item, cutoffs)
        elif pause_ms <= STOP_SECS * 1000 - CUTOFF_MARGIN_MS + 100:
            assert cutoffs[index] == 0.0, (item, cutoffs)

"""VAD false cutoffs against the reference agent's ground truth, at two endpointing settings.

The caller says one sentence with an internal pause of exactly 300 ... 1500 ms. With an
endpointing silence of 600 ms the agent must cut off the 1000 and 1500 ms pauses and
never the 300 and 500 ms ones; with 1200 ms the 1000 ms pause is safe too (the curve
moves with the setting). Each measured cutoff must match the agent's log turn by turn:
the log says the agent answered before the caller's last voiced sample.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from support import CODEC_TERM_MS, agent_call_id, local_endpoint, run_calls, say_scenario

from harness.agent.truth import truth_turns
from harness.corpus.model import Corpus
from harness.scoring import score_call

pytestmark = [pytest.mark.network, pytest.mark.slow]

PAUSES = (300, 500, 700, 1000, 1500)
NEVER = {600: (300, 500), 1200: (300, 500, 700, 1000)}
ALWAYS = {600: (1000, 1500), 1200: (1500,)}


def test_cutoff_curve_matches_agent_truth_and_moves_with_endpointing(corpus: Corpus, start_agent) -> None:  # type: ignore[no-untyped-def]
    agents = {ms: start_agent("--endpointing-ms", str(ms)) for ms in NEVER}
    # The echo of a paused sentence pauses too: wait out its pause before the next turn.
    scenario = say_scenario("pauses", [f"pause_{p}" for p in PAUSES], reply_quiet_ms=1800)
    artifacts = run_calls(corpus, [(scenario, local_endpoint(a.url, f"ep-{ms}")) for ms, a in agents.items()])
    for (endpointing, agent), art in zip(agents.items(), artifacts, strict=True):
        rec = art.recording
        assert rec.failure is None, rec.failure
        assert rec.origin_monotonic_ns is not None
        result = score_call(rec, scenario, art.received_audio)
        measured = {m.metric: m.value for m in result.measurements if m.metric.startswith("cutoff_pause_")}
        onsets = [t.onset_ns for t in truth_turns(Path(agent.truth_log), agent_call_id(art))]  # type: ignore[arg-type]
        curve = {}
        for sent in rec.sent:
            pause = int(sent.utterance_id.split("_")[1])
            lo = rec.origin_monotonic_ns + sent.speech_start_ns
            hi = rec.origin_monotonic_ns + sent.speech_end_ns
            heard = [o + round(CODEC_TERM_MS * 1e6) for o in onsets if o is not None]  # when the caller can hear it
            truth = any(lo < o < hi for o in heard)
            curve[pause] = measured[f"cutoff_pause_{pause}ms"]
            assert curve[pause] == float(truth), (endpointing, pause, curve[pause], truth)
        print(f"endpointing {endpointing} ms: cutoff by pause {curve}")
        assert all(curve[p] == 0.0 for p in NEVER[endpointing]), curve
        assert all(curve[p] == 1.0 for p in ALWAYS[endpointing]), curve

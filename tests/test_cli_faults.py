"""Faults are results, not crashes: one run against broken endpoints and bad files.

A refused offer, an endpoint that never answers, a call dropped mid-turn, an unknown
corpus item and a malformed scenario file each become a recorded failure with a
reason; the good calls of the same run still finish and are saved; the exit code
says the run had failures.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from harness.cli import app
from harness.store.run_folder import iter_call_dirs, read_results

pytestmark = [pytest.mark.network, pytest.mark.slow, pytest.mark.driver]

GOOD = """\
id: good_three_turns
steps:
  - say: q_time
  - say: q_name
  - say: cmd_play_music
"""
MISSING_ITEM = """\
id: uses_missing_item
steps:
  - say: q_time
  - say: no_such_item_xyz
"""
MALFORMED = """\
id: malformed
steps:
  - say: q_time
  - say: {utterance: q_name, timeout_ms: soon}
"""


def test_broken_endpoints_and_files_are_recorded_failures(tmp_path: Path, start_agent, corpus) -> None:  # type: ignore[no-untyped-def]
    suite = tmp_path / "suite"
    suite.mkdir()
    (suite / "good.yaml").write_text(GOOD)
    (suite / "missing.yaml").write_text(MISSING_ITEM)
    (suite / "malformed.yaml").write_text(MALFORMED)
    good = start_agent("--delay", "100")
    refusing = start_agent("--refuse-offer")
    silent = start_agent("--never-answer")
    dropping = start_agent("--drop-after-s", "3")
    out = tmp_path / "runs"
    args = ["run", str(suite), "--out", str(out), "--concurrency", "4", "--signalling-timeout", "3"]
    for agent in (good, refusing, silent, dropping):
        args += ["-e", f"openai-realtime+{agent.url}"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 1, result.output

    (run_dir,) = out.iterdir()
    results = read_results(run_dir)
    failures = {
        (m.endpoint, m.scenario): m.reason or "" for m in results if m.metric == "call_failed" and m.value == 1
    }
    host = {a: "openai-realtime " + a.url.split("//", 1)[1] for a in (good, refusing, silent, dropping)}

    assert (host[good], "good_three_turns") not in failures
    turns = [m for m in results if m.endpoint == host[good] and m.metric == "turn_latency_ms"]
    assert [m.turn for m in turns] == [0, 1, 2] and all(m.value is not None for m in turns)

    assert failures[(host[refusing], "good_three_turns")].startswith("offer_refused: ")
    assert "503" in failures[(host[refusing], "good_three_turns")]
    assert failures[(host[silent], "good_three_turns")].startswith("endpoint_hung: ")
    assert failures[(host[dropping], "good_three_turns")].startswith("dropped: ")

    missing = failures[("-", "missing")]
    assert missing.startswith("missing_corpus_item: ") and "no_such_item_xyz" in missing
    malformed = failures[("-", "malformed")]
    assert malformed.startswith("bad_scenario: ")
    assert "malformed.yaml" in malformed and "step 1 (say)" in malformed and "timeout_ms" in malformed

    # Every call that happened is on disk, the dropped one with the turn it finished.
    saved = {d.name for d in iter_call_dirs(run_dir)}
    assert len(saved) == 4
    dropped = [m for m in results if m.endpoint == host[dropping] and m.metric == "turn_latency_ms"]
    assert len(dropped) >= 1
    run_json = json.loads((run_dir / "run.json").read_text())
    assert run_json["counts"]["calls_failed"] == 3 + 2
    assert run_json["finished_at"] is not None

"""Helpers for tests that make real calls (import as ``from support import ...``)."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import subprocess
import sys
from collections.abc import Iterator, Sequence

from harness.callers.aiortc_caller import AiortcCaller
from harness.callers.base import CallArtifacts, CallerSettings
from harness.corpus.model import Corpus
from harness.priority import restore_priority, save_priority, thaw_heap
from harness.records import CallerKind, CallSpec, Dialect, EndpointSpec, Scenario, Step, StepKind
from harness.webrtc.audio import OPUS_DELAY_NS

CODEC_TERM_MS = OPUS_DELAY_NS / 1e6
"""What a WebRTC caller's turn latency reads above the reference agent's truth on a
clean loopback (6.5 ms): the agent logs its answer's onset at the wire time of the
answer's first *input* sample, and the caller hears it once the carrying packet has
arrived and the decoded sound exists, libopus's 312 samples later (docs/timing.md). The
same term delays the moment a caller hears an agent's audio stop. WebSocket dialects
carry PCM: no term."""


def local_endpoint(url: str, name: str = "local-agent") -> EndpointSpec:
    return EndpointSpec(name=name, dialect=Dialect.OPENAI_REALTIME, url=url)


def say_scenario(scenario_id: str, utterances: Sequence[str], **step_fields: object) -> Scenario:
    steps = tuple(
        Step(index=i, kind=StepKind.SAY, utterance=u, **step_fields)  # type: ignore[arg-type]
        for i, u in enumerate(utterances)
    )
    return Scenario(id=scenario_id, steps=steps)


def run_calls(
    corpus: Corpus,
    calls: Sequence[tuple[Scenario, EndpointSpec]],
    settings: CallerSettings | None = None,
) -> list[CallArtifacts]:
    """Run the calls concurrently in one event loop, as the runner does."""

    async def main() -> list[CallArtifacts]:
        caller = AiortcCaller(corpus, settings)
        specs = [
            CallSpec(
                call_id=f"{scenario.id}-{i}",
                scenario=scenario,
                endpoint=endpoint,
                caller=CallerKind.AIORTC,
            )
            for i, (scenario, endpoint) in enumerate(calls)
        ]
        return list(await asyncio.gather(*(caller.run(s) for s in specs)))

    return asyncio.run(main())


def agent_call_id(artifacts: CallArtifacts) -> str:
    """The reference agent's id of the call (from the Location it answered with)."""
    return str(artifacts.recording.dialect_info["location"]).rsplit("/", 1)[-1]


def scenario_of(scenario_id: str, *steps: Step) -> Scenario:
    return Scenario(id=scenario_id, steps=tuple(steps))


def realtime_permitted() -> bool:
    """Whether this machine lets a process take SCHED_RR (root, CAP_SYS_NICE or RLIMIT_RTPRIO)."""
    probe = "import os; os.sched_setscheduler(0, os.SCHED_RR, os.sched_param(1))"
    return subprocess.run([sys.executable, "-c", probe], capture_output=True, check=False).returncode == 0


@contextlib.contextmanager
def calls_in_this_thread() -> Iterator[None]:
    """Lend the calling thread to calls for the block: whatever it raises inside (real-time
    scheduling, the switch interval, a frozen heap, the collector's thresholds) is undone
    after, so the test process goes back to being a normal driver."""
    saved, interval, thresholds = save_priority(), sys.getswitchinterval(), gc.get_threshold()
    try:
        yield
    finally:
        thaw_heap(thresholds)
        restore_priority(saved, interval)

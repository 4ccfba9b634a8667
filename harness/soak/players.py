"""Where a soak's calls are played and scored: one call at a time, as the load model asks.

A soak cannot hand its executor a plan up front: calls start as slots free up (closed
model) or as arrivals come (open model). ``CallPlayer`` is what ``SoakRun`` needs:
play *this* call and return it when it has ended.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Protocol

from harness.corpus.model import Corpus
from harness.executors.base import FinishedCall
from harness.executors.worker import CallWorker, WorkerConfig
from harness.records import CallRecording, CallResult, CallSpec
from harness.scoring import score_call

__all__ = ["CallPlayer", "InLoopPlayer", "ThreadScorer", "corpus_texts"]


class CallPlayer(Protocol):
    async def start(self) -> None: ...

    async def play(self, spec: CallSpec) -> FinishedCall:
        """Play one call to its end; never raises for the call's own failure."""
        ...

    async def aclose(self) -> None: ...


class InLoopPlayer:
    """Plays calls in this process's event loop (a ``CallWorker``)."""

    def __init__(self, config: WorkerConfig) -> None:
        self.worker = CallWorker(config)

    async def start(self) -> None:
        await self.worker.start()

    async def play(self, spec: CallSpec) -> FinishedCall:
        return await self.worker.run_call(spec)

    async def aclose(self) -> None:
        await self.worker.aclose()


def corpus_texts(corpus: Corpus | None, recording: CallRecording) -> dict[str, str]:
    """Corpus text per utterance the caller said (the reference of input transcripts)."""
    if corpus is None:
        return {}
    return {u.utterance_id: corpus.get(u.utterance_id).text for u in recording.sent
            if u.utterance_id in corpus}


class ThreadScorer:
    """Scores in a thread of this process."""

    async def score(self, finished: FinishedCall, spec: CallSpec, texts: Mapping[str, str]) -> CallResult:
        def work() -> CallResult:
            a = finished.artifacts()
            return score_call(a.recording, spec.scenario, a.received_audio,
                              caller_audio=a.caller_audio, texts=dict(texts))

        return await asyncio.to_thread(work)

    async def aclose(self) -> None:
        return None

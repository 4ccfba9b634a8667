"""``RayExecutor``: the same caller workers as Ray actors across a cluster's nodes.

Imported only for ``--ray ADDRESS``: a local run never imports Ray (an optional extra,
``pip install 'voice-harness[ray]'``). See ``docs/ray.md``.

- **Placement.** Every live node that offers CPUs gets caller actors pinned to it
  (``NodeAffinitySchedulingStrategy``, hard), one per CPU by default; each actor is an
  async actor running one ``CallWorker`` and several calls at once
  (``max_concurrency``). Each call records the node id and its region label.
- **Dispatch.** The driver hands a call to an actor only when one of that actor's
  slots is free, so calls not yet started stay in the driver's queue, and each
  ``FinishedCall`` (recording + FLAC audio) comes back through the object store the
  moment its call ends; the driver scores and writes.
- **Lost workers.** A node or actor that dies turns the calls it was running into
  recorded failures (``worker_lost``, with Ray's reason). They are not re-run: the
  endpoint may have heard half of the call, and a silent second try would hide that.
  The dead actor takes no more calls; queued calls run on the survivors. A call that
  returns nothing within its deadline is a failure too and its actor is retired.
- **Corpus.** The driver's built corpus is shipped once through the object store and
  unpacked on each node (``corpus_bundle``), so every node plays the same checked audio.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import itertools
import logging
import os
import socket
import time
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import ray
from ray.exceptions import GetTimeoutError, RayActorError, RayError, RayTaskError
from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

from harness.callers.base import failed_artifacts
from harness.corpus.defaults import default_corpus
from harness.executors.base import FinishedCall, OnFinished, OnStarted
from harness.executors.corpus_bundle import CorpusBundle, pack_corpus, unpack_corpus
from harness.executors.ray_nodes import CallerNode, caller_nodes
from harness.executors.worker import CallWorker, WorkerConfig, start_paced_worker
from harness.records import CallSpec, Failure, FailureKind, WorkerInfo

__all__ = [
    "DEFAULT_CALLS_PER_WORKER",
    "CallActor",
    "InFlightCall",
    "RayExecutor",
    "RayExecutorError",
    "call_deadline_s",
]

log = logging.getLogger(__name__)

DEFAULT_CALLS_PER_WORKER = 3
"""Calls one actor plays at once: what one caller process keeps on time (README figures)."""
CONNECT_CHECK_TIMEOUT_S = 5.0
STOP_TIMEOUT_S = 10.0
NAMESPACE = "voice-harness"
NORMAL_PRIORITY = {"env_vars": {"RAY_worker_niceness": "0"}}
"""Ray starts its worker processes at niceness 15, so that they yield to Ray's own;
a caller that must send a frame every 20 ms would then lose the CPU to anything else
on the node (measured here: send p99 of seconds next to a busy process). Caller
actors run at normal priority instead (no privilege needed: Ray only raises it)."""


class RayExecutorError(RuntimeError):
    """The cluster cannot be used at all (unreachable, no worker could start): nothing ran."""


class CallActor:
    """Lives in a Ray worker process on one node: one ``CallWorker``, several calls at once.

    An async actor, so its calls share one event loop that does nothing but media,
    exactly like a local worker process.
    """

    def __init__(self, config: WorkerConfig) -> None:
        self._config = config
        self._worker: CallWorker | None = None

    async def start(self, corpus: CorpusBundle) -> WorkerInfo:
        corpus_dir = await asyncio.to_thread(unpack_corpus, corpus)
        # The actor's loop thread paces audio, as a worker process's does.
        worker = await start_paced_worker(dataclasses.replace(self._config, corpus_dir=corpus_dir))
        self._worker = worker
        return worker.info

    async def run_call(self, spec: CallSpec) -> FinishedCall:
        if self._worker is None:
            raise RuntimeError("CallActor.run_call before start")
        return await self._worker.run_call(spec)

    async def aclose(self) -> None:
        if self._worker is not None:
            await self._worker.aclose()


def call_deadline_s(spec: CallSpec, config: WorkerConfig) -> float:
    """How long the driver waits for a call's result before calling its worker lost.

    A last resort against a wedged worker (the caller enforces its own timeouts):
    signalling + connect + every step's own timeout and duration, plus 30 s a step for
    the speech itself and 60 s of slack.
    """
    settings = config.caller_settings
    steps_ms = sum((s.timeout_ms or 0) + (s.duration_ms or 0) + (s.after_onset_ms or 0)
                   for s in spec.scenario.steps)
    return (settings.signalling_timeout_s + settings.connect_timeout_s + steps_ms / 1000
            + 30.0 * len(spec.scenario.steps) + 60.0)


@dataclass(frozen=True, slots=True, kw_only=True)
class InFlightCall:
    """A call handed to a worker and not back yet: what is running where."""

    call_id: str
    worker: WorkerInfo
    since_ns: int
    """``time.monotonic_ns()`` in the driver when the call was handed to the worker."""


@dataclass(slots=True, kw_only=True)
class _Actor:
    handle: Any
    node: CallerNode
    info: WorkerInfo
    lost: str = ""
    """Why it takes no more calls (empty while it is usable)."""


def _short(exc: BaseException) -> str:
    """Ray's error text in one line, without the actor's repr noise."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    useful = [line for line in lines if not line.startswith(("class_name:", "actor_id:", "pid:",
                                                             "namespace:", "ip:"))]
    return " ".join(useful)[:400] or type(exc).__name__


def _interleaved(actors: Sequence[_Actor]) -> list[_Actor]:
    """Actors ordered node by node in turn (a1@n1, a1@n2, a2@n1, ...): calls dealt in this
    order spread over the nodes first, whatever the concurrency cap."""
    by_node: dict[str, list[_Actor]] = {}
    for actor in actors:
        by_node.setdefault(actor.node.node_id, []).append(actor)
    rounds = itertools.zip_longest(*by_node.values())
    return [actor for round_ in rounds for actor in round_ if actor is not None]


def _check_reachable(address: str) -> None:
    """Fail fast on an address nothing listens at (``ray.init`` retries for minutes)."""
    if address in ("auto", "local") or "://" in address:
        return
    host, sep, port = address.rpartition(":")
    if not sep or not port.isdigit():
        raise RayExecutorError(f"--ray {address!r}: expected auto, local or HOST:PORT of the head node")
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=CONNECT_CHECK_TIMEOUT_S).close()
    except OSError as exc:
        raise RayExecutorError(f"no Ray head node at {address}: {exc.strerror or exc}") from None


class RayExecutor:
    """Runs planned calls on caller actors across a Ray cluster (see the module doc).

    ``workers``: actors per node (default: one per CPU the node offers to Ray);
    ``calls_per_worker``: calls each actor plays at once; ``concurrency``: a cap on the
    calls in flight across the cluster (default: every slot).
    """

    def __init__(self, address: str, config: WorkerConfig, *, workers: int | None = None,
                 calls_per_worker: int = DEFAULT_CALLS_PER_WORKER, concurrency: int | None = None,
                 start_timeout_s: float = 180.0, call_timeout_s: float | None = None) -> None:
        if calls_per_worker < 1:
            raise ValueError(f"calls per worker must be >= 1, got {calls_per_worker}")
        if concurrency is not None and concurrency < 1:
            raise ValueError(f"concurrency must be >= 1, got {concurrency}")
        self.address = address
        self.config = config
        self.workers = workers
        self.calls_per_worker = calls_per_worker
        self.concurrency = concurrency
        self.start_timeout_s = start_timeout_s
        self.call_timeout_s = call_timeout_s
        self._actors: list[_Actor] = []
        self._in_flight: dict[str, InFlightCall] = {}
        self._started_ray = False

    @property
    def actors(self) -> tuple[WorkerInfo, ...]:
        """Where the caller actors run (after the first ``run``)."""
        return tuple(a.info for a in self._actors)

    @property
    def in_flight(self) -> tuple[InFlightCall, ...]:
        """The calls being played right now, and where (for progress and for tests)."""
        return tuple(self._in_flight.values())

    # ------------------------------------------------------------------ start

    def _connect(self) -> None:
        if ray.is_initialized():
            return
        _check_reachable(self.address)
        os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")  # never report usage (no internet)
        kwargs: dict[str, Any] = {"include_dashboard": False} if self.address == "local" else {}
        try:
            ray.init(address=None if self.address == "local" else self.address, namespace=NAMESPACE,
                     log_to_driver=False, configure_logging=False, **kwargs)
        except (ConnectionError, RayError, ValueError, RuntimeError) as exc:
            raise RayExecutorError(f"cannot connect to the Ray cluster at {self.address}: {exc}") from None
        self._started_ray = True

    def _corpus_bundle(self) -> CorpusBundle:
        root = self.config.corpus_dir or default_corpus(build=True).root
        return pack_corpus(root)

    async def start(self) -> tuple[WorkerInfo, ...]:
        """Join the cluster and start the caller actors now (``run`` does it on first use).

        Raises ``RayExecutorError`` when the cluster cannot be reached or no actor starts.
        """
        await self._live_actors()
        return self.actors

    async def _live_actors(self) -> list[_Actor]:
        if self._actors:
            return [a for a in self._actors if not a.lost]
        self._connect()
        nodes = caller_nodes(ray.nodes(), self.workers)  # type: ignore[no-untyped-call]
        if not nodes:
            raise RayExecutorError(f"the Ray cluster at {self.address} has no live node with CPUs for callers")
        bundle = await asyncio.to_thread(self._corpus_bundle)
        bundle_ref = ray.put(bundle)
        actor_class = ray.remote(CallActor)
        pending: list[tuple[Any, CallerNode]] = []
        for node in nodes:
            config = dataclasses.replace(self.config, node=node.node_id, region=node.region)
            for _ in range(node.actors):
                handle = actor_class.options(
                    num_cpus=node.cpus_per_actor, max_concurrency=self.calls_per_worker + 2,
                    max_restarts=0, max_task_retries=0, runtime_env=NORMAL_PRIORITY,
                    scheduling_strategy=NodeAffinitySchedulingStrategy(node.node_id, soft=False),
                ).remote(config)
                pending.append((handle, node))
        results = await asyncio.gather(
            *(asyncio.wait_for(handle.start.remote(bundle_ref), self.start_timeout_s) for handle, _ in pending),
            return_exceptions=True)
        problems = []
        for (handle, node), result in zip(pending, results, strict=True):
            if isinstance(result, WorkerInfo):
                self._actors.append(_Actor(handle=handle, node=node, info=result))
                continue
            why = "no answer in time" if isinstance(result, TimeoutError) else _short(result)
            problems.append(f"node {node.node_id[:12]} ({node.region or 'unlabelled'}): {why}")
            with contextlib.suppress(RayError):
                ray.kill(handle)
        for problem in problems:
            log.warning("a Ray caller worker did not start: %s", problem)
        if not self._actors:
            raise RayExecutorError("no Ray caller worker started: " + "; ".join(problems[:5]))
        return list(self._actors)

    # -------------------------------------------------------------------- run

    async def run(self, specs: Sequence[CallSpec], on_finished: OnFinished,
                  on_started: OnStarted | None = None) -> None:
        """``on_started`` is called as each call is handed to a worker (with where)."""
        actors = await self._live_actors()
        queue = deque(specs)
        slots = _interleaved(actors) * self.calls_per_worker
        if self.concurrency is not None:
            slots = slots[: self.concurrency]

        async def serve(actor: _Actor) -> None:
            while queue and not actor.lost:
                spec = queue.popleft()
                if on_started is not None:
                    await on_started(spec, actor.info)
                await on_finished(await self._play(actor, spec))

        # A TaskGroup: if the driver's own on_finished fails, no slot goes on dispatching.
        try:
            async with asyncio.TaskGroup() as group:
                for actor in slots:
                    group.create_task(serve(actor))
        except BaseExceptionGroup as failed:
            raise failed.exceptions[0] from None  # the driver's error, as the caller knows it
        reasons = "; ".join(sorted({a.lost for a in self._actors if a.lost})) or "none started"
        while queue:  # every worker was lost: the rest are failures, never dropped
            spec = queue.popleft()
            await on_finished(self._failed(spec, None, f"no Ray caller worker left ({reasons})"))

    async def _play(self, actor: _Actor, spec: CallSpec) -> FinishedCall:
        self._in_flight[spec.call_id] = InFlightCall(call_id=spec.call_id, worker=actor.info,
                                                      since_ns=time.monotonic_ns())
        try:
            return await self._result(actor, spec)
        finally:
            self._in_flight.pop(spec.call_id, None)

    async def _result(self, actor: _Actor, spec: CallSpec) -> FinishedCall:
        ref = actor.handle.run_call.remote(spec)
        deadline = self.call_timeout_s or call_deadline_s(spec, self.config)
        where = f"node {actor.node.node_id[:12]} ({actor.node.region or 'unlabelled'})"
        try:
            finished: FinishedCall = await asyncio.wait_for(ref, deadline)
            return finished
        except RayActorError as exc:
            actor.lost = f"Ray worker on {where} lost: {_short(exc)}"
            log.warning("%s; call %s is a failure, the rest go to other workers", actor.lost, spec.call_id)
            return self._failed(spec, actor.info, f"{actor.lost} (the call may have reached the "
                                                  "endpoint, so it is not re-run)")
        except (TimeoutError, GetTimeoutError):
            actor.lost = f"Ray worker on {where} gave no result within {deadline:.0f} s"
            with contextlib.suppress(RayError):
                ray.cancel(ref)
            return self._failed(spec, actor.info, actor.lost)
        except RayTaskError as exc:  # the worker raised: a bug, not a lost node
            return self._failed(spec, actor.info, f"Ray worker on {where} raised: {_short(exc)}",
                                kind=FailureKind.CALLER_ERROR)
        except RayError as exc:  # e.g. the result was lost with its node before it was fetched
            return self._failed(spec, actor.info, f"result of the call on {where} lost: {_short(exc)}")

    @staticmethod
    def _failed(spec: CallSpec, worker: WorkerInfo | None, reason: str,
                kind: FailureKind = FailureKind.WORKER_LOST) -> FinishedCall:
        artifacts = failed_artifacts(spec, spec.caller, "", Failure(kind=kind, reason=reason))
        recording = dataclasses.replace(artifacts.recording, worker=worker)
        return FinishedCall.from_artifacts(dataclasses.replace(artifacts, recording=recording))

    # ------------------------------------------------------------------ close

    async def aclose(self) -> None:
        """Close the callers (browser pools), end the actors, leave Ray if we joined it."""
        actors, self._actors = self._actors, []
        live = [a for a in actors if not a.lost]
        if live:
            await asyncio.gather(*(asyncio.wait_for(a.handle.aclose.remote(), STOP_TIMEOUT_S) for a in live),
                                 return_exceptions=True)
        for actor in actors:
            with contextlib.suppress(RayError, ValueError):
                ray.kill(actor.handle)
        if self._started_ray and ray.is_initialized():
            ray.shutdown()
        self._started_ray = False

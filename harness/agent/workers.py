"""``agent serve --workers N``: N reference-agent processes behind one port.

One agent process runs every call's VAD, Opus and pacing in one event loop; past a
few concurrent calls it falls behind, and a benchmark of the caller would measure
the agent instead. Several processes share the work the way pre-forking servers do:
the parent binds the listening socket and forks the workers, which all accept on it
(the kernel hands each new connection to one of them). A call belongs to the worker
that answered its offer: its peer connection, UDP socket and timers live there, and
requests about it that reach another worker are redirected to the owner's own port
(``WorkerSlot``). Every worker appends to the same ground-truth log (one line per
write, ``O_APPEND``), on the shared CLOCK_MONOTONIC.

The parent forks before it has any thread (nothing else runs yet), prints the one
ready line once every worker is serving, and stops them on SIGINT/SIGTERM.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import ctypes.util
import logging
import multiprocessing
import os
import signal
import socket
import sys
from multiprocessing.connection import Connection
from pathlib import Path

from harness.agent.knobs import AgentKnobs
from harness.agent.server import READY_PREFIX, WorkerSlot, serve

log = logging.getLogger(__name__)

_PR_SET_PDEATHSIG = 1

READY_TIMEOUT_S = 120.0
"""tts mode loads Whisper and Piper in every worker before it is ready."""


def _listen(host: str, port: int) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(1024)
    sock.setblocking(False)
    return sock


def _die_with_parent() -> None:
    """SIGTERM this process when the parent dies (Linux ``PR_SET_PDEATHSIG``), so a
    killed ``agent serve`` leaves no worker holding its port."""
    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


def _worker(shared: socket.socket, private: socket.socket, slot: WorkerSlot, knobs: AgentKnobs,
            truth_path: Path | None, ready: Connection, parent: int) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent stops us with SIGTERM
    _die_with_parent()
    if os.getppid() != parent:  # it died before the request above took effect
        return

    def on_ready(url: str) -> None:
        ready.send(url)
        ready.close()

    asyncio.run(serve(slot.host, 0, knobs, truth_path, shared=shared, private=private, slot=slot,
                      on_ready=on_ready))


def serve_workers(host: str, port: int, knobs: AgentKnobs, truth_path: Path | None, workers: int) -> int:
    """Run ``workers`` agent processes on ``host:port`` until SIGINT/SIGTERM; the exit code."""
    shared = _listen(host, port)
    privates = [_listen(host, 0) for _ in range(workers)]
    ports = tuple(s.getsockname()[1] for s in privates)
    ctx = multiprocessing.get_context("fork")  # no thread exists yet in this process
    procs = []
    readers = []
    for i in range(workers):
        reader, writer = ctx.Pipe(duplex=False)
        proc = ctx.Process(target=_worker, name=f"vh-agent-{i}", daemon=True,
                           args=(shared, privates[i], WorkerSlot(index=i, ports=ports, host=host), knobs,
                                 truth_path, writer, os.getpid()))
        proc.start()
        writer.close()
        procs.append(proc)
        readers.append(reader)
    stop = False

    def on_signal(signum: int, frame: object) -> None:
        nonlocal stop
        stop = True

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    try:
        for i, reader in enumerate(readers):
            if not reader.poll(READY_TIMEOUT_S):
                print(f"agent worker {i} did not start within {READY_TIMEOUT_S:g} s", file=sys.stderr)
                return 1
            with contextlib.suppress(EOFError):
                reader.recv()
        url = f"http://{host}:{shared.getsockname()[1]}"
        print(f"{READY_PREFIX}{url}", flush=True)
        print(f"voice-harness agent: {workers} worker processes (pids "
              f"{', '.join(str(p.pid) for p in procs)})", file=sys.stderr, flush=True)
        while not stop:
            alive = [p for p in procs if p.is_alive()]
            if len(alive) < len(procs):
                dead = [f"{p.name} (exit {p.exitcode})" for p in procs if not p.is_alive()]
                print(f"agent worker(s) ended: {', '.join(dead)}; stopping", file=sys.stderr, flush=True)
                return 1
            multiprocessing.connection.wait([p.sentinel for p in procs], timeout=0.5)
        return 0
    finally:
        for p in procs:
            if p.is_alive():
                p.terminate()
        for p in procs:
            p.join(10.0)
            if p.is_alive():
                p.kill()
        print("voice-harness agent stopped", file=sys.stderr, flush=True)


__all__ = ["serve_workers"]

"""The relays of a caller process run in a process of their own; this is both ends of it.

A relay releases each packet on a timer, and a timer is only as punctual as the loop
that runs it. In the caller's event loop the releases waited behind everything else it
does (measured 3-4 ms late at the median, 20-30 ms at p99 on a loaded 2-core machine);
in a thread of the caller's process they still waited for the GIL whenever the caller's
thread was preempted holding it. In a process of their own they wait only for a CPU,
like the reference agent, which runs in its own process for the same reason.

``RelayProcess`` starts ``python -m harness.network.relay_process`` on first use (one
per caller process, shared by its calls) and speaks newline-delimited JSON to it over
its stdin/stdout. The child exits when its stdin closes, so it never outlives the
caller. If it dies, pending and later requests fail with ``RelayError`` (the call is a
recorded failure) and the next call starts a new one.
"""

from __future__ import annotations

import asyncio
import atexit
import concurrent.futures
import contextlib
import itertools
import json
import os
import subprocess
import sys
import threading
from collections.abc import Mapping
from typing import Any

from harness.network.relay import Relay, RelayError
from harness.priority import children_at_normal_priority
from harness.records import NetworkApplied, NetworkProfile
from harness.store.serialize import from_json_obj, to_json_obj

READY = "voice-harness relay process ready"
REQUEST_TIMEOUT_S = 15.0
START_TIMEOUT_S = 30.0


# ------------------------------------------------------------------------ the child


class _Server:
    def __init__(self) -> None:
        self.relays: dict[int, Relay] = {}
        self.ids = itertools.count(1)
        self.out_lock = asyncio.Lock()

    async def reply(self, request_id: object, **fields: Any) -> None:
        async with self.out_lock:
            sys.stdout.write(json.dumps({"id": request_id, **fields}) + "\n")
            sys.stdout.flush()

    async def handle(self, request: Mapping[str, Any]) -> None:
        request_id = request.get("id")
        try:
            result = await self.run(request)
        except Exception as exc:  # every failure goes back to the caller as a message
            await self.reply(request_id, error=f"{type(exc).__name__}: {exc}")
        else:
            await self.reply(request_id, **result)

    async def run(self, request: Mapping[str, Any]) -> dict[str, Any]:
        op = request["op"]
        if op == "open":
            relay_id = next(self.ids)
            profile = from_json_obj(NetworkProfile, request["profile"])
            self.relays[relay_id] = Relay(profile, str(request["seed_key"]), local_endpoint=bool(request["local"]))
            return {"relay": relay_id}
        relay = self.relays[int(request["relay"])]
        if op == "callers":
            return {"addresses": [relay.stand_in_for_caller((a, p)) for a, p in request["addresses"]]}
        if op == "endpoints":
            return {"addresses": [relay.stand_in_for_endpoint((a, p)) for a, p in request["addresses"]]}
        if op == "rates":
            relay.set_clock_rates({int(k): int(v) for k, v in request["rates"].items()})
            return {}
        if op == "hang_up":
            await relay.hang_up()
            return {}
        if op == "applied":
            return {"applied": to_json_obj(relay.applied(int(request["origin"]))),
                    "kernel_stamps": relay.kernel_stamps}
        if op == "close_later":
            relay.close_later()
            del self.relays[int(request["relay"])]
            return {}
        raise ValueError(f"unknown op {op!r}")


async def _serve() -> None:
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    server = _Server()
    tasks: set[asyncio.Task[None]] = set()
    sys.stdout.write(READY + "\n")
    sys.stdout.flush()
    while line := await reader.readline():
        task = loop.create_task(server.handle(json.loads(line)))
        tasks.add(task)
        task.add_done_callback(tasks.discard)
    for relay in server.relays.values():
        relay.close()


# ----------------------------------------------------------------------- the parent


class RelayProcess:
    """The parent's handle on its relay process (thread-safe; any event loop may use it)."""

    def __init__(self) -> None:
        self.owner_pid = os.getpid()
        with children_at_normal_priority():  # started from a caller worker's real-time loop
            self._proc = subprocess.Popen(
                [sys.executable, "-m", "harness.network.relay_process"],
                stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            )
        self._lock = threading.Lock()
        self._pending: dict[int, concurrent.futures.Future[dict[str, Any]]] = {}
        self._ids = itertools.count(1)
        self._stderr: list[str] = []
        self.dead = False
        ready: concurrent.futures.Future[dict[str, Any]] = concurrent.futures.Future()
        self._pending[0] = ready
        threading.Thread(target=self._read, name="relay-process-reader", daemon=True).start()
        threading.Thread(target=self._drain_stderr, daemon=True).start()
        try:
            ready.result(START_TIMEOUT_S)
        except Exception as exc:
            self.close()
            raise RelayError(f"the network relay process did not start: {exc}") from None

    def _read(self) -> None:
        assert self._proc.stdout is not None
        for line in self._proc.stdout:
            if line.strip() == READY:
                self._resolve(0, {})
                continue
            try:
                message = json.loads(line)
            except ValueError:
                continue
            self._resolve(int(message.pop("id", -1)), message)
        self.dead = True
        tail = "".join(self._stderr[-5:]).strip()
        with self._lock:
            pending, self._pending = self._pending, {}
        for future in pending.values():
            future.set_exception(RelayError(f"the network relay process exited{': ' + tail if tail else ''}"))

    def _drain_stderr(self) -> None:
        assert self._proc.stderr is not None
        for line in self._proc.stderr:
            self._stderr.append(line)
            del self._stderr[:-50]

    def _resolve(self, request_id: int, message: dict[str, Any]) -> None:
        with self._lock:
            future = self._pending.pop(request_id, None)
        if future is None:
            return
        if "error" in message:
            future.set_exception(RelayError(f"network relay: {message['error']}"))
        else:
            future.set_result(message)

    def submit(self, op: str, **fields: Any) -> concurrent.futures.Future[dict[str, Any]]:
        future: concurrent.futures.Future[dict[str, Any]] = concurrent.futures.Future()
        with self._lock:
            if self.dead:
                future.set_exception(RelayError("the network relay process is not running"))
                return future
            request_id = next(self._ids)
            self._pending[request_id] = future
            assert self._proc.stdin is not None
            try:
                self._proc.stdin.write(json.dumps({"id": request_id, "op": op, **fields}) + "\n")
                self._proc.stdin.flush()
            except (BrokenPipeError, OSError) as exc:
                self._pending.pop(request_id, None)
                future.set_exception(RelayError(f"the network relay process is gone: {exc}"))
        return future

    async def request(self, op: str, **fields: Any) -> dict[str, Any]:
        return await asyncio.wait_for(asyncio.wrap_future(self.submit(op, **fields)), REQUEST_TIMEOUT_S)

    def close(self) -> None:
        with contextlib.suppress(Exception):
            assert self._proc.stdin is not None
            self._proc.stdin.close()
        try:
            self._proc.wait(5.0)
        except subprocess.TimeoutExpired:
            self._proc.kill()


_process: RelayProcess | None = None
_process_lock = threading.Lock()


def relay_process() -> RelayProcess:
    """This process's relay process, started (or restarted after a death) on demand."""
    global _process
    with _process_lock:
        if _process is None or _process.dead or _process.owner_pid != os.getpid():  # a forked child needs its own
            _process = RelayProcess()
            atexit.register(_process.close)
        return _process


class RemoteRelay:
    """One call's relay, living in the relay process."""

    def __init__(self, process: RelayProcess, relay_id: int) -> None:
        self.process = process
        self.relay_id = relay_id

    @classmethod
    async def open(cls, profile: NetworkProfile, seed_key: str, *, local_endpoint: bool) -> RemoteRelay:
        process = await asyncio.to_thread(relay_process)
        reply = await process.request("open", profile=to_json_obj(profile), seed_key=seed_key, local=local_endpoint)
        return cls(process, int(reply["relay"]))

    async def _addresses(self, op: str, addresses: list[tuple[str, int]]) -> dict[tuple[str, int], tuple[str, int]]:
        reply = await self.process.request(op, relay=self.relay_id, addresses=[list(a) for a in addresses])
        return {a: (str(b[0]), int(b[1])) for a, b in zip(addresses, reply["addresses"], strict=True)}

    async def stand_in_for_callers(self, addresses: list[tuple[str, int]]) -> dict[tuple[str, int], tuple[str, int]]:
        return await self._addresses("callers", addresses)

    async def stand_in_for_endpoints(self, addresses: list[tuple[str, int]]) -> dict[tuple[str, int], tuple[str, int]]:
        return await self._addresses("endpoints", addresses)

    async def set_clock_rates(self, rates: dict[int, int]) -> None:
        await self.process.request("rates", relay=self.relay_id, rates={str(k): v for k, v in rates.items()})

    async def hang_up(self) -> None:
        await self.process.request("hang_up", relay=self.relay_id)

    async def close_later(self) -> None:
        await self.process.request("close_later", relay=self.relay_id)

    async def applied(self) -> NetworkApplied:
        """The figures so far, times as absolute CLOCK_MONOTONIC ns (origin 0)."""
        reply = await self.process.request("applied", relay=self.relay_id, origin=0)
        return from_json_obj(NetworkApplied, reply["applied"])


if __name__ == "__main__":
    asyncio.run(_serve())

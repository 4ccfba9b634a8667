"""The UDP relay that puts an emulated network between a caller and an endpoint.

For each transport address of the caller the relay opens a port that stands in for it
towards the endpoint, and for each address of the endpoint a port that stands in for
it towards the caller (the candidate rewriting in ``harness.endpoints.impaired`` tells
each side only about these). A datagram from the caller to the port standing for
endpoint address E leaves from the port standing for that caller address, to E; the
endpoint sees one consistent peer, the caller too, so ICE connectivity checks, STUN,
DTLS, RTP and RTCP all pass through, each direction impaired by its own ``LinkModel``.

Sockets are read in the event loop with ``recvmsg`` and the kernel's receive stamp
(``SO_TIMESTAMPNS``), so a packet's delay counts from when it reached the host, not from
when Python got to it; releases are ``call_at`` timers on the same monotonic clock, and
the time each copy really left is stamped (``harness.network.stamps``).
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import itertools
import logging
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum

from harness.network.link import Decision, LinkModel
from harness.network.stamps import SEND_FAILED, LinkLog, MediaStamp, rtp_header
from harness.records import NetworkApplied, NetworkProfile
from harness.webrtc.arrivals import ANCILLARY_SPACE, enable_kernel_timestamps, kernel_arrival_ns

log = logging.getLogger(__name__)

Address = tuple[str, int]
LOOPBACK = "127.0.0.1"
MAX_DATAGRAM = 65535
RECEIVE_BUFFER = 1 << 20
"""Socket receive buffer asked for (the kernel caps it at net.core.rmem_max): room for
the packets that arrive while the event loop is busy elsewhere."""
EARLY_WAKE_NS = 500_000
"""Packets are released up to this much before their time: the event loop's epoll
timeout has millisecond steps and wakes up to 1 ms late, so this centres the error."""
LINGER_S = 3.0
"""After hang-up, how long the relay keeps forwarding control packets (a DTLS
close_notify, an RTCP BYE) before it closes its ports."""
DRAIN_LIMIT_S = 3.0
"""At hang-up, the longest the relay waits for media it holds to be released."""


class Side(StrEnum):
    CALLER = "caller"
    """A port the caller sends to: it stands for an endpoint address (uplink enters here)."""
    ENDPOINT = "endpoint"
    """A port the endpoint sends to: it stands for a caller address (downlink enters here)."""


@dataclass(slots=True)
class _Port:
    side: Side
    stands_for: Address
    sock: socket.socket

    @property
    def address(self) -> Address:
        host, port = self.sock.getsockname()[:2]
        return str(host), int(port)


@dataclass(order=True, slots=True)
class _Pending:
    release_ns: int
    order: int
    """Arrival order: packets due at the same time leave in the order they came."""
    out: _Port = field(compare=False)
    data: bytes = field(compare=False)
    destination: Address = field(compare=False)
    stamp: MediaStamp | None = field(compare=False)
    copy: int = field(compare=False)


class _ReleaseQueue:
    """One direction's held packets, released in (release time, arrival) order by one timer.

    A timer per packet would let a packet due now overtake one whose timer has not fired
    yet, reordering a link that must keep its order; here the earliest is always first.
    """

    def __init__(self, loop: asyncio.AbstractEventLoop, send: Callable[[_Pending], None]) -> None:
        self._loop = loop
        self._offset_s = loop.time() - time.monotonic()
        self._send = send
        self._heap: list[_Pending] = []
        self._timer: asyncio.TimerHandle | None = None

    def push(self, pending: _Pending) -> None:
        heapq.heappush(self._heap, pending)
        if self._heap[0] is pending:
            self._release_due()

    def _release_due(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        due = time.monotonic_ns() + EARLY_WAKE_NS
        while self._heap and self._heap[0].release_ns <= due:
            self._send(heapq.heappop(self._heap))
        if self._heap:
            when = self._heap[0].release_ns / 1e9 + self._offset_s - EARLY_WAKE_NS / 1e9
            self._timer = self._loop.call_at(when, self._release_due)

    def cancel(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
        self._heap.clear()


class RelayError(Exception):
    """The relay could not open a port (the message says which address)."""


class Relay:
    """One call's relay; all its ports live in the event loop that created it.

    Ports the caller sends to are bound on 127.0.0.1 (the caller shares this host, and
    any of its sockets can reach loopback). Ports the endpoint sends to are bound on
    127.0.0.1 too when the endpoint is on this host (``local_endpoint``), so a local
    call never leaves loopback; for a remote endpoint they are bound on all interfaces
    and announced at the address of the caller candidate they stand for.
    """

    def __init__(self, profile: NetworkProfile, seed_key: str, *, local_endpoint: bool = True,
                 clock_rates: dict[int, int] | None = None) -> None:
        self.profile = profile
        material = f"{profile.seed}:{seed_key}"
        self.up = LinkModel(profile.up, f"{material}:up")
        self.down = LinkModel(profile.down, f"{material}:down")
        self.up_log = LinkLog(clock_rates)
        self.down_log = LinkLog(clock_rates)
        self._loop = asyncio.get_running_loop()
        self._order = itertools.count()
        self._up_queue = _ReleaseQueue(self._loop, self._send)
        self._down_queue = _ReleaseQueue(self._loop, self._send)
        self._for_caller: dict[Address, _Port] = {}
        self._for_endpoint: dict[Address, _Port] = {}
        self._endpoint_facing_ip = LOOPBACK if local_endpoint else "0.0.0.0"
        self._kernel_stamps = True
        self._media_open = True
        self.closed = False

    # ------------------------------------------------------------------ ports

    def stand_in_for_caller(self, caller: Address) -> Address:
        """The address the endpoint is told to reach ``caller`` at (a relay port)."""
        port = self._port(self._for_endpoint, Side.ENDPOINT, caller, self._endpoint_facing_ip)
        host, number = port.address
        return (caller[0] if host == "0.0.0.0" else host), number

    def stand_in_for_endpoint(self, endpoint: Address) -> Address:
        """The address the caller is told to reach ``endpoint`` at (a relay port on loopback)."""
        return self._port(self._for_caller, Side.CALLER, endpoint, LOOPBACK).address

    def set_clock_rates(self, rates: dict[int, int]) -> None:
        self.up_log.clock_rates.update(rates)
        self.down_log.clock_rates.update(rates)

    def _port(self, table: dict[Address, _Port], side: Side, stands_for: Address, bind_ip: str) -> _Port:
        existing = table.get(stands_for)
        if existing is not None:
            return existing
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            sock.setblocking(False)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, RECEIVE_BUFFER)
            sock.bind((bind_ip, 0))
        except OSError as exc:
            sock.close()
            raise RelayError(f"cannot open a relay port on {bind_ip}: {exc}") from exc
        self._kernel_stamps = enable_kernel_timestamps(sock) and self._kernel_stamps
        port = _Port(side=side, stands_for=stands_for, sock=sock)
        table[stands_for] = port
        self._loop.add_reader(sock.fileno(), self._readable, port)
        return port

    # ---------------------------------------------------------------- packets

    def _readable(self, port: _Port) -> None:
        while not self.closed:
            try:
                data, ancdata, _flags, source = port.sock.recvmsg(MAX_DATAGRAM, ANCILLARY_SPACE)
            except (BlockingIOError, InterruptedError):
                return
            except OSError as exc:  # e.g. ICMP port unreachable from a peer that left
                log.debug("relay read on %s: %s", port.address, exc)
                continue
            arrival = kernel_arrival_ns(ancdata)
            if arrival is None:
                self._kernel_stamps = False
                arrival = time.monotonic_ns()
            self._ingress(port, data, (str(source[0]), int(source[1])), arrival)

    def _ingress(self, port: _Port, data: bytes, source: Address, arrival_ns: int) -> None:
        if port.side is Side.CALLER:
            model, link_log = self.up, self.up_log
            out = self._port(self._for_endpoint, Side.ENDPOINT, source, self._endpoint_facing_ip)
        else:
            model, link_log = self.down, self.down_log
            out = self._port(self._for_caller, Side.CALLER, source, LOOPBACK)
        header = rtp_header(data)
        if header is not None and not self._media_open:
            return  # after hang-up: the call's media is over, and both ends stop where the figures do
        decision = model.decide(arrival_ns, len(data), media=header is not None)
        stamp = None
        if header is not None:
            payload_type, seq, timestamp, ssrc = header
            stamp = MediaStamp(ssrc=ssrc, seq=link_log.extend_seq(ssrc, seq), timestamp=timestamp,
                               payload_type=payload_type, arrival_ns=arrival_ns, decision=decision,
                               sent_ns=[None] * len(decision.releases))
            link_log.media.append(stamp)
        elif self._media_open:
            link_log.other_packets += 1
            link_log.other_lost += not decision.releases
        self._schedule(decision, out, data, port.stands_for, stamp)

    def _schedule(self, decision: Decision, out: _Port, data: bytes, destination: Address,
                  stamp: MediaStamp | None) -> None:
        queue = self._up_queue if out.side is Side.ENDPOINT else self._down_queue
        for copy, release in enumerate(decision.releases):
            queue.push(_Pending(release, next(self._order), out, data, destination, stamp, copy))

    def _send(self, pending: _Pending) -> None:
        if self.closed:
            return
        sent = time.monotonic_ns()
        try:
            pending.out.sock.sendto(pending.data, pending.destination)
        except OSError as exc:  # a full socket buffer or a vanished peer: the packet is lost
            log.debug("relay send to %s: %s", pending.destination, exc)
            sent = SEND_FAILED
        if pending.stamp is not None:
            pending.stamp.sent_ns[pending.copy] = sent

    # ------------------------------------------------------------- lifecycle

    @property
    def kernel_stamps(self) -> bool:
        """Whether every arrival so far carried the kernel's receive time."""
        return self._kernel_stamps

    def applied(self, origin_ns: int) -> NetworkApplied:
        """What the relay did so far, on the call clock of ``origin_ns``."""
        return NetworkApplied(profile=self.profile, up=self.up_log.summarize(origin_ns),
                              down=self.down_log.summarize(origin_ns))

    async def hang_up(self, limit_s: float = DRAIN_LIMIT_S) -> None:
        """End the call's media: new RTP is no longer forwarded (control packets still
        are), and what the relay holds is released before this returns (at most
        ``limit_s``), so the figures cover exactly the packets either end received."""
        self._media_open = False
        pending = [r for log_ in (self.up_log, self.down_log) for s in log_.media if not s.settled
                   for r in s.decision.releases]
        if pending:
            wait_s = (max(pending) - time.monotonic_ns()) / 1e9 + 0.005
            await asyncio.sleep(min(max(wait_s, 0.0), limit_s))

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        self._up_queue.cancel()
        self._down_queue.cancel()
        for port in (*self._for_caller.values(), *self._for_endpoint.values()):
            with contextlib.suppress(Exception):
                self._loop.remove_reader(port.sock.fileno())
            port.sock.close()

    def close_later(self, seconds: float = LINGER_S) -> None:
        """Keep forwarding for ``seconds``, then close; a loop that ends first closes it too."""
        task = self._loop.create_task(self._linger(seconds))
        _LINGERING.add(task)
        task.add_done_callback(_LINGERING.discard)

    async def _linger(self, seconds: float) -> None:
        try:
            await asyncio.sleep(seconds)
        finally:
            self.close()


_LINGERING: set[asyncio.Task[None]] = set()
"""Relays waiting to close after their call: held here so the tasks are not collected."""

"""Any endpoint adapter with the harness's emulated network in front of it.

``ImpairedEndpoint`` wraps a dialect adapter and puts a ``harness.network.relay.Relay``
on the media path through the one thing every dialect shares, the SDP exchange: the
offer handed to the endpoint names relay ports instead of the caller's candidates, and
the answer handed back to the caller names relay ports instead of the endpoint's. The
dialect's own signalling, data channel and events are untouched, so it works for every
dialect, for a local or a remote endpoint, and for both callers (both open endpoints
through ``harness.endpoints.registry.open_endpoint``). The relay runs in a process of its
own (``harness.network.relay_process``), so a busy caller does not delay its packets.

The caller is the user's device: the uplink is caller -> endpoint, the downlink the
way back, and latencies the callers measure include both (docs/network.md).
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
from collections.abc import Iterator

from harness.endpoints.base import EndpointError, WebRTCEndpoint
from harness.network.relay import RelayError
from harness.network.relay_process import RemoteRelay
from harness.network.sdp import clock_rates, relayable, rewrite
from harness.records import EndpointEvent, FailureKind, LinkApplied, NetworkApplied, NetworkProfile
from harness.webrtc.ice import is_loopback_url

log = logging.getLogger(__name__)


class ImpairedEndpoint(WebRTCEndpoint):
    """``inner`` reached through a relay that applies ``profile`` (seeded by ``seed_key``)."""

    def __init__(self, inner: WebRTCEndpoint, profile: NetworkProfile, seed_key: str) -> None:
        super().__init__(inner.spec, timeout_s=inner.timeout_s)
        self.inner = inner
        self.info = inner.info  # the same dict: the dialect's facts reach the recording as before
        self.datachannel_label = inner.datachannel_label
        self.profile = profile
        self.seed_key = seed_key
        self.relay: RemoteRelay | None = None
        self._applied: NetworkApplied | None = None

    async def exchange(self, offer_sdp: str) -> str:
        callers = relayable(offer_sdp, host_only=True)
        if not callers:
            raise EndpointError(FailureKind.CALLER_ERROR,
                                "network emulation: the offer has no IPv4 UDP host candidate or address for "
                                "the relay to stand in for")
        with _relay_errors():
            relay = self.relay = await RemoteRelay.open(self.profile, self.seed_key,
                                                        local_endpoint=is_loopback_url(self.spec.url))
            offer = rewrite(offer_sdp, await relay.stand_in_for_callers(callers))
        answer = await self.inner.exchange(offer)
        endpoints = relayable(answer, host_only=False)
        if not endpoints:
            raise EndpointError(FailureKind.SIGNALLING_ERROR,
                                "network emulation: the answer has no IPv4 UDP candidate or address "
                                "the relay can send to")
        with _relay_errors():
            mapping = await relay.stand_in_for_endpoints(endpoints)
            await relay.set_clock_rates(clock_rates(offer_sdp, answer))
        return rewrite(answer, mapping)

    def opening_messages(self) -> list[str]:
        return self.inner.opening_messages()

    def map_message(self, message: str | bytes, t_ns: int) -> list[EndpointEvent]:
        return self.inner.map_message(message, t_ns)

    async def close(self) -> None:
        """Hang up with the endpoint; the call's media ends at the relay (what it holds is
        released first, so the figures match what each end got), its figures are taken,
        and its ports linger briefly for the control packets of the hang-up."""
        try:
            await self.inner.close()
        finally:
            relay = self.relay
            if relay is not None and self._applied is None:
                try:
                    await relay.hang_up()
                    self._applied = await relay.applied()
                    await relay.close_later()
                except (RelayError, TimeoutError) as exc:
                    log.warning("network relay of %s: %s", self.seed_key, exc)

    def applied(self, origin_ns: int) -> NetworkApplied | None:
        """What the network did to this call, on the call clock of ``origin_ns``
        (``None`` if the relay never started or its figures were lost)."""
        applied = self._applied
        if applied is None:
            return None
        return dataclasses.replace(applied, up=_shifted(applied.up, origin_ns), down=_shifted(applied.down, origin_ns))


def _shifted(link: LinkApplied, origin_ns: int) -> LinkApplied:
    trace = tuple((seq, arrival - origin_ns, None if release is None else release - origin_ns)
                  for seq, arrival, release in link.trace)
    return dataclasses.replace(link, trace=trace)


def network_applied(endpoint: WebRTCEndpoint, origin_ns: int) -> NetworkApplied | None:
    """The applied impairment of a call's endpoint, ``None`` when it ran without one."""
    return endpoint.applied(origin_ns) if isinstance(endpoint, ImpairedEndpoint) else None


def with_network(endpoint: WebRTCEndpoint, profile: NetworkProfile | None, seed_key: str) -> WebRTCEndpoint:
    """``endpoint`` behind the emulated network, or unchanged when there is no profile."""
    return endpoint if profile is None else ImpairedEndpoint(endpoint, profile, seed_key)


@contextlib.contextmanager
def _relay_errors() -> Iterator[None]:
    """A relay that cannot start or answer is the caller's side failing, said as such."""
    try:
        yield
    except (RelayError, TimeoutError) as exc:
        raise EndpointError(FailureKind.CALLER_ERROR, f"network emulation: {exc}") from None

"""Any endpoint adapter with the harness's emulated network in front of it.

``ImpairedEndpoint`` wraps a dialect adapter and puts a ``harness.network.relay.Relay``
on the media path through the one thing every dialect shares, the SDP exchange: the
offer handed to the endpoint names relay ports instead of the caller's candidates, and
the answer handed back to the caller names relay ports instead of the endpoint's. The
dialect's own signalling, data channel and events are untouched, so it works for every
dialect, for a local or a remote endpoint, and for both callers (both open endpoints
through ``harness.endpoints.registry.open_endpoint``).

The caller is the user's device: the uplink is caller -> endpoint, the downlink the
way back, and latencies the callers measure include both (docs/network.md).
"""

from __future__ import annotations

from harness.endpoints.base import EndpointError, WebRTCEndpoint
from harness.network.relay import Relay, RelayError
from harness.network.sdp import clock_rates, relayable, rewrite
from harness.records import EndpointEvent, FailureKind, NetworkApplied, NetworkProfile
from harness.webrtc.ice import is_loopback_url


class ImpairedEndpoint(WebRTCEndpoint):
    """``inner`` reached through a relay that applies ``profile`` (seeded by ``seed_key``)."""

    def __init__(self, inner: WebRTCEndpoint, profile: NetworkProfile, seed_key: str) -> None:
        super().__init__(inner.spec, timeout_s=inner.timeout_s)
        self.inner = inner
        self.info = inner.info  # the same dict: the dialect's facts reach the recording as before
        self.datachannel_label = inner.datachannel_label
        self.profile = profile
        self.seed_key = seed_key
        self.relay: Relay | None = None

    async def exchange(self, offer_sdp: str) -> str:
        relay = self.relay = Relay(self.profile, self.seed_key, local_endpoint=is_loopback_url(self.spec.url))
        callers = relayable(offer_sdp, host_only=True)
        if not callers:
            raise EndpointError(FailureKind.CALLER_ERROR,
                                "network emulation: the offer has no IPv4 UDP host candidate for the relay "
                                "to stand in for")
        try:
            offer = rewrite(offer_sdp, {a: relay.stand_in_for_caller(a) for a in callers})
        except RelayError as exc:
            raise EndpointError(FailureKind.CALLER_ERROR, f"network emulation: {exc}") from None
        answer = await self.inner.exchange(offer)
        endpoints = relayable(answer, host_only=False)
        if not endpoints:
            raise EndpointError(FailureKind.SIGNALLING_ERROR,
                                "network emulation: the answer has no IPv4 UDP candidate or address "
                                "the relay can send to")
        try:
            rewritten = rewrite(answer, {a: relay.stand_in_for_endpoint(a) for a in endpoints})
        except RelayError as exc:
            raise EndpointError(FailureKind.CALLER_ERROR, f"network emulation: {exc}") from None
        relay.set_clock_rates(clock_rates(offer_sdp, answer))
        return rewritten

    def opening_messages(self) -> list[str]:
        return self.inner.opening_messages()

    def map_message(self, message: str | bytes, t_ns: int) -> list[EndpointEvent]:
        return self.inner.map_message(message, t_ns)

    async def close(self) -> None:
        """Hang up with the endpoint; the call's media ends at the relay (what it holds is
        released first, so the figures match what each end got); its ports linger briefly
        for the control packets of the hang-up."""
        try:
            await self.inner.close()
        finally:
            if self.relay is not None:
                await self.relay.hang_up()
                self.relay.close_later()

    def applied(self, origin_ns: int) -> NetworkApplied | None:
        """What the network did to this call (``None`` if the relay never started)."""
        return None if self.relay is None else self.relay.applied(origin_ns)


def network_applied(endpoint: WebRTCEndpoint, origin_ns: int) -> NetworkApplied | None:
    """The applied impairment of a call's endpoint, ``None`` when it ran without one."""
    return endpoint.applied(origin_ns) if isinstance(endpoint, ImpairedEndpoint) else None


def with_network(endpoint: WebRTCEndpoint, profile: NetworkProfile | None, seed_key: str) -> WebRTCEndpoint:
    """``endpoint`` behind the emulated network, or unchanged when there is no profile."""
    return endpoint if profile is None else ImpairedEndpoint(endpoint, profile, seed_key)
